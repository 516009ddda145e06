using OnnxConvTool.Onnx;
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
    public void KeepsSiblingsWhoseSplitWouldMoveMoreThanTheMergeSaves()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", MergeHarness.InputDims(8, 2));
        MergeHarness.Conv(b, "x", 8, 6, 2, output: "y0");
        MergeHarness.Conv(b, "x", 8, 2, 2, output: "y1");
        MergeHarness.Output(b, "y0", 4);
        MergeHarness.Output(b, "y1", 4);
        MergeHarness.AssertRefuses(b, new MergeSiblingConvs(), "a Split would move 16 values per output position, more than the 8 input reads per position that one Conv saves over 2");
    }

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
