using OnnxConvTool.Analysis;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

using DataType = TensorProto.Types.DataType;

public sealed class Conv1x1DetectionTests
{
    [Fact]
    public void OnlyConvsWithAllOnesKernelsAreRows()
    {
        var b = new TestModelBuilder(seed: 1);
        string x = b.Input("x", 1, 8, 9, 9);
        string a = b.Conv(x, 8, 8, [3, 3], attributes: Attr.Ints("pads", 1, 1, 1, 1));
        string c = b.Conv(a, 8, 16, [1, 1]);
        string d = b.Conv(c, 16, 16, [1, 3], attributes: Attr.Ints("pads", 0, 1, 0, 1));
        b.Output(b.Conv(d, 16, 4, [1, 1]));
        var report = Conv1x1Audit.Run(b.ToIr());

        Assert.Equal(4, report.Totals.Conv);
        Assert.Equal(2, report.Totals.Conv1x1);
        Assert.Equal([(8L, 16L), (16L, 4L)], report.Conv1x1.Select(r => (r.InChannels!.Value, r.OutChannels!.Value)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void SpatialRankGivesConv1D2D3D(int rank)
    {
        var b = new TestModelBuilder(seed: rank);
        var dims = new object[] { 1, 4 }.Concat(Enumerable.Repeat<object>(5, rank)).ToArray();
        b.Output(b.Conv(b.Input("x", dims), 4, 6, Enumerable.Repeat(1L, rank).ToArray()));
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(rank, row.Rank);
        Assert.Equal($"Conv{rank}D", row.Kind);
        Assert.Equal(Enumerable.Repeat(1L, rank), row.Strides);
        Assert.Equal(Enumerable.Repeat(0L, 2 * rank), row.Pads);
        Assert.Equal(Enumerable.Repeat(1L, rank), row.Dilations);
        Assert.Equal("NOTSET", row.AutoPad);
    }

    [Fact]
    public void KernelComesFromTheWeightWhenKernelShapeIsAbsent()
    {
        var b = new TestModelBuilder(seed: 2);
        string w1 = b.RandomInitializer("W1", [6, 4, 1, 1]);
        string w3 = b.RandomInitializer("W3", [6, 6, 3, 3]);
        string y = b.Node("Conv", [b.Input("x", 1, 4, 5, 5), w1]);
        b.Output(b.Node("Conv", [y, w3]));
        var report = Conv1x1Audit.Run(b.ToIr());

        Assert.Equal(2, report.Totals.Conv);
        var row = Assert.Single(report.Conv1x1);
        Assert.Equal((4L, 6L), (row.InChannels!.Value, row.OutChannels!.Value));
    }

    [Fact]
    public void ConvWithNoKernelShapeAndAWeightOfUnknownShapeIsCountedAsUnknown()
    {
        var b = new TestModelBuilder(seed: 2);
        b.Graph.Input.Add(new ValueInfoProto { Name = "w", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } });
        b.Output(b.Node("Conv", [b.Input("x", 1, 4, 5, 5), "w"]));
        var report = Conv1x1Audit.Run(b.ToIr());

        Assert.Empty(report.Conv1x1);
        Assert.Equal(1, report.Totals.ConvKernelUnknown);
    }

    [Theory]
    [InlineData(WeightStorage.Initializer, WeightSource.Initializer)]
    [InlineData(WeightStorage.ConstantNode, WeightSource.Constant)]
    [InlineData(WeightStorage.GraphInput, WeightSource.Dynamic)]
    public void WeightSourceIsReported(WeightStorage storage, WeightSource expected)
    {
        var b = new TestModelBuilder(opset: 9, seed: 3, irVersion: 3);
        b.Output(b.Conv(b.Input("x", 1, 4, 5, 5), 4, 8, [1, 1], storage: storage));
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(expected, row.Weight);
        Assert.Equal(expected == WeightSource.Dynamic ? null : 4, row.WeightRank);
        Assert.Equal(4 * 8 + 8, row.Params);
    }

    [Fact]
    public void ComputedWeightIsDynamic()
    {
        var b = new TestModelBuilder(seed: 4);
        string w = b.Node("Relu", [b.RandomInitializer("W", [8, 4, 1, 1])]);
        b.Output(b.Node("Conv", [b.Input("x", 1, 4, 5, 5), w], Attr.Ints("kernel_shape", 1, 1)));
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(WeightSource.Dynamic, row.Weight);
        Assert.Null(row.WeightRank);
        Assert.Null(row.RankDeficient);
        Assert.False(row.Bias);
    }

    [Fact]
    public void AttributesAreReportedAsWritten()
    {
        var b = new TestModelBuilder(seed: 5);
        b.Output(b.Conv(b.Input("x", 1, 4, 9, 9), 4, 4, [1, 1],
            attributes: [Attr.Ints("strides", 2, 3), Attr.Ints("pads", 1, 0, 1, 2), Attr.Ints("dilations", 2, 2)]));
        b.Output(b.Conv("x", 4, 4, [1, 1], attributes: Attr.String("auto_pad", "SAME_UPPER")));
        var rows = Conv1x1Audit.Run(b.ToIr()).Conv1x1;

        Assert.Equal([2L, 3L], rows[0].Strides);
        Assert.Equal([1L, 0L, 1L, 2L], rows[0].Pads);
        Assert.Equal([2L, 2L], rows[0].Dilations);
        Assert.Equal("SAME_UPPER", rows[1].AutoPad);
    }

    [Fact]
    public void ConvsInsideIfBranchesAreFoundWithTheirGraphPaths()
    {
        var b = new TestModelBuilder(seed: 6);
        string x = b.Input("x", 1, 4, 5, 5);
        string cond = b.Input("cond", DataType.Bool);
        var then = Branch(b, x, "then_out", 8);
        var @else = Branch(b, x, "else_out", 2);
        b.Graph.Node.Add(new NodeProto { OpType = "If", Name = "choose", Input = { cond }, Output = { "y" }, Attribute = { Attr.Graph("then_branch", then), Attr.Graph("else_branch", @else) } });
        b.Output("y");
        var report = Conv1x1Audit.Run(b.ToIr());

        Assert.Equal(["main/choose.then_branch", "main/choose.else_branch"], report.Conv1x1.Select(r => r.Graph));
        Assert.Equal([8L, 2L], report.Conv1x1.Select(r => r.OutChannels!.Value));
    }

    private static GraphProto Branch(TestModelBuilder outer, string x, string output, int channels)
    {
        var weight = outer.RandomTensor(output + "_W", [channels, 4, 1, 1]);
        var graph = new GraphProto { Name = output, Initializer = { weight } };
        graph.Node.Add(new NodeProto { OpType = "Conv", Name = output + "_conv", Input = { x, weight.Name }, Output = { output }, Attribute = { Attr.Ints("kernel_shape", 1, 1) } });
        graph.Output.Add(new ValueInfoProto { Name = output, Type = TestModelBuilder.TensorType(DataType.Float, null) });
        return graph;
    }
}
