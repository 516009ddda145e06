using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rewriting;

public sealed class AttrOrInputTests
{
    private static (Model Model, OpBuilder Ops, Value X) Start(int opset)
    {
        var model = new TestModelBuilder(opset).Also(b => b.Input("x", 1, 2, 6, 4)).ToIr();
        return (model, new OpBuilder(model.Graph), model.Graph.Find("x")!);
    }

    [Theory]
    [InlineData(4, AttrOrInputSource.Attribute)]
    [InlineData(9, AttrOrInputSource.Attribute)]
    [InlineData(10, AttrOrInputSource.ConstantInput)]
    [InlineData(13, AttrOrInputSource.ConstantInput)]
    [InlineData(21, AttrOrInputSource.ConstantInput)]
    public void ReadsBackWhatTheBuilderWroteAtEveryOpset(int opset, AttrOrInputSource sliceSource)
    {
        var (_, ops, x) = Start(opset);
        var reshape = ops.Reshape(x, 0, 2, -1).Producer!;
        Assert.Equal([0L, 2, -1], AttrOrInput.ReshapeShape(reshape).Values!);

        var slice = ops.Slice(x, [1], [5], [2]).Producer!;
        var (starts, ends, axes, steps) = AttrOrInput.Slice(slice);
        Assert.Equal(sliceSource, starts.Source);
        Assert.Equal([1L], starts.Values!);
        Assert.Equal([5L], ends.Values!);
        Assert.Equal([2L], axes.Values!);
        Assert.Equal(AttrOrInputSource.Absent, steps.Source);

        var pad = ops.PadWithZeros(x, 0, 0, 1, 2, 0, 0, 3, 4).Producer!;
        Assert.Equal([0L, 0, 1, 2, 0, 0, 3, 4], AttrOrInput.Pads(pad).Values!);

        var squeeze = ops.Squeeze(x, 0).Producer!;
        Assert.Equal([0L], AttrOrInput.Axes(squeeze).Values!);

        var split = ops.Split(x, 2, 2, 4)[0].Producer!;
        Assert.Equal([2L, 4L], AttrOrInput.SplitSizes(split).Values!);

        var reduce = ops.ReduceSum(x, [1, 3], keepDims: true).Producer!;
        Assert.Equal([1L, 3L], AttrOrInput.ReduceAxes(reduce).Values!);
    }

    [Fact]
    public void ReadsAConstantNodeInput()
    {
        var builder = new TestModelBuilder(13);
        builder.Input("x", 2, 3);
        var shape = builder.ConstantNode(TestModelBuilder.Int64Tensor("shape", [2], [3, 2]));
        builder.Node("Reshape", ["x", shape], ["y"]);
        builder.Output("y");
        var model = builder.ToIr();
        var read = AttrOrInput.ReshapeShape(model.Graph.Find("y")!.Producer!);
        Assert.Equal(AttrOrInputSource.ConstantInput, read.Source);
        Assert.Equal([3L, 2L], read.Values!);
    }

    [Fact]
    public void AnInitializerAGraphInputCanOverrideIsDynamic()
    {
        var builder = new TestModelBuilder(13);
        builder.Input("x", 2, 3);
        builder.Store(TestModelBuilder.Int64Tensor("shape", [2], [3, 2]), WeightStorage.GraphInput);
        builder.Node("Reshape", ["x", "shape"], ["y"]);
        builder.Output("y");
        var read = AttrOrInput.ReshapeShape(builder.ToIr().Graph.Find("y")!.Producer!);
        Assert.Equal(AttrOrInputSource.DynamicInput, read.Source);
        Assert.Null(read.Values);
        Assert.Equal("'shape' comes from 'shape', which is computed at run time", read.Description);
    }

    [Fact]
    public void AComputedInputIsDynamicAndAMissingOneAbsent()
    {
        var builder = new TestModelBuilder(13);
        builder.Input("x", 2, 3);
        var shape = builder.Node("Shape", ["x"]);
        builder.Node("Reshape", ["x", shape], ["y"]);
        builder.Node("Squeeze", ["x"], ["z"]);
        var model = builder.ToIr();
        Assert.Equal(AttrOrInputSource.DynamicInput, AttrOrInput.ReshapeShape(model.Graph.Find("y")!.Producer!).Source);
        Assert.Equal(AttrOrInputSource.Absent, AttrOrInput.Axes(model.Graph.Find("z")!.Producer!).Source);
    }
}
