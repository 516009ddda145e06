using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Merges;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rules.Merges;

using DataType = TensorProto.Types.DataType;

public sealed class MergeConvChainTests
{
    /// <summary>The chain forms: a 1x1 after a 1x1, after a padded 3-wide kernel, after a strided one, strided itself, and a 1x1 before a padded 3-wide kernel.</summary>
    public enum Form { PointwisePointwise, SpatialThenPointwise, StridedSpatialThenPointwise, SpatialThenStridedPointwise, PointwiseThenSpatial }

    private static TestModelBuilder Chain(int opset, int rank, Form form, long group, bool bias, DataType type, object? batch = null)
    {
        var b = new TestModelBuilder(opset, seed: 3);
        // Wide middle, narrow ends: every form costs fewer MACs merged.
        long c = 4, mid = 8, m = 2 * group;
        b.Input("x", type, MergeHarness.InputDims(c, rank, batch));
        string first = form switch
        {
            Form.PointwisePointwise or Form.PointwiseThenSpatial => MergeHarness.Conv(b, "x", c, mid, rank, group: group, bias: bias && form != Form.PointwiseThenSpatial, type: type),
            Form.StridedSpatialThenPointwise => MergeHarness.Conv(b, "x", c, mid, rank, kernel: 3, group: group, bias: bias, pad: 1, stride: 2, type: type),
            _ => MergeHarness.Conv(b, "x", c, mid, rank, kernel: 3, group: group, bias: bias, pad: 1, type: type),
        };
        string y = form switch
        {
            Form.PointwiseThenSpatial => MergeHarness.Conv(b, first, mid, m, rank, kernel: 3, group: group, bias: bias, pad: 1, type: type),
            Form.SpatialThenStridedPointwise => MergeHarness.Conv(b, first, mid, m, rank, group: group, bias: bias, stride: 2, type: type),
            _ => MergeHarness.Conv(b, first, mid, m, rank, group: group, bias: bias, type: type),
        };
        b.Node("Relu", [y], ["y"]);
        MergeHarness.Output(b, "y", rank + 2, type);
        return b;
    }

    public static TheoryData<int, int, Form, long, bool, DataType> Cases()
    {
        var data = new TheoryData<int, int, Form, long, bool, DataType>();
        foreach (int opset in new[] { 9, 11, 13, 17, 18, 21 }) data.Add(opset, 2, Form.SpatialThenPointwise, 1, true, DataType.Float);
        foreach (int rank in new[] { 1, 2, 3 })
            foreach (var form in Enum.GetValues<Form>())
                data.Add(13, rank, form, rank == 2 ? 2 : 1, rank != 3, DataType.Float);
        data.Add(13, 2, Form.PointwisePointwise, 1, true, DataType.Float16);
        data.Add(17, 2, Form.SpatialThenPointwise, 2, true, DataType.Float16);
        data.Add(21, 1, Form.PointwiseThenSpatial, 1, false, DataType.Float16);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void MergesTwoConvolutionsIntoOneEquivalentConv(int opset, int rank, Form form, long group, bool bias, DataType type)
    {
        var (after, result) = MergeHarness.AssertMerges(Chain(opset, rank, form, group, bias, type), [new MergeConvChain()], applied: 1);
        Assert.Equal(1, MergeHarness.Count(after, "Conv"));
        var applied = Assert.Single(result.Outcomes, o => o.Status == CandidateStatus.Applied);
        Assert.Contains("fewer)", applied.Detail);
    }

    [SkippableFact]
    public void ALinearChainOfFour1x1ConvsBecomesOneConv()
    {
        var b = new TestModelBuilder(13, seed: 5);
        b.Input("x", MergeHarness.InputDims(16, 2));
        string y = "x";
        foreach (var (c, m) in new[] { (16L, 32L), (32L, 24L), (24L, 12L), (12L, 8L) }) y = MergeHarness.Conv(b, y, c, m, 2);
        b.Node("Relu", [y], ["y"]);
        MergeHarness.Output(b, "y", 4);
        var (after, _) = MergeHarness.AssertMerges(b, [new MergeConvChain()], applied: 3);
        Assert.Equal(1, MergeHarness.Count(after, "Conv"));
    }

    [Fact]
    public void StatesMacsPerUnitOfASymbolicBatch()
    {
        var model = Chain(13, 2, Form.PointwisePointwise, 1, true, DataType.Float, batch: "N").ToIr();
        var result = RewriteDriver.Run(model, [new MergeConvChain()]);
        var applied = Assert.Single(result.Outcomes, o => o.Status == CandidateStatus.Applied);
        // [N,8,6,5] from 4 channels: 960 per N, then [N,2,6,5] from 8: 480 per N; merged [N,2,6,5] from 4: 240 per N.
        // Parameters: 32 + 8 and 16 + 2 before, 8 + 2 after.
        Assert.EndsWith("MACs 1,440 per N → 240 per N (6.0× fewer), parameters 58 → 10", applied.Detail);
    }

    private static TestModelBuilder DepthwiseThenPointwise()
    {
        var b = new TestModelBuilder(13, seed: 7);
        b.Input("x", MergeHarness.InputDims(8, 2));
        string dw = MergeHarness.Conv(b, "x", 8, 8, 2, kernel: 3, group: 8, pad: 1);
        string y = MergeHarness.Conv(b, dw, 8, 8, 2);
        b.Node("Relu", [y], ["y"]);
        MergeHarness.Output(b, "y", 4);
        return b;
    }

    [Fact]
    public void KeepsADepthwiseThenPointwisePairWhoseMergeCostsMoreMacs() =>
        MergeHarness.AssertRefuses(DepthwiseThenPointwise(), new MergeConvChain(),
            "merging would cost 4.24× more MACs (8,160 → 34,560)");

    [SkippableFact]
    public void AppliesAMergeThatCostsMoreMacsWhenAllowed()
    {
        var (after, result) = MergeHarness.AssertMerges(DepthwiseThenPointwise(), [new MergeConvChain()], applied: 1, new RewriteOptions { AllowMoreMacs = true });
        Assert.Equal(1, MergeHarness.Count(after, "Conv"));
        Assert.Contains("MACs 8,160 → 34,560 (4.24× more)", Assert.Single(result.Outcomes, o => o.Status == CandidateStatus.Applied).Detail);
    }

    [Fact]
    public void KeepsAChainWhoseMiddleHasTwoConsumers()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        string mid = MergeHarness.Conv(b, "x", 4, 8, 2);
        string y = MergeHarness.Conv(b, mid, 8, 8, 2);
        b.Node("Add", [y, mid], ["y"]);
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeConvChain(), $"'{mid}' has 2 consumers, so it must stay");
    }

    [Fact]
    public void KeepsAChainWithANonLinearOpBetween()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        string relu = b.Relu(MergeHarness.Conv(b, "x", 4, 8, 2), "relu");
        b.Node("Conv", [relu, b.RandomInitializer("w2", [2, 8, 1, 1])], ["y"], Attr.Ints("kernel_shape", 1, 1));
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeConvChain(), $"'Conv_4' reads '{relu}' from a Relu, not from a convolution");
    }

    [Fact]
    public void KeepsA1x1WithBiasBeforeAPaddedKernel()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        string mid = MergeHarness.Conv(b, "x", 4, 8, 2, bias: true);
        string y = MergeHarness.Conv(b, mid, 8, 2, 2, kernel: 3, pad: 1, output: "y");
        MergeHarness.Output(b, y, 4);
        MergeHarness.AssertRefuses(b, new MergeConvChain(),
            "'Conv_7' pads its input with zeros, which would then miss the bias 'B_1' of 'Conv_3' (padding meets bias)");
    }

    [Fact]
    public void KeepsAChainWhoseGroupsDoNotLineUp()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(8, 2));
        string mid = MergeHarness.Conv(b, "x", 8, 8, 2, group: 4);
        MergeHarness.Conv(b, mid, 8, 4, 2, group: 2, output: "y");
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeConvChain(), "the groups do not line up: group 4 then group 2");
    }

    [Fact]
    public void KeepsAChainOfTwoSpatialKernels()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        string mid = MergeHarness.Conv(b, "x", 4, 4, 2, kernel: 3, pad: 1);
        MergeHarness.Conv(b, mid, 4, 4, 2, kernel: 3, pad: 1, output: "y");
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeConvChain(), "neither convolution is 1x1 (3x3 then 3x3)");
    }

    [Fact]
    public void KeepsAChainWhoseWeightIsComputedAtRunTime()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        b.Input("w", 2L, 8L, 1L, 1L);
        string mid = MergeHarness.Conv(b, "x", 4, 8, 2);
        b.Node("Conv", [mid, "w"], ["y"], Attr.Ints("kernel_shape", 1, 1));
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeConvChain(), "the weight of the second convolution 'w' is computed at run time, not a constant");
    }
}
