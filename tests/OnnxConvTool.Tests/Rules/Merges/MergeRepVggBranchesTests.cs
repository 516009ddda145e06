using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Rules.Merges;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rules.Merges;

using DataType = TensorProto.Types.DataType;

public sealed class MergeRepVggBranchesTests
{
    private static IRewriteRule[] FoldsThenMerges() =>
        [.. RuleCatalog.CreateFixpointSet(RuleCatalog.FoldSet), .. RuleCatalog.CreateFixpointSet(RuleCatalog.MergeSet)];

    public static TheoryData<int, int, long, bool, DataType> Cases()
    {
        var data = new TheoryData<int, int, long, bool, DataType>();
        foreach (int opset in new[] { 9, 11, 13, 17, 21 }) data.Add(opset, 2, 1, true, DataType.Float);
        foreach (int rank in new[] { 1, 2, 3 })
        {
            data.Add(13, rank, 2, true, DataType.Float);
            data.Add(13, rank, 1, false, DataType.Float);
        }
        data.Add(13, 2, 4, true, DataType.Float);
        data.Add(13, 2, 1, true, DataType.Float16);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void ATrainingFormRepVggBlockBecomesOneConvAndRelu(int opset, int rank, long group, bool identity, DataType type)
    {
        var builder = MergeModels.RepVggBlock(4, 6, rank, group, identity, type, opset);
        // Two BN folds, then one or two branch merges.
        var (after, _) = MergeHarness.AssertMerges(builder, FoldsThenMerges(), applied: identity ? 4 : 3);
        Assert.Equal(["Conv", "Relu"], after.Graph.Nodes.Select(n => n.OpType));
    }

    [Fact]
    public void KeepsA1x1BranchWhosePadsDoNotLineUp()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        string dense = MergeHarness.Conv(b, "x", 4, 4, 2, kernel: 3, pad: 1);
        string pointwise = MergeHarness.Conv(b, "x", 4, 4, 2, pad: 1);
        b.Node("Add", [dense, pointwise], ["y"]);
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeRepVggBranches(),
            "the pads [1,1,1,1] of 'Conv_7' do not line up with the pads [1,1,1,1] of 'Conv_3' (they must be smaller by half the kernel difference, times the dilation)");
    }

    [Fact]
    public void KeepsAnIdentityBranchBesideAStridedConv()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        string dense = MergeHarness.Conv(b, "x", 4, 4, 2, kernel: 3, pad: 1, stride: 2);
        b.Node("Add", [dense, "x"], ["y"]);
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeRepVggBranches(), "'Conv_3' has strides [2,2], so the identity does not line up with it");
    }

    [Fact]
    public void KeepsBranchesOnDifferentInputs()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        b.Input("z", MergeHarness.InputDims(4, 2));
        string dense = MergeHarness.Conv(b, "x", 4, 4, 2, kernel: 3, pad: 1);
        string pointwise = MergeHarness.Conv(b, "z", 4, 4, 2);
        b.Node("Add", [dense, pointwise], ["y"]);
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeRepVggBranches(), "'Conv_3' and 'Conv_7' read different inputs");
    }
}
