using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules.Folds;

/// <summary>
/// <c>onnxconv optimize</c> end to end on every real model in ../shared/models and the sample ResNet bottleneck: exit 0,
/// its own verification equivalent, the written model accepted by the checker, and the folds the issue asks for.
/// </summary>
public sealed class OptimizeRealModelTests(ITestOutputHelper output)
{
    /// <summary>Verify's input options that run each model (see ../shared/models/README.md).</summary>
    private static string[] InputOptions(string name) => name switch
    {
        "ch_PP-OCRv4_det_infer.onnx" => ["--shape", "x=1,3,96,64"],
        "ch_ppocr_mobile_v2.0_cls_infer.onnx" => ["--shape", "x=2,3,48,192"],
        "silero_vad_v5.onnx" => ["--value", "sr=16000", "--shape", "input=1,512", "--shape", "state=2,1,128"],
        _ => [],
    };

    private Dictionary<string, int> Optimize(string input, string name)
    {
        using var temp = new TempDirectory();
        string written = temp.File("optimized.onnx");
        var run = CliInvocation.Run(["optimize", input, "-o", written, .. InputOptions(name)]);
        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("verification: equivalent", run.Stdout);
        PythonOracle.AssertValid(written);
        var before = RewriteHarness.OpCounts(ModelReader.Load(input));
        var after = RewriteHarness.OpCounts(ModelReader.Load(written));
        foreach (var op in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
            if (before.GetValueOrDefault(op) != after.GetValueOrDefault(op))
                output.WriteLine($"{op}: {before.GetValueOrDefault(op)} -> {after.GetValueOrDefault(op)}");
        return after;
    }

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void OptimizesEveryRealModelIntoAVerifiedValidModel(string name)
    {
        RealModelFoldTests.AssertFoldTargets(name, Optimize(Shared.RealModel(name), name));
    }

    [SkippableFact]
    public void OptimizesTheSampleResNetBottleneckWithoutBatchNormalization() =>
        Assert.Equal(0, Optimize(SampleModels.Get("resnet_bottleneck.onnx").CommittedPath, "resnet_bottleneck.onnx").GetValueOrDefault("BatchNormalization"));

    /// <summary>
    /// An IR 3 model lists its initializers as graph inputs, so a caller could override them: optimize leaves its
    /// BatchNormalization alone unless --fold-overridable-initializers promises it will not.
    /// </summary>
    [SkippableFact]
    public void FoldsOverridableInitializersOnlyWhenAskedFor()
    {
        var b = new TestModelBuilder(8, seed: 101);
        b.Input("x", FoldHarness.InputDims(4, 2));
        b.Node("Relu", [b.BatchNormalization(FoldHarness.Conv(b, "x", 4, 6, 2), 6, "bn")], ["y"]);
        FoldHarness.Output(b, "y", 4);
        b.ListInitializersAsInputs();
        using var temp = new TempDirectory();
        string input = b.Save(temp.File("ir3.onnx"));

        string kept = temp.File("kept.onnx");
        var plain = CliInvocation.Run("optimize", input, "-o", kept, "--explain");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("is also a graph input, so a caller may override it", plain.Stdout);
        Assert.Equal(1, FoldHarness.Count(ModelReader.Load(kept), "BatchNormalization"));

        string folded = temp.File("folded.onnx");
        var asked = CliInvocation.Run("optimize", input, "-o", folded, "--fold-overridable-initializers");
        Assert.True(asked.ExitCode == 0, asked.ToString());
        Assert.Contains("verification: equivalent", asked.Stdout);
        var model = ModelReader.Load(folded);
        Assert.Equal(0, FoldHarness.Count(model, "BatchNormalization"));
        // The interface stays: every input keeps its name and, where it had one, its default (initializer).
        Assert.Equal(ModelReader.Load(input).Graph.Inputs.Select(i => (i.Name, i.IsInitializer)), model.Graph.Inputs.Select(i => (i.Name, i.IsInitializer)));
    }
}
