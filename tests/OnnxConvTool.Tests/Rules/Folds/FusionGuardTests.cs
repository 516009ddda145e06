using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;

/// <summary>One negative test per shared fusion guard, each asserting its sentence, and the positive side where a guard has one.</summary>
public sealed class FusionGuardTests
{
    private static TestModelBuilder ConvBatchNorm(int opset = 13, WeightStorage storage = WeightStorage.Initializer, Action<TestModelBuilder, string>? extra = null)
    {
        var b = new TestModelBuilder(opset, seed: 61);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2, storage: storage);
        b.Node("Relu", [b.BatchNormalization(conv, 6, "bn")], ["y"]);
        FoldHarness.Output(b, "y", 4);
        extra?.Invoke(b, conv);
        return b;
    }

    [Fact]
    public void TheSwallowedValueMustHaveOneConsumer() =>
        FoldHarness.AssertRefuses(ConvBatchNorm(extra: (b, conv) =>
        {
            b.Node("Relu", [conv], ["side"]);
            FoldHarness.Output(b, "side", 4);
        }), new FuseBatchNormIntoConv(), "BatchNormalization", "'conv_2' has 2 consumers, so it must stay");

    [Fact]
    public void TheSwallowedValueMustNotBeAGraphOutput() =>
        FoldHarness.AssertRefuses(ConvBatchNorm(extra: (b, conv) => FoldHarness.Output(b, conv, 4)),
            new FuseBatchNormIntoConv(), "BatchNormalization", "'conv_2' is a graph output, so it must stay");

    [Fact]
    public void AWeightAGraphInputCanOverrideIsNotFolded() =>
        FoldHarness.AssertRefuses(ConvBatchNorm(storage: WeightStorage.GraphInput), new FuseBatchNormIntoConv(), "BatchNormalization",
            "the weight 'W_0' is also a graph input, so a caller may override it (IR < 4 lists initializers as inputs; folding those must be asked for explicitly)");

    [Fact]
    public void BatchNormalizationParametersListedAsInputsInIr3AreNotFolded()
    {
        var b = ConvBatchNorm(opset: 8);
        b.ListInitializersAsInputs();
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoConv(), "BatchNormalization",
            "the weight 'W_0' is also a graph input, so a caller may override it (IR < 4 lists initializers as inputs; folding those must be asked for explicitly)");
    }

    [SkippableFact]
    public void OverridableInitializersFoldWhenAskedFor()
    {
        var b = ConvBatchNorm(opset: 8);
        b.ListInitializersAsInputs();
        var before = b.ToIr();
        var after = b.ToIr();
        var result = RewriteDriver.Run(after, [new FuseBatchNormIntoConv()], new RewriteOptions { FoldOverridableInitializers = true });
        Assert.Equal(1, result.AppliedCount);
        Assert.Equal(0, FoldHarness.Count(after, "BatchNormalization"));
        Assert.Empty(GraphValidator.Validate(after));
        // The overridable originals stay graph inputs (the interface never changes); the folded constants are new.
        Assert.Equal(before.Graph.Inputs.Select(i => i.Name), after.Graph.Inputs.Select(i => i.Name));
        Equivalence.AssertEquivalent(before, after);
    }

    [Fact]
    public void AWeightComputedAtRunTimeIsNotFolded()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", FoldHarness.InputDims(4, 2));
        b.Input("w", 6, 4, 3, 3);
        b.Node("Conv", ["x", "w"], ["c"], Attr.Ints("kernel_shape", 3, 3));
        b.Node("Relu", [b.BatchNormalization("c", 6, "bn")], ["y"]);
        FoldHarness.Output(b, "y", 4);
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoConv(), "BatchNormalization", "the weight 'w' is computed at run time, not a constant");
    }

    [SkippableFact]
    public void WeightsFromConstantNodesFold() =>
        FoldHarness.AssertFolds(ConvBatchNorm(storage: WeightStorage.ConstantNode), [new FuseBatchNormIntoConv()], applied: 1);

    /// <summary>Two Convs share W; only the first is followed by a BatchNormalization. W stays, byte for byte, for the second.</summary>
    [SkippableFact]
    public void ASharedWeightIsCopiedNeverChangedInPlace()
    {
        var b = new TestModelBuilder(13, seed: 67);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var w = b.RandomInitializer("w", [4, 4, 3, 3], scale: 0.5);
        var first = b.Node("Conv", ["x", w], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("pads", 1, 1, 1, 1));
        var normalized = b.BatchNormalization(first, 4, "bn");
        b.Node("Conv", [normalized, w], ["y"], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("pads", 1, 1, 1, 1));
        FoldHarness.Output(b, "y", 4);
        var original = b.Graph.Initializer.Single(t => t.Name == "w").RawData.ToByteArray();
        var (after, _, _) = FoldHarness.AssertFolds(b, [new FuseBatchNormIntoConv()], applied: 1);
        var convs = after.Graph.Nodes.Where(n => n.OpType == "Conv").ToArray();
        Assert.NotEqual("w", convs[0].Inputs[1]!.Name);
        Assert.Equal("w", convs[1].Inputs[1]!.Name);
        Assert.Equal(original, convs[1].Inputs[1]!.Initializer!.GetRawBytes().ToArray());
        Assert.Equal(2, after.Graph.Initializers.Count(i => i.Initializer!.Rank == 4));
    }

    [Fact]
    public void TheFoldKeepsTheElementType()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", FoldHarness.InputDims(4, 2));
        b.Node("Mul", [FoldHarness.Conv(b, "x", 4, 6, 2), b.Initializer(TestModelBuilder.TensorOf("c", [1], [2.0], DataType.Double))], ["y"]);
        FoldHarness.Output(b, "y", 4);
        FoldHarness.AssertRefuses(b, new FuseAffineIntoConv(), "Mul", "the constant 'c' is float64 but the result is float32; the fold would change the element type");
    }

    [Fact]
    public void AFloat16FoldThatOverflowsIsRefused()
    {
        var b = new TestModelBuilder(13, seed: 71);
        b.Input("x", DataType.Float16, FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2, type: DataType.Float16);
        b.Node("Div", [conv, b.Initializer(TestModelBuilder.TensorOf("c", [1], [1e-6], DataType.Float16))], ["z"]);
        b.Node("Relu", ["z"], ["y"]);
        FoldHarness.Output(b, "y", 4, DataType.Float16);
        var outcome = Assert.Single(RewriteDriver.Run(b.ToIr(), [new FuseAffineIntoConv()]).Outcomes, o => o.OpType == "Div");
        Assert.Matches(@"^the folded bias of 'Conv_\d+' overflows float16: .* at index \d+ is beyond its largest value 65504$|^the folded weight of 'Conv_\d+' overflows float16: .* at index \d+ is beyond its largest value 65504$", outcome.Detail);
    }
}
