using OnnxConvTool.Onnx;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;
using Groups = FuseBatchNormIntoConvTests.Groups;

public sealed class FuseBatchNormIntoNextConvTests(ITestOutputHelper output)
{
    private static TestModelBuilder BatchNormThenConv(int opset, int rank, Groups groups, bool bias, DataType type, bool padded = false,
        params AttributeProto[] convAttributes)
    {
        var b = new TestModelBuilder(opset, seed: 23);
        var (c, m, g) = groups switch
        {
            Groups.Dense => (4L, 6L, 1L),
            Groups.Two => (4, 6, 2),
            Groups.Depthwise => (4, 4, 4),
            _ => (4, 8, 4),
        };
        b.Input("x", type, FoldHarness.InputDims(c, rank));
        var bn = b.BatchNormalization("x", c, "bn", type: type);
        string conv = convAttributes.Length > 0
            ? b.Conv(bn, c, m, Enumerable.Repeat(3L, rank).ToArray(), g, bias, type: type, attributes: convAttributes)
            : FoldHarness.Conv(b, bn, c, m, rank, g, bias, type, padded: padded);
        b.Node("Relu", [conv], ["y"]);
        FoldHarness.Output(b, "y", rank + 2, type);
        return b;
    }

    public static TheoryData<int, int, Groups, bool, DataType> Cases()
    {
        var data = new TheoryData<int, int, Groups, bool, DataType>();
        foreach (int opset in new[] { 7, 9, 11, 15, 17, 21 }) data.Add(opset, 2, Groups.Dense, true, DataType.Float);
        foreach (int rank in new[] { 1, 2, 3 })
            foreach (var groups in Enum.GetValues<Groups>())
                data.Add(13, rank, groups, rank != 1, DataType.Float);
        data.Add(13, 2, Groups.Two, true, DataType.Float16);
        data.Add(17, 1, Groups.Depthwise, false, DataType.Float16);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void FoldsIntoTheInputChannelsOfAnUnpaddedConv(int opset, int rank, Groups groups, bool bias, DataType type)
    {
        var (after, result, ulps) = FoldHarness.AssertFolds(BatchNormThenConv(opset, rank, groups, bias, type), [new FuseBatchNormIntoNextConv()], applied: 1);
        output.WriteLine($"{result.Outcomes.Single(o => o.Status == OnnxConvTool.Rewriting.CandidateStatus.Applied).Detail}; {ulps} ULP");
        Assert.Equal(0, FoldHarness.Count(after, "BatchNormalization"));
        Assert.Equal("x", after.Graph.Nodes.Single(n => n.OpType == "Conv").Inputs[0]!.Name);
    }

    [SkippableFact]
    public void FoldsFloat64CloseToTheFloat32Original() =>
        FoldHarness.AssertFolds(BatchNormThenConv(13, 2, Groups.Two, true, DataType.Double), [new FuseBatchNormIntoNextConv()], applied: 1,
            floatTwin: BatchNormThenConv(13, 2, Groups.Two, true, DataType.Float));

    [SkippableFact]
    public void FoldsBeforeAPointwiseConvWithSameAutoPadding() =>
        FoldHarness.AssertFolds(BatchNormThenConvPointwiseSame(), [new FuseBatchNormIntoNextConv()], applied: 1);

    private static TestModelBuilder BatchNormThenConvPointwiseSame()
    {
        var b = new TestModelBuilder(13, seed: 3);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = b.Conv(b.BatchNormalization("x", 4, "bn"), 4, 6, [1, 1], attributes: [Attr.String("auto_pad", "SAME_UPPER"), Attr.Ints("strides", 2, 2)]);
        b.Node("Relu", [conv], ["y"]);
        FoldHarness.Output(b, "y", 4);
        return b;
    }

    [Fact]
    public void RefusesAConvThatPads() =>
        FoldHarness.AssertRefuses(BatchNormThenConv(13, 2, Groups.Dense, true, DataType.Float, padded: true), new FuseBatchNormIntoNextConv(), "Conv",
            "folding bias 'bn' across padding would add it to padded positions");

    [Fact]
    public void RefusesAConvWithSameAutoPaddingOfAWideKernel() =>
        FoldHarness.AssertRefuses(BatchNormThenConv(13, 2, Groups.Dense, true, DataType.Float, convAttributes: Attr.String("auto_pad", "SAME_LOWER")),
            new FuseBatchNormIntoNextConv(), "Conv", "folding bias 'bn' across the SAME_LOWER padding of a 3x3 kernel would add it to padded positions");

    [Fact]
    public void RefusesABatchNormalizationWhoseOutputIsAlsoUsedElsewhere()
    {
        var b = BatchNormThenConv(13, 2, Groups.Dense, true, DataType.Float);
        b.Node("Relu", ["bn"], ["side"]);
        FoldHarness.Output(b, "side", 4);
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoNextConv(), "Conv", "'bn' has 2 consumers, so it must stay");
    }
}
