using OnnxConvTool.Onnx;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;

public sealed class FusePadIntoConvTests
{
    /// <summary>
    /// x → Pad → Conv (3-wide kernel, pads 1 unless <paramref name="convPadded"/> is false) → Relu → y, the Pad in its
    /// opset's form: attribute <c>pads</c> and <c>value</c> before 11, inputs since (axes since 18 when given).
    /// </summary>
    private static TestModelBuilder PadThenConv(int opset, int rank, long[] pads, long[]? axes = null, string mode = "constant", double value = 0,
        bool convPadded = true, long group = 1, DataType type = DataType.Float, params AttributeProto[] convAttributes)
    {
        var b = new TestModelBuilder(opset, seed: 53);
        b.Input("x", type, FoldHarness.InputDims(4, rank));
        var attributes = new List<AttributeProto>();
        if (mode != "constant" || opset % 2 == 0) attributes.Add(Attr.String("mode", mode));
        string padded;
        if (opset < 11)
        {
            attributes.Add(Attr.Ints(opset < 2 ? "paddings" : "pads", pads));
            if (value != 0 || opset % 2 == 1) attributes.Add(Attr.Float("value", (float)value));
            padded = b.Node("Pad", ["x"], attributes.ToArray());
        }
        else
        {
            var inputs = new List<string> { "x", b.Initializer(TestModelBuilder.Int64Tensor("pads", [pads.Length], pads)) };
            if (value != 0 || axes is not null) inputs.Add(b.Initializer(TestModelBuilder.TensorOf("value", [], [value], type)));
            if (axes is not null) inputs.Add(b.Initializer(TestModelBuilder.Int64Tensor("axes", [axes.Length], axes)));
            padded = b.Node("Pad", inputs.ToArray(), attributes.ToArray());
        }
        var conv = convAttributes.Length > 0
            ? b.Conv(padded, 4, 6, Enumerable.Repeat(3L, rank).ToArray(), group, type: type, attributes: convAttributes)
            : FoldHarness.Conv(b, padded, 4, 6, rank, group, type: type, padded: convPadded);
        b.Node("Relu", [conv], ["y"]);
        FoldHarness.Output(b, "y", rank + 2, type);
        return b;
    }

    public static TheoryData<int, int, string, string?, bool> Cases() => new()
    {
        { 7, 2, "0,0,1,2,0,0,0,1", null, true },
        { 10, 1, "0,0,2,0,0,3", null, false },
        { 11, 2, "0,0,1,1,0,0,1,1", null, false },
        { 13, 3, "0,0,1,0,2,0,0,0,1,1", null, true },
        { 17, 2, "0,0,0,2,0,0,2,0", null, true },
        { 18, 2, "1,2,0,1", "2,3", true },
        { 19, 2, "2,1,0,1", "-1,-2", false },
        { 21, 3, "1,1", "3", true },
        { 21, 2, "0,1,0,1", "1,2", true },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void AddsAZeroPadToTheConvPadsInEveryOpsetForm(int opset, int rank, string pads, string? axes, bool convPadded)
    {
        var (after, result, _) = FoldHarness.AssertFolds(PadThenConv(opset, rank, Longs(pads)!, Longs(axes), convPadded: convPadded),
            [new FusePadIntoConv()], applied: 1, maxUlps: 0);
        Assert.Equal(0, FoldHarness.Count(after, "Pad"));
        var conv = after.Graph.Nodes.Single(n => n.OpType == "Conv");
        Assert.Equal("x", conv.Inputs[0]!.Name);
        Assert.Contains("into the Conv's pads", result.Outcomes.Single(o => o.Status == OnnxConvTool.Rewriting.CandidateStatus.Applied).Detail);
    }

    /// <summary>
    /// Opset 1 (attribute <c>paddings</c>) and 2 (<c>pads</c>); ONNX Runtime runs neither's Relu: the fold is checked
    /// structurally and by the checker.
    /// </summary>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public void ReadsThePadsAttributeOfTheFirstOpsets(int opset)
    {
        var (after, _, _) = FoldHarness.AssertFolds(PadThenConv(opset, 2, [0, 0, 1, 2, 0, 0, 0, 1]), [new FusePadIntoConv()], applied: 1, maxUlps: 0,
            runsInOnnxRuntime: false);
        Assert.Equal([2L, 3, 1, 2], after.Graph.Nodes.Single(n => n.OpType == "Conv").GetInts("pads")!);
    }

    [SkippableFact]
    public void FoldsIntoAFloat16GroupedConv()
    {
        var (after, _, _) = FoldHarness.AssertFolds(PadThenConv(13, 2, [0, 0, 1, 1, 0, 0, 1, 1], group: 2, type: DataType.Float16, convPadded: false),
            [new FusePadIntoConv()], applied: 1, maxUlps: 0);
        Assert.Equal([1L, 1, 1, 1], after.Graph.Nodes.Single(n => n.OpType == "Conv").GetInts("pads")!);
    }

    private static long[]? Longs(string? text) => text is null ? null : text.Split(',').Select(long.Parse).ToArray();

    [Theory]
    [InlineData("reflect", 0.0, "0,0,1,1,0,0,1,1", "'Pad_1' pads in mode 'reflect', not with a constant")]
    [InlineData("edge", 0.0, "0,0,1,1,0,0,1,1", "'Pad_1' pads in mode 'edge', not with a constant")]
    [InlineData("constant", 1.5, "0,0,1,1,0,0,1,1", "'Pad_1' pads with 1.5, not 0")]
    [InlineData("constant", 0.0, "0,1,1,1,0,0,1,1", "'Pad_1' pads the channel axis, which a Conv cannot")]
    [InlineData("constant", 0.0, "0,0,1,-1,0,0,1,1", "'Pad_1' has negative pads [0,0,1,-1,0,0,1,1] (cropping)")]
    public void RefusesPadsAConvCannotExpress(string mode, double value, string pads, string reason)
    {
        foreach (int opset in new[] { 9, 13 })
            FoldHarness.AssertRefuses(PadThenConv(opset, 2, Longs(pads)!, mode: mode, value: value), new FusePadIntoConv(), "Conv", reason);
    }

    [Fact]
    public void RefusesAConvWithAutoPadding() =>
        FoldHarness.AssertRefuses(PadThenConv(13, 2, [0, 0, 1, 1, 0, 0, 1, 1], convAttributes: Attr.String("auto_pad", "SAME_UPPER")),
            new FusePadIntoConv(), "Conv", "'Conv_5' has auto_pad SAME_UPPER, so its pads cannot absorb explicit padding");

    [Fact]
    public void RefusesAPadWhoseOutputIsUsedElsewhere()
    {
        var b = PadThenConv(13, 2, [0, 0, 1, 1, 0, 0, 1, 1]);
        b.Node("Relu", ["pad_0"], ["side"]);
        FoldHarness.Output(b, "side", 4);
        FoldHarness.AssertRefuses(b, new FusePadIntoConv(), "Conv", "'pad_0' has 2 consumers, so it must stay");
    }
}
