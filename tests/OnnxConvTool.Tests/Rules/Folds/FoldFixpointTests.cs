using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;

/// <summary>The fold set on the fixpoint driver: chains fold into one Conv, and a fold that becomes possible only after another happens.</summary>
public sealed class FoldFixpointTests
{
    private static IRewriteRule[] FoldSet() => RuleCatalog.CreateFixpointSet(RuleCatalog.FoldSet).ToArray();

    [Fact]
    public void TheFoldSetHoldsTheConstantFolderAndTheFourConvFoldRules() =>
        Assert.Equal(["fold-constants", "fuse-bn-into-conv", "fuse-affine-into-conv", "fuse-pad-into-conv", "fuse-bn-into-next-conv"],
            RuleCatalog.Set(RuleCatalog.FoldSet).Select(e => e.Id));

    [SkippableFact]
    public void APadConvBatchNormScaleShiftChainFoldsToOneConv()
    {
        var b = new TestModelBuilder(13, seed: 73);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var padded = b.Node("Pad", ["x", b.Initializer(TestModelBuilder.Int64Tensor("pads", [8], [0, 0, 1, 1, 0, 0, 1, 1]))]);
        var conv = FoldHarness.Conv(b, padded, 4, 6, 2, bias: false, padded: false);
        var bn = b.BatchNormalization(conv, 6, "bn");
        var scaled = b.Node("Mul", [bn, b.Initializer(b.UniformTensor("scale", [1, 6, 1, 1], 0.5, 1.5))]);
        b.Node("Add", [scaled, b.Initializer(b.UniformTensor("shift", [], -0.5, 0.5))], ["y"]);
        FoldHarness.Output(b, "y", 4);
        var (after, result, ulps) = FoldHarness.AssertFolds(b, FoldSet(), applied: 4);
        var conv2 = Assert.Single(after.Graph.Nodes);
        Assert.Equal("Conv", conv2.OpType);
        Assert.Equal("y", conv2.Outputs[0].Name);
        Assert.Equal([1L, 1, 1, 1], conv2.GetInts("pads")!);
        Assert.False(result.VisitCapReached);
    }

    /// <summary>
    /// PP-OCRv4's ConvTranspose → Add([1,M,1,1]) → BatchNormalization: the BatchNormalization follows a convolution
    /// only once the Add has folded into the ConvTranspose.
    /// </summary>
    [SkippableFact]
    public void ABatchNormalizationFoldsOnceTheBiasAddBeforeItHasFolded()
    {
        var b = new TestModelBuilder(11, seed: 79);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var up = FoldHarness.Conv(b, "x", 4, 6, 2, bias: false, transposed: true);
        var biased = b.Node("Add", [up, b.Initializer(b.UniformTensor("bias", [1, 6, 1, 1], -0.5, 0.5))]);
        var bn = b.BatchNormalization(biased, 6, "bn");
        b.Node("Relu", [bn], ["y"]);
        FoldHarness.Output(b, "y", 4);
        var (after, result, _) = FoldHarness.AssertFolds(b, FoldSet(), applied: 2);
        Assert.Equal(["ConvTranspose", "Relu"], after.Graph.Nodes.Select(n => n.OpType));
        Assert.Contains(result.Outcomes, o => o.RuleId == "fuse-bn-into-conv" && o.Status == CandidateStatus.Applied);
    }

    /// <summary>
    /// Pad → Mul(c) → Conv: the Pad reaches the Conv only after the Mul has folded into it. One sweep offers the Conv
    /// once and leaves the Pad; the fixpoint revisits the changed Conv and folds the Pad too.
    /// </summary>
    [SkippableFact]
    public void TheFixpointRevisitsAConvAFoldChanged()
    {
        var b = new TestModelBuilder(13, seed: 83);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var padded = b.Node("Pad", ["x", b.Initializer(TestModelBuilder.Int64Tensor("pads", [8], [0, 0, 1, 0, 0, 0, 1, 2]))]);
        var scaled = b.Node("Mul", [padded, b.Initializer(b.UniformTensor("scale", [4, 1, 1], 0.5, 1.5))]);
        b.Node("Relu", [FoldHarness.Conv(b, scaled, 4, 6, 2, padded: false)], ["y"]);
        FoldHarness.Output(b, "y", 4);

        var sweep = b.ToIr();
        RewriteDriver.Run(sweep, FoldSet());
        Assert.Equal(1, FoldHarness.Count(sweep, "Pad"));

        var (after, _, _) = FoldHarness.AssertFolds(b, FoldSet(), applied: 2);
        Assert.Equal(["Conv", "Relu"], after.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal([1L, 0, 1, 2], after.Graph.Nodes[0].GetInts("pads")!);
    }
}
