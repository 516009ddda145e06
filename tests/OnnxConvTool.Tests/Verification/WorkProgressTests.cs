using System.Collections.Concurrent;
using OnnxConvTool.Analysis;
using OnnxConvTool.Passes;
using OnnxConvTool.Pipeline;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

/// <summary>Each long operation tells its progress hook how far it is: the hooks the CLI draws on a terminal.</summary>
public sealed class WorkProgressTests
{
    /// <summary>Keeps every report, from any thread, in the order they arrived.</summary>
    private sealed class Recorder : IProgress<WorkProgress>
    {
        private readonly ConcurrentQueue<WorkProgress> _reports = new();
        public void Report(WorkProgress value) => _reports.Enqueue(value);
        public List<WorkProgress> Of(string phase) => _reports.Where(r => r.Phase == phase).ToList();
        public List<WorkProgress> All => _reports.ToList();
    }

    [Fact]
    public void AuditReportsEveryWeightRankFromZeroToAll()
    {
        var recorder = new Recorder();
        var report = Conv1x1Audit.Run(SampleModels.SqueezeNetFire().ToIr(), new AuditOptions { Progress = recorder });

        var ranks = recorder.Of("weight ranks");
        Assert.Equal(9, report.Conv1x1.Count);
        Assert.All(ranks, r => Assert.Equal(9, r.Total));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), ranks.Select(r => r.Done).Order());
    }

    [Fact]
    public void AuditWithoutRanksReportsNothing()
    {
        var recorder = new Recorder();
        Conv1x1Audit.Run(SampleModels.SqueezeNetFire().ToIr(), new AuditOptions { Progress = recorder, ComputeWeightRank = false });
        Assert.Empty(recorder.All);
    }

    [Fact]
    public void TransformReportsEachStageAsItStarts()
    {
        var recorder = new Recorder();
        var plan = new TransformPlan([new RuleStage(RuleCatalog.FoldSet, RuleCatalog.CreateFixpointSet(RuleCatalog.FoldSet, null, []), Fixpoint: true),
            new PassStage("clean-up", PassManager.CleanUp())]);

        ModelTransformer.Run(SampleModels.ResNetBottleneck().ToIr(), plan, progress: recorder);

        Assert.Equal([new WorkProgress("fold stage", 0, 2), new WorkProgress("clean-up stage", 1, 2)], recorder.All);
    }

    [Fact]
    public void VerificationReportsEachTrial()
    {
        var recorder = new Recorder();
        var model = SmallModels.ConvNet().Ir("model.onnx");

        var report = EquivalenceChecker.Verify(model, model, new VerifyOptions { Progress = recorder });

        Assert.Equal(report.Trials.Count, recorder.All.Count);
        Assert.Equal(Enumerable.Range(0, report.Trials.Count).Select(i => new WorkProgress("verification trials", i, report.Trials.Count)), recorder.All);
    }

    [Fact]
    public void BenchReportsEachWarmUpAndTimedRound()
    {
        var recorder = new Recorder();
        LatencyBenchmark.Run([SmallModels.ConvNet().Ir("model.onnx")], new BenchOptions
        {
            Runs = 4,
            Warmup = 2,
            Progress = recorder,
            // bench times fixed sizes: ConvNet's height and width are free.
            Inputs = new VerifyOptions { Shapes = new Dictionary<string, IReadOnlyList<OnnxConvTool.Shapes.Dim>> { ["x"] = [OnnxConvTool.Shapes.Dim.Symbolic("N"), OnnxConvTool.Shapes.Dim.Known(3), OnnxConvTool.Shapes.Dim.Known(16), OnnxConvTool.Shapes.Dim.Known(16)] } },
        });

        Assert.Equal([new("warm-up runs", 0, 2), new("warm-up runs", 1, 2), new("timed runs", 0, 4), new("timed runs", 1, 4), new("timed runs", 2, 4), new("timed runs", 3, 4)],
            recorder.All);
    }
}
