using System.Diagnostics;
using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Tests.Rewriting;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules;

/// <summary>conv1x1-to-matmul on every real model in ../shared/models: no 1x1 Conv left, checker and ORT agree.</summary>
public sealed class RealModelRewriteTests(ITestOutputHelper output)
{
    /// <summary>Inputs that run each model (see ../shared/models/README.md).</summary>
    internal static OrtCompareOptions InputsFor(string name) => name switch
    {
        "ch_PP-OCRv4_det_infer.onnx" => new() { Trials = 1, InputShapes = new() { ["x"] = [1, 3, 96, 64] } },
        "ch_ppocr_mobile_v2.0_cls_infer.onnx" => new() { Trials = 1, InputShapes = new() { ["x"] = [2, 3, 48, 192] } },
        "mlsd_320x320_tiny.onnx" => new() { Trials = 1 },
        "face_detection_front_128x128_barracuda.onnx" => new() { Trials = 1 },
        "silero_vad_v5.onnx" => new() { Trials = 2, ConstantInputs = new() { ["sr"] = 16000 }, InputShapes = new() { ["input"] = [1, 512], ["state"] = [2, 1, 128] } },
        _ => new(),
    };

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void RewritesEveryPointwiseConvToAnEquivalentModel(string name)
    {
        string path = Shared.RealModel(name);
        var before = ModelReader.Load(path);
        var after = ModelReader.Load(path);
        int pointwise = RewriteHarness.PointwiseConvCount(before);
        var clock = Stopwatch.StartNew();
        var result = RewriteDriver.Run(after, [new Conv1x1ToMatMul()]);
        clock.Stop();
        foreach (var o in result.Outcomes.Where(o => o.Status != CandidateStatus.Applied))
            output.WriteLine($"{o.GraphPath} {o.NodeName}: {o.Detail}");
        output.WriteLine($"{name}: {result.AppliedCount} of {pointwise} pointwise Convs rewritten in {clock.ElapsedMilliseconds} ms");

        Assert.True(pointwise > 0);
        Assert.Equal(0, RewriteHarness.PointwiseConvCount(after));
        Assert.Equal(pointwise, result.AppliedCount);
        Assert.Empty(GraphValidator.Validate(after));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"rewrite took {clock.Elapsed}");
        Assert.Equal(before.OnnxOpset, after.OnnxOpset);
        OnnxChecker.AssertValid(after);
        OrtComparison.AssertEquivalent(before, after, InputsFor(name) with { Rtol = 1e-3, Atol = 1e-4 });
    }
}
