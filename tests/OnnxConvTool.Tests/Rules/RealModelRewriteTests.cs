using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Shapes;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;
using OnnxConvTool.Tests.Verification;
using OnnxConvTool.Verification;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules;

/// <summary>
/// conv1x1-to-matmul on every real model in ../shared/models: no 1x1 Conv left, the checker accepts the result,
/// verify finds it equivalent at its default tolerances — and finds a difference once one weight of the
/// rewritten model is perturbed by 1e-3 relative.
/// </summary>
public sealed class RealModelRewriteTests(ITestOutputHelper output)
{
    /// <summary>Inputs that run each model (see ../shared/models/README.md), two random trials each.</summary>
    internal static VerifyOptions InputsFor(string name) => name switch
    {
        "ch_PP-OCRv4_det_infer.onnx" => new() { Trials = 2, Shapes = Fixed(("x", [1, 3, 96, 64])) },
        "ch_ppocr_mobile_v2.0_cls_infer.onnx" => new() { Trials = 2, Shapes = Fixed(("x", [2, 3, 48, 192])) },
        "silero_vad_v5.onnx" => new()
        {
            Trials = 2,
            Values = new Dictionary<string, double> { ["sr"] = 16000 },
            Shapes = Fixed(("input", [1, 512]), ("state", [2, 1, 128])),
        },
        _ => new() { Trials = 2 },
    };

    private static Dictionary<string, IReadOnlyList<Dim>> Fixed(params (string Input, long[] Dims)[] shapes) =>
        shapes.ToDictionary(s => s.Input, s => (IReadOnlyList<Dim>)s.Dims.Select(Dim.Known).ToArray());

    private static (Model Before, Model After, RewriteResult Result) RewriteToMatMul(string name)
    {
        string path = Shared.RealModel(name);
        var before = ModelReader.Load(path);
        var after = ModelReader.Load(path);
        return (before, after, RewriteDriver.Run(after, [new Conv1x1ToMatMul()]));
    }

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void RewritesEveryPointwiseConvToAnEquivalentModel(string name)
    {
        var (before, after, result) = RewriteToMatMul(name);
        int pointwise = RewriteHarness.PointwiseConvCount(before);
        foreach (var o in result.Outcomes.Where(o => o.Status != CandidateStatus.Applied))
            output.WriteLine($"{o.GraphPath} {o.NodeName}: {o.Detail}");
        output.WriteLine($"{name}: {result.AppliedCount} of {pointwise} pointwise Convs rewritten");

        Assert.True(pointwise > 0);
        Assert.Equal(0, RewriteHarness.PointwiseConvCount(after));
        Assert.Equal(pointwise, result.AppliedCount);
        Assert.Empty(GraphValidator.Validate(after));
        Assert.Equal(before.OnnxOpset, after.OnnxOpset);
        var report = Equivalence.AssertEquivalent(before, after, InputsFor(name) with { NameMap = result.ValueNameMap });
        output.WriteLine(report.RenderText());
        PythonOracle.AssertValid(after);
    }

    /// <summary>The issue's check that verify is not vacuous: the rewritten model with one MatMul weight changed by 1e-3 relative is different.</summary>
    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void ARewrittenModelWithOneMatMulWeightPerturbedIsDifferent(string name)
    {
        var (before, after, result) = RewriteToMatMul(name);
        var proto = ModelProto.Parser.ParseFrom(ModelWriter.ToBytes(after));
        var weight = WeightPerturbation.Find(proto.Graph, (node, _, w) => node.OpType == "MatMul" && w.Dims.Count == 2)
            ?? throw new InvalidOperationException($"the rewritten {name} has no MatMul with a constant weight");
        WeightPerturbation.PerturbInPlace(weight, 1e-3);
        var perturbed = ModelReader.Build(proto, "perturbed.onnx", Path.GetTempPath());

        var report = Equivalence.AssertDifferent(before, perturbed, InputsFor(name) with { Trials = 1, NameMap = result.ValueNameMap });
        output.WriteLine($"perturbed {weight.Name} [{string.Join(",", weight.Dims)}]");
        output.WriteLine(report.RenderText());
    }
}
