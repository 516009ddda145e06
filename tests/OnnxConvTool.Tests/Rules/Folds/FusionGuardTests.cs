using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
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

    /// <summary>Two Convs share W and each is followed by a BatchNormalization: each fold gets its own copy; W's tensor is never written.</summary>
    [SkippableFact]
    public void ConvsSharingAWeightEachFoldIntoTheirOwnCopy()
    {
        var b = new TestModelBuilder(13, seed: 89);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var w = b.RandomInitializer("w", [4, 4, 3, 3], scale: 0.5);
        var first = b.BatchNormalization(b.Node("Conv", ["x", w], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("pads", 1, 1, 1, 1)), 4, "bn1");
        var second = b.BatchNormalization(b.Node("Conv", [first, w], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("pads", 1, 1, 1, 1)), 4, "bn2");
        b.Node("Relu", [second], ["y"]);
        FoldHarness.Output(b, "y", 4);
        var model = b.ToIr();
        var shared = model.Graph.Find("w")!.Initializer!;
        var bytes = shared.GetRawBytes().ToArray();
        Assert.Equal(2, RewriteDriver.Run(model, [new FuseBatchNormIntoConv()]).AppliedCount);
        Assert.Equal(bytes, shared.GetRawBytes().ToArray());
        var weights = model.Graph.Nodes.Where(n => n.OpType == "Conv").Select(n => n.Inputs[1]!).ToArray();
        Assert.NotSame(weights[0], weights[1]);
        Assert.Null(model.Graph.Find("w"));
        FoldHarness.AssertFolds(b, [new FuseBatchNormIntoConv()], applied: 2);
    }

    /// <summary>
    /// Both branches of an If run Conv(x; W) → BatchNormalization with W from the outer scope: each branch folds
    /// into its own new weight inside the branch, and W stays for the other.
    /// </summary>
    [SkippableFact]
    public void FoldsInsideIfBranchesWithAWeightCapturedFromTheOuterScope()
    {
        var b = new TestModelBuilder(13, seed: 97);
        b.Input("x", 2, 4, 5, 5);
        b.Input("cond", DataType.Bool);
        var w = b.RandomInitializer("outer_w", [6, 4, 3, 3], scale: 0.5);

        GraphProto Branch(string name)
        {
            var g = new GraphProto { Name = name };
            var conv = new NodeProto { OpType = "Conv", Name = $"{name}_conv" };
            conv.Input.AddRange(["x", w]);
            conv.Output.Add($"{name}_c");
            conv.Attribute.Add(Attr.Ints("kernel_shape", 3, 3));
            conv.Attribute.Add(Attr.Ints("pads", 1, 1, 1, 1));
            g.Node.Add(conv);
            string[] roles = ["scale", "bias", "mean", "var"];
            foreach (var role in roles)
                g.Initializer.Add(b.UniformTensor($"{name}_{role}", [6], role == "var" ? 0.5 : -0.5, 1.5));
            var bn = new NodeProto { OpType = "BatchNormalization", Name = $"{name}_bn" };
            bn.Input.AddRange([$"{name}_c", .. roles.Select(r => $"{name}_{r}")]);
            bn.Output.Add($"{name}_y");
            g.Node.Add(bn);
            g.Output.Add(TestModelBuilder.ValueInfo($"{name}_y", DataType.Float, [2, 6, 5, 5]));
            return g;
        }
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", Branch("then")), Attr.Graph("else_branch", Branch("else")));
        b.Output("y", DataType.Float, 2, 6, 5, 5);

        var before = b.ToIr();
        var after = b.ToIr();
        var result = RewriteDriver.Run(after, [new FuseBatchNormIntoConv()], new RewriteOptions { ValidateAfterEachRewrite = true, Fixpoint = true });
        Assert.Equal(2, result.AppliedCount);
        Assert.Equal(0, FoldHarness.Count(after, "BatchNormalization"));
        Assert.Null(after.Graph.Find("outer_w"));
        foreach (var branch in after.Graph.Nodes.Single(n => n.OpType == "If").Subgraphs.Values.SelectMany(g => g))
            Assert.Same(branch, branch.Nodes.Single(n => n.OpType == "Conv").Inputs[1]!.Graph);
        foreach (double cond in new[] { 1.0, 0.0 })
            Equivalence.AssertEquivalent(before, after, new OnnxConvTool.Verification.VerifyOptions { Values = new Dictionary<string, double> { ["cond"] = cond } });
        PythonOracle.AssertValid(after);
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
