using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;

public sealed class FuseAffineIntoConvTests(ITestOutputHelper output)
{
    /// <summary>x → Conv (or ConvTranspose) with M = 6 → op(conv, c) or op(c, conv) → Relu → y.</summary>
    private static TestModelBuilder ConvThenOp(string op, long[] constantDims, bool constantFirst = false, int opset = 13, int rank = 2,
        long group = 1, bool bias = true, DataType type = DataType.Float, bool transposed = false)
    {
        var b = new TestModelBuilder(opset, seed: 31);
        b.Input("x", type, FoldHarness.InputDims(4, rank));
        var conv = FoldHarness.Conv(b, "x", 4, 6, rank, group, bias, type, transposed);
        var c = b.Initializer(b.UniformTensor("c", constantDims, 0.5, 1.5, type));
        b.Node(op, constantFirst ? [c, conv] : [conv, c], ["z"]);
        b.Node("Relu", ["z"], ["y"]);
        FoldHarness.Output(b, "y", rank + 2, type);
        return b;
    }

    public static TheoryData<string, string, bool> ConstantShapes()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (string shape in new[] { "", "1", "1,1,1,1", "6,1,1", "1,6,1,1" })
            foreach (var (op, first) in new[] { ("Mul", false), ("Mul", true), ("Add", false), ("Add", true), ("Sub", false), ("Sub", true), ("Div", false) })
                data.Add(op, shape, first);
        return data;
    }

    private static long[] Dims(string shape) => shape.Length == 0 ? [] : shape.Split(',').Select(long.Parse).ToArray();

    [SkippableTheory]
    [MemberData(nameof(ConstantShapes))]
    public void FoldsEveryScalarAndPerChannelConstantShapeInBothOrders(string op, string shape, bool constantFirst)
    {
        var (after, result, ulps) = FoldHarness.AssertFolds(ConvThenOp(op, Dims(shape), constantFirst), [new FuseAffineIntoConv()], applied: 1);
        output.WriteLine($"{result.Outcomes.Single(o => o.Status == CandidateStatus.Applied).Detail}; {ulps} ULP");
        Assert.Equal(["Conv", "Relu"], after.Graph.Nodes.Select(n => n.OpType).Where(t => t != "Constant"));
        Assert.Equal("z", after.Graph.Nodes.Single(n => n.OpType == "Conv").Outputs[0].Name);
    }

    public static TheoryData<int, int, long, bool, DataType, bool, string> Variants()
    {
        var data = new TheoryData<int, int, long, bool, DataType, bool, string>();
        // opset 13 with this geometry is among the rank and group variants below
        foreach (int opset in new[] { 7, 9, 11, 14, 17, 21 }) data.Add(opset, 2, 1, true, DataType.Float, false, "Mul");
        foreach (int rank in new[] { 1, 2, 3 })
            foreach (long group in new long[] { 1, 2, 6 })
            {
                data.Add(13, rank, group, rank != 3, DataType.Float, false, "Mul");
                data.Add(13, rank, group, rank == 3, DataType.Float, rank != 2 && group != 6, "Sub");
            }
        data.Add(13, 2, 2, true, DataType.Float16, false, "Mul");
        data.Add(17, 1, 1, false, DataType.Float16, false, "Add");
        data.Add(21, 3, 6, true, DataType.Float16, false, "Div");
        return data;
    }

    /// <summary>Per-channel constants [1, M, 1…] of the output's rank, over groups, ranks, types, opsets and ConvTranspose.</summary>
    [SkippableTheory]
    [MemberData(nameof(Variants))]
    public void FoldsPerChannelConstantsOverGroupsRanksAndTypes(int opset, int rank, long group, bool bias, DataType type, bool transposed, string op)
    {
        long inChannels = group == 6 ? 6 : 4;
        var b = new TestModelBuilder(opset, seed: 37);
        b.Input("x", type, FoldHarness.InputDims(inChannels, rank));
        var conv = FoldHarness.Conv(b, "x", inChannels, 6, rank, group, bias, type, transposed);
        var c = b.Initializer(b.UniformTensor("c", [1, 6, .. Enumerable.Repeat(1L, rank)], 0.5, 1.5, type));
        b.Node(op, [conv, c], ["z"]);
        b.Node("Relu", ["z"], ["y"]);
        FoldHarness.Output(b, "y", rank + 2, type);
        FoldHarness.AssertFolds(b, [new FuseAffineIntoConv()], applied: 1);
    }

    [SkippableFact]
    public void FoldsFloat64CloseToTheFloat32Original() =>
        FoldHarness.AssertFolds(ConvThenOp("Mul", [6, 1, 1], type: DataType.Double), [new FuseAffineIntoConv()], applied: 1,
            floatTwin: ConvThenOp("Mul", [6, 1, 1]));

    /// <summary>PP-OCRv4's learnable scale and shift: Conv → Mul([1]) → Add([1]) folds twice, into one Conv.</summary>
    [SkippableFact]
    public void FoldsAScaleThenShiftPairIntoOneConv()
    {
        var b = new TestModelBuilder(11, seed: 41);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2);
        var scaled = b.Node("Mul", [conv, b.Initializer(b.UniformTensor("scale", [1], 0.5, 1.5))]);
        b.Node("Add", [scaled, b.Initializer(b.UniformTensor("shift", [1], -0.5, 0.5))], ["y"]);
        FoldHarness.Output(b, "y", 4);
        var (after, _, _) = FoldHarness.AssertFolds(b, [new FuseAffineIntoConv()], applied: 2);
        Assert.Equal(["Conv"], after.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal("y", after.Graph.Nodes[0].Outputs[0].Name);
    }

    /// <summary>x → op(x, c) → Conv: per input channel, before the Conv.</summary>
    private static TestModelBuilder OpThenConv(string op, long[] constantDims, bool padded, bool constantFirst = false, int opset = 13, long group = 1)
    {
        var b = new TestModelBuilder(opset, seed: 43);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var c = b.Initializer(b.UniformTensor("c", constantDims, 0.5, 1.5));
        var z = b.Node(op, constantFirst ? [c, "x"] : ["x", c]);
        b.Node("Relu", [FoldHarness.Conv(b, z, 4, 6, 2, group, padded: padded)], ["y"]);
        FoldHarness.Output(b, "y", 4);
        return b;
    }

    [SkippableTheory]
    [InlineData("Mul", "1,4,1,1", false, false)]
    [InlineData("Mul", "4,1,1", true, true)]
    [InlineData("Div", "1", true, false)]
    [InlineData("Add", "1,4,1,1", false, true)]
    [InlineData("Sub", "4,1,1", false, false)]
    [InlineData("Sub", "", false, true)]
    public void FoldsAPerInputChannelOpBeforeAConv(string op, string shape, bool padded, bool constantFirst)
    {
        var (after, _, _) = FoldHarness.AssertFolds(OpThenConv(op, Dims(shape), padded, constantFirst, group: 2), [new FuseAffineIntoConv()], applied: 1);
        Assert.Equal("x", after.Graph.Nodes.Single(n => n.OpType == "Conv").Inputs[0]!.Name);
    }

    /// <summary>A scale needs no bias: a Conv without one keeps having none, and only its weight is new.</summary>
    [SkippableFact]
    public void AScaleAddsNoBiasToAConvWithoutOne()
    {
        var b = new TestModelBuilder(13, seed: 47);
        b.Input("x", FoldHarness.InputDims(4, 2));
        b.Node("Relu", [b.Node("Mul", [FoldHarness.Conv(b, "x", 4, 6, 2, bias: false), b.Initializer(b.UniformTensor("c", [1, 6, 1, 1], 0.5, 1.5))])], ["y"]);
        FoldHarness.Output(b, "y", 4);
        var (after, result, _) = FoldHarness.AssertFolds(b, [new FuseAffineIntoConv()], applied: 1);
        Assert.Equal(2, after.Graph.Nodes.Single(n => n.OpType == "Conv").Inputs.Count);
        Assert.Matches(@"^folded Mul by \[1,6,1,1\] 'c' into Conv 'Conv_\d+' \(new weight, max deviation 0(\.\d+)? ULP of float32\)$",
            result.Outcomes.Single(o => o.Status == CandidateStatus.Applied).Detail);
    }

    [Fact]
    public void RefusesAShiftBeforeAConvThatPads() =>
        FoldHarness.AssertRefuses(OpThenConv("Add", [1, 4, 1, 1], padded: true), new FuseAffineIntoConv(), "Conv",
            "folding bias 'c' across padding would add it to padded positions");

    [Theory]
    [InlineData("6", "'c': a constant of shape [6] broadcasts along the last axis, not the channel axis 1")]
    [InlineData("1,6,6,1", "'c': a constant of shape [1,6,6,1] varies along axis 2, not only the channel axis 1")]
    [InlineData("1,1,1,5", "'c': a constant of shape [1,1,1,5] varies along axis 3, not only the channel axis 1")]
    [InlineData("2,6,1,1", "'c': a constant of shape [2,6,1,1] varies along axis 0, not only the channel axis 1")]
    [InlineData("1,3,1,1", "'c': a constant of shape [1,3,1,1] has 3 values along the channel axis, which has 6")]
    [InlineData("1,1,1,1,1", "'c': a constant of shape [1,1,1,1,1] has rank 5, above the rank 4 of the tensor it broadcasts with, so it would change the result's shape")]
    public void RefusesConstantsThatAreNotPerChannel(string shape, string reason) =>
        FoldHarness.AssertRefuses(ConvThenOp("Mul", Dims(shape)), new FuseAffineIntoConv(), "Mul", reason);

    [Fact]
    public void RefusesAConstantDividedByTheConvolution()
    {
        var b = ConvThenOp("Div", [1], constantFirst: true);
        var model = b.ToIr();
        var outcome = Assert.Single(RewriteDriver.Run(model, [new FuseAffineIntoConv()]).Outcomes, o => o.OpType == "Div");
        Assert.Matches("^'Div_\\d+' divides a constant by the convolution's values, which is not affine$", outcome.Detail);
    }

    [Fact]
    public void RefusesOpsetsBeforeNumpyBroadcasting()
    {
        var model = ConvThenOp("Add", [1], opset: 6).ToIr();
        var outcome = Assert.Single(RewriteDriver.Run(model, [new FuseAffineIntoConv()]).Outcomes, o => o.OpType == "Add");
        Assert.Equal("the model imports opset 6; before opset 7 Add broadcasts through its 'broadcast' and 'axis' attributes, which this rule does not read", outcome.Detail);
    }

    [Fact]
    public void RefusesAnOpWhoseOtherInputIsComputed()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", FoldHarness.InputDims(4, 2));
        b.Input("s", 1);
        b.Node("Mul", [FoldHarness.Conv(b, "x", 4, 6, 2), "s"], ["y"]);
        FoldHarness.Output(b, "y", 4);
        FoldHarness.AssertRefuses(b, new FuseAffineIntoConv(), "Mul", "the constant 's' is computed at run time, not a constant");
    }
}
