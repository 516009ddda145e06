using OnnxConvTool.Onnx;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Merges;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rules.Merges;

using DataType = TensorProto.Types.DataType;

public sealed class MergeSiblingConvsTests
{
    private static TestModelBuilder Siblings(int opset, int rank, long kernel, long stride, bool bias, DataType type, bool concat)
    {
        var b = new TestModelBuilder(opset, seed: 9);
        b.Input("x", type, MergeHarness.InputDims(16, rank));
        long pad = kernel / 2;
        var outputs = new[] { 3L, 5L, 2L }.Select((m, i) => MergeHarness.Conv(b, "x", 16, m, rank, kernel, bias: bias && i != 1, pad: pad, stride: stride, type: type)).ToArray();
        if (concat)
        {
            b.Node("Concat", outputs, ["y"], Attr.Int("axis", 1));
            MergeHarness.Output(b, "y", rank + 2, type);
        }
        else
            for (int i = 0; i < outputs.Length; i++)
            {
                b.Node(i == 1 ? "Sigmoid" : "Relu", [outputs[i]], [$"y{i}"]);
                MergeHarness.Output(b, $"y{i}", rank + 2, type);
            }
        return b;
    }

    public static TheoryData<int, int, long, long, bool, DataType, bool> Cases()
    {
        var data = new TheoryData<int, int, long, long, bool, DataType, bool>();
        foreach (int opset in new[] { 9, 11, 13, 17, 18, 21 }) data.Add(opset, 2, 1, 1, true, DataType.Float, false);
        foreach (int rank in new[] { 1, 2, 3 })
        {
            data.Add(13, rank, 1, 1, true, DataType.Float, true);
            data.Add(13, rank, 3, 2, rank != 2, DataType.Float, false);
        }
        data.Add(13, 2, 1, 1, true, DataType.Float16, false);
        data.Add(18, 2, 3, 1, true, DataType.Float16, true);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void MergesSiblingsIntoOneConv(int opset, int rank, long kernel, long stride, bool bias, DataType type, bool concat)
    {
        var (after, result) = MergeHarness.AssertMerges(Siblings(opset, rank, kernel, stride, bias, type, concat), [new MergeSiblingConvs()], applied: 1);
        Assert.Equal(1, MergeHarness.Count(after, "Conv"));
        Assert.Equal(concat ? 0 : 1, MergeHarness.Count(after, "Split"));
        Assert.Equal(0, MergeHarness.Count(after, "Concat"));
        Assert.Contains("(unchanged)", Assert.Single(result.Outcomes, o => o.Status == CandidateStatus.Applied).Detail);
    }

    [SkippableFact]
    public void KeepsTheOtherInputsOfTheirConcatInPlace()
    {
        var b = new TestModelBuilder(13, seed: 2);
        b.Input("x", MergeHarness.InputDims(4, 2));
        string pool = b.MaxPool("x", 3, 1, 1);
        string a = MergeHarness.Conv(b, "x", 4, 3, 2), c = MergeHarness.Conv(b, "x", 4, 5, 2);
        b.Node("Concat", [pool, c, a], ["y"], Attr.Int("axis", 1));
        MergeHarness.Output(b, "y", 4);
        var (after, _) = MergeHarness.AssertMerges(b, [new MergeSiblingConvs()], applied: 1);
        Assert.Equal(1, MergeHarness.Count(after, "Conv"));
        Assert.Equal(2, Assert.Single(after.Graph.Nodes, n => n.OpType == "Concat").Inputs.Count);
    }

    [Fact]
    public void KeepsSiblingsWithMismatchedStrides()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        MergeHarness.Conv(b, "x", 4, 3, 2, output: "y0");
        MergeHarness.Conv(b, "x", 4, 3, 2, stride: 2, output: "y1");
        MergeHarness.Output(b, "y0", 4);
        MergeHarness.Output(b, "y1", 4);
        MergeHarness.AssertRefuses(b, new MergeSiblingConvs(), "'Conv_8' also reads 'x' but has strides [2,2], not [1,1]");
    }

    [Fact]
    public void KeepsSiblingsWithMismatchedPads()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        MergeHarness.Conv(b, "x", 4, 3, 2, kernel: 3, pad: 1, output: "y0");
        MergeHarness.Conv(b, "x", 4, 3, 2, kernel: 3, output: "y1");
        MergeHarness.Output(b, "y0", 4);
        MergeHarness.Output(b, "y1", 4);
        MergeHarness.AssertRefuses(b, new MergeSiblingConvs(), "'Conv_8' also reads 'x' but has pads [0,0,0,0], not [1,1,1,1]");
    }

    [Fact]
    public void KeepsTwoSiblingsBecauseTheirSplitSavesNoOp()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(8, 2));
        MergeHarness.Conv(b, "x", 8, 6, 2, output: "y0");
        MergeHarness.Conv(b, "x", 8, 2, 2, output: "y1");
        MergeHarness.Output(b, "y0", 4);
        MergeHarness.Output(b, "y1", 4);
        MergeHarness.AssertRefuses(b, new MergeSiblingConvs(),
            $"a Split after one Conv for 2 siblings saves no op and moves the merged output again ({RuntimeCost.Terms})");
    }

    /// <summary>Three siblings on [1,64,32,32]: one op fewer (0.7 µs) against 196,608 values through the Split (21.6 µs).</summary>
    [Fact]
    public void KeepsThreeLargeSiblingsWhoseSplitMovesMoreThanAnOpCosts()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1L, 64L, 32L, 32L);
        for (int i = 0; i < 3; i++)
        {
            MergeHarness.Conv(b, "x", 64, 32, 2, output: $"y{i}");
            MergeHarness.Output(b, $"y{i}", 4);
        }
        MergeHarness.AssertRefuses(b, new MergeSiblingConvs(),
            $"one Conv and a Split for 3 siblings would cost 20.927 µs more than it saves (1 op(s) fewer, 196,608 values moved by the Split; {RuntimeCost.Terms})");
    }

    private static TestModelBuilder OneByOneBesideLarger(long channels, long size, int rank = 2, long stride = 1, long kernel = 3, bool concat = true, long pad = -1)
    {
        var b = new TestModelBuilder(13, seed: 4);
        b.Input("x", [1L, channels, .. Enumerable.Repeat((object)size, rank)]);
        string small = MergeHarness.Conv(b, "x", channels, channels, rank, stride: stride);
        string large = MergeHarness.Conv(b, "x", channels, channels, rank, kernel: kernel, pad: pad < 0 ? kernel / 2 : pad, stride: stride);
        if (concat)
        {
            b.Node("Concat", [small, large], ["y"], Attr.Int("axis", 1));
            MergeHarness.Output(b, "y", rank + 2);
        }
        else
        {
            b.Node("Relu", [small], ["y0"]);
            b.Node("Sigmoid", [large], ["y1"]);
            MergeHarness.Output(b, "y0", rank + 2);
            MergeHarness.Output(b, "y1", rank + 2);
        }
        return b;
    }

    /// <summary>
    /// On [1,8,4,4] the 1x1 centre-padded to 3x3 costs 8,192 MACs more (0.15 µs) and saves one Conv (0.7 µs): applied.
    /// On [1,8,4,4,4] a 3x3x3 would cost 106,496 more (1.9 µs), so the 3-D case runs on [1,8,2,2,2].
    /// </summary>
    [SkippableTheory]
    [InlineData(1, 4, 1, 3)]
    [InlineData(2, 4, 1, 3)]
    [InlineData(2, 4, 2, 3)]
    [InlineData(2, 4, 1, 5)]
    [InlineData(3, 2, 1, 3)]
    public void CentrePadsASmall1x1SiblingWhereTheSavedOpPays(int rank, long size, long stride, long kernel)
    {
        var (after, result) = MergeHarness.AssertMerges(OneByOneBesideLarger(8, size, rank, stride, kernel), [new MergeSiblingConvs()], applied: 1);
        var conv = Assert.Single(after.Graph.Nodes, n => n.OpType == "Conv");
        Assert.Equal(Enumerable.Repeat(kernel, rank), conv.GetInts("kernel_shape")!);
        Assert.Equal(0, MergeHarness.Count(after, "Concat"));
        Assert.Contains("1 1x1 of them centre-padded", Assert.Single(result.Outcomes, o => o.Status == CandidateStatus.Applied).Detail);
    }

    [Fact]
    public void KeepsA1x1BesideALarge3x3BecauseCentrePaddingCostsMoreMacsThanTheOpSaved() =>
        // On [1,64,28,28]: 25.7 M MACs more (462 µs) to save one Conv (0.7 µs).
        MergeHarness.AssertRefuses(OneByOneBesideLarger(64, 28), new MergeSiblingConvs(),
            "centre-padding 1 1x1 sibling(s) to 3x3 (MACs 32,112,640 → 57,802,752 (1.8× more), parameters 41,088 → 73,856) would cost "
            + $"461.722 µs more than it saves (1 op(s) fewer; {RuntimeCost.Terms})");

    [SkippableFact]
    public void CentrePadsALarge1x1SiblingWithAllowMoreMacs()
    {
        var (after, _) = MergeHarness.AssertMerges(OneByOneBesideLarger(16, 12), [new MergeSiblingConvs()], applied: 1, new RewriteOptions { AllowMoreMacs = true });
        Assert.Equal(1, MergeHarness.Count(after, "Conv"));
    }

    /// <summary>Two siblings without a Concat would need a Split: no op saved and more MACs, so even a small pair stays.</summary>
    [Fact]
    public void KeepsACentrePaddable1x1WhenASplitWouldBeNeeded() =>
        MergeHarness.AssertRefuses(OneByOneBesideLarger(8, 4, concat: false), new MergeSiblingConvs(),
            "centre-padding 1 1x1 sibling(s) to 3x3 (MACs 10,240 → 18,432 (1.8× more), parameters 656 → 1,168) would cost "
            + $"0.204 µs more than it saves (0 op(s) fewer, 512 values moved by the Split; {RuntimeCost.Terms})");

    [Fact]
    public void DoesNotCentreA1x1BesideA3x3ThatDoesNotPadByHalfItsKernel() =>
        MergeHarness.AssertRefuses(OneByOneBesideLarger(8, 4, pad: 0), new MergeSiblingConvs(), "'Conv_7' also reads 'x' but has kernel 3x3, not 1x1");

    [Fact]
    public void KeepsAConvWithoutSiblings()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        MergeHarness.Conv(b, "x", 4, 3, 2, output: "y");
        MergeHarness.Output(b, "y", 4);
        MergeHarness.AssertRefuses(b, new MergeSiblingConvs(), "no other convolution reads 'x'");
    }

    [Fact]
    public void KeepsGroupedSiblings()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(4, 2));
        MergeHarness.Conv(b, "x", 4, 4, 2, group: 2, output: "y0");
        MergeHarness.Conv(b, "x", 4, 4, 2, group: 2, output: "y1");
        MergeHarness.Output(b, "y0", 4);
        MergeHarness.Output(b, "y1", 4);
        MergeHarness.AssertRefuses(b, new MergeSiblingConvs(), "'Conv_3' has group 2; stacking grouped filters would interleave the groups' channels");
    }
}
