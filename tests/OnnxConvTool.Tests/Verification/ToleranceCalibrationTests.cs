using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Verification;

/// <summary>
/// The tolerance criterion against real rounding and real bugs: on every shared model, every <c>--to</c>
/// rewrite needs a scale floor below <see cref="TensorComparer.ScaleFloor"/> (no false alarm) and a 1e-3
/// relative change of one weight needs one above it (still caught). The figures are printed for the README.
/// </summary>
public sealed class ToleranceCalibrationTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> OptimizeRuns()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in SharedData.RealModelNames)
            foreach (string to in new[] { "", "matmul", "gemm" })
                data.Add(name, to);
        return data;
    }

    /// <summary>optimize folds BatchNormalization and constants into weights, which reassociates more than a rewrite: no false alarm either.</summary>
    [SkippableTheory]
    [MemberData(nameof(OptimizeRuns))]
    public void OptimizeRaisesNoFalseAlarm(string name, string to)
    {
        string path = Shared.RealModel(name);
        using var temp = new TempDirectory();
        string[] args = ["optimize", path, "-o", temp.File(name), .. to.Length > 0 ? new[] { "--to", to } : [], .. RealModelTests.InputOptions(name)];
        if (name == "silero_vad_v5.onnx") args = [.. args, "--allow-unexecuted"];
        var result = Cli.CliInvocation.Run(args);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    internal static VerifyOptions OptionsFor(string name) => name switch
    {
        "silero_vad_v5.onnx" => new VerifyOptions
        {
            Values = new Dictionary<string, double> { ["sr"] = 16000 },
            Shapes = ShapeOverrides.Parse(["input=N,512", "state=2,N,128"]),
        },
        _ => new VerifyOptions(),
    };

    /// <summary>The largest scale floor any compared tensor needed to pass (outputs and saturating activations' inputs).</summary>
    private static double NeededFloor(VerificationReport report) =>
        report.Trials.SelectMany(t => t.Outputs.Concat(t.PreActivations)).Select(c => c.NeededScaleFloor).DefaultIfEmpty(0).Max();

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void RewritesPassAndPerturbationsFailWithAMargin(string name)
    {
        string path = Shared.RealModel(name);
        var options = OptionsFor(name);
        foreach (var target in Enum.GetValues<RewriteTarget>())
        {
            var reference = ModelReader.Load(path);
            var candidate = ModelReader.Load(path);
            var result = RewriteDriver.Run(candidate, RuleCatalog.ForTarget(target));
            if (!result.Modified) continue;
            var report = EquivalenceChecker.Verify(reference, candidate, options with { NameMap = result.ValueNameMap });
            double needed = NeededFloor(report);
            output.WriteLine($"{name} --to {target}: needed scale floor {needed:G3}, max abs error {report.Trials.SelectMany(t => t.Outputs).Max(o => o.MaxAbsError):G3}");
            Assert.True(report.Equivalent, report.RenderText());
        }
        foreach (string which in new[] { "first Conv", "first 1x1 Conv" })
        {
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            bool oneByOne = which.Contains("1x1");
            var weight = WeightPerturbation.Find(proto.Graph, (node, index, w) => node.OpType == "Conv" && index == 1 && (!oneByOne || w.Dims.Skip(2).All(d => d == 1)))!;
            WeightPerturbation.PerturbInPlace(weight, 1e-3);
            using var temp = new TempDirectory();
            string perturbed = temp.File(name);
            File.WriteAllBytes(perturbed, proto.ToByteArray());
            var report = EquivalenceChecker.Verify(ModelReader.Load(path), ModelReader.Load(perturbed), options with { Trials = 1 });
            output.WriteLine($"{name} {which} ×(1±1e-3): needed scale floor {NeededFloor(report):G3}");
            Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        }
    }
}

/// <summary>
/// A classifier head as wide as PP-OCR's recogniser (6,625 classes) feeding a Softmax, logits of magnitude ~10:
/// Gemm and 1x1 Conv add the 960 products in different orders, and logits near zero carry a rounding error
/// above atol 1e-5 that rtol·|a| alone would call a difference.
/// </summary>
public sealed class WideHeadToleranceTests(ITestOutputHelper output)
{
    private static TestModelBuilder WideHead(int channels = 960)
    {
        var builder = new TestModelBuilder(opset: 13, seed: 5);
        string x = builder.Input("x", 1, channels, 1, 1);
        // Uniform weights scaled so that each logit has a standard deviation of ~10 on inputs uniform in [-1, 1).
        var weight = builder.RandomTensor("head.weight", [6625, channels, 1, 1], scale: 30 / Math.Sqrt(channels));
        string logits = builder.Node("Conv", [x, builder.Initializer(weight), builder.RandomInitializer("head.bias", [6625], scale: 5)], Attr.Ints("kernel_shape", 1, 1));
        string probabilities = builder.Node("Softmax", [logits], Attr.Int("axis", 1));
        builder.Output(probabilities, Onnx.TensorProto.Types.DataType.Float, 1, 6625, 1, 1);
        return builder;
    }

    [Theory]
    [InlineData(RewriteTarget.Gemm)]
    [InlineData(RewriteTarget.MatMul)]
    public void ARewriteOfAWideHeadIsEquivalentAndAPerturbedWeightIsNot(RewriteTarget target)
    {
        var builder = WideHead();
        var reference = builder.ToIr();
        var candidate = builder.ToIr();
        var result = RewriteDriver.Run(candidate, RuleCatalog.ForTarget(target));
        Assert.True(result.Modified);
        var report = EquivalenceChecker.Verify(reference, candidate, new VerifyOptions { NameMap = result.ValueNameMap });
        Assert.True(report.Equivalent, report.RenderText());
        var logits = report.Trials.SelectMany(t => t.PreActivations).ToList();
        Assert.NotEmpty(logits);
        foreach (var c in logits)
            output.WriteLine($"--to {target}: logits rms {c.Scale:G3}, max abs error {c.MaxAbsError:G3}, scale floor needed {c.NeededScaleFloor:G3} (criterion {TensorComparer.ScaleFloor})");

        var perturbed = WideHead().Perturb("head.weight", 1e-3).ToIr();
        var caught = EquivalenceChecker.Verify(reference, perturbed, new VerifyOptions());
        Assert.Equal(ExitCode.VerificationFoundDifference, caught.ExitCode);
    }

    [Fact]
    public void RoundingAtTheOldBoundaryIsWhatTheScaleFloorForgives()
    {
        // Gemm on a 1×1 map adds in another order than Conv: at least one trial has a logit whose error
        // rtol·|a| + atol would not cover (a scale floor above 0 was needed), and the floor covers it.
        var builder = WideHead();
        var candidate = builder.ToIr();
        RewriteDriver.Run(candidate, RuleCatalog.ForTarget(RewriteTarget.Gemm));
        var report = EquivalenceChecker.Verify(builder.ToIr(), candidate, new VerifyOptions { Trials = 3 });
        var needed = report.Trials.SelectMany(t => t.PreActivations).Max(c => c.NeededScaleFloor);
        Assert.InRange(needed, 1e-6, TensorComparer.ScaleFloor / 10);
    }
}
