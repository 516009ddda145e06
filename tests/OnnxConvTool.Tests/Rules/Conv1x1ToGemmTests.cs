using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules;

using DataType = TensorProto.Types.DataType;

public sealed class Conv1x1ToGemmTests
{
    /// <summary>A squeeze-excitation block (global pool, two 1x1 Convs, sigmoid gate) after a full-map 1x1 Conv.</summary>
    private static TestModelBuilder SqueezeExcitation(int opset, bool squeezeBias = true)
    {
        var b = new TestModelBuilder(opset, seed: 5);
        b.Input("x", "N", 8, "H", "W");
        var features = b.Conv("x", 8, 8, [1, 1]);
        var pooled = b.Node("GlobalAveragePool", [features]);
        var squeeze = b.Node("Relu", [b.Conv(pooled, 8, 2, [1, 1], bias: squeezeBias)]);
        var gate = b.Node("Sigmoid", [b.Conv(squeeze, 2, 8, [1, 1])]);
        b.Node("Mul", [features, gate], ["y"]);
        b.Output("y", DataType.Float, "N", 8, "H", "W");
        return b;
    }

    [SkippableTheory]
    [InlineData(9)]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(17)]
    [InlineData(21)]
    public void UsesGemmAfterTheGlobalPoolAndMatMulElsewhere(int opset)
    {
        var (before, after, result) = RewriteHarness.Run(SqueezeExcitation(opset), new Conv1x1ToGemm());
        var counts = RewriteHarness.OpCounts(after);
        Assert.False(counts.ContainsKey("Conv"));
        Assert.Equal(2, counts["Gemm"]);
        Assert.Equal(1, counts["MatMul"]);
        Assert.Equal("MatMul with a [8,8] weight, bias Add (MatMul form: the spatial map of 'x' is [H, W], not known to be 1x1)", result.Outcomes[0].Detail);
        Assert.Equal("Gemm with a [2,8] weight (transB), bias in C", result.Outcomes[1].Detail);
        Assert.Equal(Conv1x1ToGemm.RuleId, result.Outcomes[1].RuleId);
        Equivalence.AssertEquivalent(before, after);
        PythonOracle.AssertValid(after);
    }

    [SkippableFact]
    public void WithoutBiasBeforeOpset11FallsBackToMatMulWithItsReason()
    {
        var (before, after, result) = RewriteHarness.Run(SqueezeExcitation(9, squeezeBias: false), new Conv1x1ToGemm());
        Assert.EndsWith("(MatMul form: Gemm needs a bias before opset 11 and the Conv has none)", result.Outcomes[1].Detail);
        Assert.False(RewriteHarness.OpCounts(after).ContainsKey("Conv"));
        Equivalence.AssertEquivalent(before, after);
        PythonOracle.AssertValid(after);
    }

    [SkippableFact]
    public void WithoutBiasFromOpset11UsesGemmWithoutC()
    {
        var (before, after, _) = RewriteHarness.Run(SqueezeExcitation(11, squeezeBias: false), new Conv1x1ToGemm());
        Assert.Equal(2, RewriteHarness.OpCounts(after)["Gemm"]);
        Assert.Contains(after.Graph.Nodes, n => n.OpType == "Gemm" && n.Inputs.Count == 2);
        Equivalence.AssertEquivalent(before, after);
        PythonOracle.AssertValid(after);
    }

    [Fact]
    public void AKeepDimsSpatialMeanCountsAsAOneByOneMap()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 4, "H", "W");
        var mean = b.Node("ReduceMean", ["x"], Attr.Ints("axes", 2, 3), Attr.Int("keepdims", 1));
        b.Node("Relu", [b.Conv(mean, 4, 3, [1, 1])], ["y"]);
        b.Output("y", DataType.Float, "N", 3, 1, 1);
        var (before, after, _) = RewriteHarness.Run(b, new Conv1x1ToGemm());
        Assert.Equal(1, RewriteHarness.OpCounts(after)["Gemm"]);
        Equivalence.AssertEquivalent(before, after);
    }

    [Fact]
    public void AKnownSpatialMapIsNamedInTheReason()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 3, 5);
        b.Node("Relu", [b.Conv("x", 4, 2, [1, 1])], ["y"]);
        b.Output("y", DataType.Float, 1, 2, 3, 5);
        var (_, _, result) = RewriteHarness.Run(b, new Conv1x1ToGemm());
        Assert.EndsWith("(MatMul form: the spatial map of 'x' is 3x5, not 1x1)", result.Outcomes[0].Detail);
    }

    /// <summary>A value_info left from an older version of the model claims a 1x1 map; inference says H×W.</summary>
    [SkippableFact]
    public void AStaleValueInfoDoesNotMakeAMapOneByOne()
    {
        var b = new TestModelBuilder(13, seed: 12);
        b.Input("x", "N", 4, "H", "W");
        b.Node("Relu", ["x"], ["h"]);
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo("h", DataType.Float, ["N", 4, 1, 1]));
        b.Node("Relu", [b.Conv("h", 4, 3, [1, 1])], ["y"]);
        b.Output("y", DataType.Float, "N", 3, "H", "W");

        var (before, after, result) = RewriteHarness.Run(b, new Conv1x1ToGemm());

        Assert.EndsWith("(MatMul form: the spatial map of 'h' is declared 1x1 (value_info) but inference cannot confirm it)", result.Outcomes[0].Detail);
        Assert.False(RewriteHarness.OpCounts(after).ContainsKey("Gemm"));
        Equivalence.AssertEquivalent(before, after);
    }

    [SkippableFact]
    public void AValueInfoThatInferenceConfirmsStillCounts()
    {
        var b = new TestModelBuilder(13, seed: 12);
        b.Input("x", "N", 4, "H", "W");
        b.Node("GlobalAveragePool", ["x"], ["p"]);
        b.Node("Relu", ["p"], ["h"]);
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo("h", DataType.Float, ["N", 4, 1, 1]));
        b.Node("Relu", [b.Conv("h", 4, 3, [1, 1])], ["y"]);
        b.Output("y", DataType.Float, "N", 3, 1, 1);

        var (before, after, _) = RewriteHarness.Run(b, new Conv1x1ToGemm());

        Assert.Equal(1, RewriteHarness.OpCounts(after)["Gemm"]);
        Equivalence.AssertEquivalent(before, after);
    }

    /// <summary>A slope [C] lines up with the last axis: PRelu of [N,C,1,1] and [C] is [N,C,1,C], a 1×C map.</summary>
    [SkippableTheory]
    [InlineData(new long[] { 4 }, false)]
    [InlineData(new long[] { 4, 1, 1 }, true)]
    [InlineData(new long[] { 1 }, true)]
    public void APReluSlopeThatBroadcastsOverTheSpatialAxesIsNotAOneByOneMap(long[] slopeDims, bool gemm)
    {
        var b = new TestModelBuilder(13, seed: 13);
        b.Input("x", "N", 4, 5, 5);
        var pooled = b.Node("GlobalAveragePool", ["x"]);
        b.RandomInitializer("slope", slopeDims);
        var activated = b.Node("PRelu", [pooled, "slope"]);
        b.Node("Relu", [b.Conv(activated, 4, 3, [1, 1])], ["y"]);
        b.Output("y");

        var (before, after, result) = RewriteHarness.Run(b, new Conv1x1ToGemm());

        Assert.Equal(gemm, RewriteHarness.OpCounts(after).ContainsKey("Gemm"));
        if (!gemm) Assert.Contains("not 1x1", result.Outcomes[0].Detail);
        Equivalence.AssertEquivalent(before, after);
    }

    /// <summary>Axes [2,2] reduce H twice and W never; ONNX forbids repeated axes, so the map is not known.</summary>
    [SkippableFact]
    public void AMeanWithARepeatedAxisIsNotAOneByOneMap()
    {
        var b = new TestModelBuilder(13, seed: 14);
        b.Input("x", "N", 4, 6, 6);
        var mean = b.Node("ReduceMean", ["x"], Attr.Ints("axes", 2, 2), Attr.Int("keepdims", 1));
        b.Node("Relu", [b.Conv(mean, 4, 3, [1, 1])], ["y"]);
        b.Output("y");

        var (_, after, result) = RewriteHarness.Run(b, new Conv1x1ToGemm());

        Assert.False(RewriteHarness.OpCounts(after).ContainsKey("Gemm"));
        Assert.EndsWith("not known to be 1x1)", result.Outcomes[0].Detail);
    }

    [SkippableFact]
    public void ClassifierWithSqueezeExcitationBlocksIsEquivalent()
    {
        string name = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
        var before = ModelReader.Load(Shared.RealModel(name));
        var after = ModelReader.Load(Shared.RealModel(name));
        var result = RewriteDriver.Run(after, [new Conv1x1ToGemm()]);
        Assert.Equal(0, RewriteHarness.PointwiseConvCount(after));
        Assert.Contains(result.Outcomes, o => o.Detail.StartsWith("Gemm", StringComparison.Ordinal));
        Equivalence.AssertEquivalent(before, after, RealModelRewriteTests.InputsFor(name) with { NameMap = result.ValueNameMap });
        PythonOracle.AssertValid(after);
    }
}
