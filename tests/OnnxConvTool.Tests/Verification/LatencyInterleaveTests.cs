using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

public sealed class LatencyInterleaveTests
{
    private static BenchOptions Options(int runs) => new()
    {
        Runs = runs,
        Warmup = 1,
        Inputs = new VerifyOptions { Shapes = new Dictionary<string, IReadOnlyList<Dim>> { ["x"] = [Dim.Known(1), Dim.Known(3), Dim.Known(32), Dim.Known(32)] } },
    };

    [Fact]
    public void EverySubjectGetsOneRunPerRoundTimedByItsCallingThread()
    {
        var model = SmallModels.ConvNet().ToIr();
        var subjects = new[] { OptimizationLevel.All, OptimizationLevel.Basic, OptimizationLevel.None }
            .Select(level => new LatencySubject(model, level)).ToList();

        var timings = LatencyBenchmark.Interleave(subjects, Options(runs: 6));

        Assert.Equal(3, timings.Runs.Count);
        Assert.All(timings.Runs, runs => Assert.Equal(6, runs.Count));
        Assert.Equal(3, timings.SessionMs.Count);
        Assert.Contains("x float32[1,3,32,32]", timings.Inputs.Select(i => $"{i.Name} {i.ElementType}[{string.Join(",", i.Shape)}]"));
        if (!OperatingSystem.IsLinux()) return;
        // With one intra-op thread ORT runs on the caller's thread: its CPU time is spent, and never exceeds the wall time.
        Assert.All(timings.Runs.SelectMany(r => r), run =>
        {
            Assert.True(run.ThreadCpuMs > 0, $"thread CPU {run.ThreadCpuMs} ms");
            Assert.True(run.ThreadCpuMs <= run.WallMs + 0.05, $"thread CPU {run.ThreadCpuMs} ms > wall {run.WallMs} ms");
        });
    }

    [Fact]
    public void ModelsThatDoNotShareTheInputsAreRefused()
    {
        var model = SmallModels.ConvNet().ToIr();
        var other = new TestModelBuilder(13, 5);
        other.Input("z", 1L, 3L, 32L, 32L);
        other.Node("Relu", ["z"], ["y"]);
        other.FloatOutput("y", 1L, 3L, 32L, 32L);

        var error = Assert.Throws<RuntimeFailure>(() => LatencyBenchmark.Interleave(
            [new LatencySubject(model, OptimizationLevel.All), new LatencySubject(other.ToIr(), OptimizationLevel.All)], Options(runs: 2)));
        Assert.Contains("has no input 'x'", error.Message);
    }
}
