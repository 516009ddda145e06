using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

using DataType = TensorProto.Types.DataType;

public sealed class ValueAndUseTests
{
    [Fact]
    public void NodeOutputKnowsItsProducerAndEveryUseWithInputIndex()
    {
        var graph = IrTestModels.MatMulAdd().ToIr().Graph;
        var (matMul, add) = (graph.Nodes[0], graph.Nodes[1]);
        var m = graph.Find("m")!;

        Assert.Same(matMul, m.Producer);
        Assert.Equal(0, m.ProducerOutputIndex);
        Assert.Equal([new Usage(add, 0), new Usage(add, 1)], m.Uses);
        Assert.Same(m, add.Inputs[0]);
        Assert.Same(m, add.Inputs[1]);
    }

    [Fact]
    public void GraphInputsOutputsAndInitializersAreValues()
    {
        var graph = IrTestModels.MatMulAdd().ToIr().Graph;
        var matMul = graph.Nodes[0];
        var x = graph.Find("x")!;
        var w = graph.Find("w")!;
        var y = graph.Find("y")!;

        Assert.Equal([x], graph.Inputs);
        Assert.True(x.IsGraphInput);
        Assert.Null(x.Producer);
        Assert.Equal([new Usage(matMul, 0)], x.Uses);

        Assert.Equal([w], graph.Initializers);
        Assert.True(w.IsInitializer);
        Assert.False(w.IsGraphInput);
        Assert.Equal([new Usage(matMul, 1)], w.Uses);
        Assert.Equal([4L, 4L], w.Initializer!.Dims);

        Assert.Equal([y], graph.Outputs);
        Assert.True(y.IsGraphOutput);
        Assert.Same(graph.Nodes[1], y.Producer);
        Assert.Empty(y.Uses);
    }

    [Fact]
    public void SetInputMovesTheUseFromOldValueToNewValue()
    {
        var graph = IrTestModels.MatMulAdd().ToIr().Graph;
        var add = graph.Nodes[1];
        var (m, x) = (graph.Find("m")!, graph.Find("x")!);

        add.SetInput(1, x);

        Assert.Equal([new Usage(add, 0)], m.Uses);
        Assert.Equal([new Usage(graph.Nodes[0], 0), new Usage(add, 1)], x.Uses);
        Assert.Empty(GraphValidator.Validate(graph.Model));
    }

    [Fact]
    public void OmittedOptionalInputIsNullAndOmittedOutputIsWrittenBackEmpty()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 4);
        b.Initializer(TestModelBuilder.TensorOf("hi", [], [6]));
        b.Node("Clip", ["x", "", "hi"], ["c"]);
        b.Node("Dropout", ["c"], ["y", ""]);
        b.Output("y");
        var model = b.ToIr();
        var clip = model.Graph.Nodes[0];
        var dropout = model.Graph.Nodes[1];

        Assert.Null(clip.Inputs[1]);
        Assert.Equal(2, dropout.Outputs.Count);
        Assert.True(dropout.Outputs[1].IsUnused);
        Assert.Equal(b.ToBytes(), ModelWriter.ToBytes(model));
    }

    [Fact]
    public void OmittedOutputKeepsItsGeneratedNameOnceSomethingReadsIt()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 4);
        b.Node("Dropout", ["x"], ["y", ""]);
        b.Output("y");
        var model = b.ToIr();
        var mask = model.Graph.Nodes[0].Outputs[1];

        model.Graph.AddOutput(mask);

        var saved = ModelWriter.ToProto(model).Graph;
        Assert.Equal(["y", mask.Name], saved.Node[0].Output);
        Assert.Equal(mask.Name, saved.Output[1].Name);
        Assert.NotEmpty(mask.Name);
    }

    [Fact]
    public void InitializerIsConstantButConstantNodeOutputIsToo()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 4);
        var initializer = b.RandomTensor("w_init", [4, 4]);
        var constant = b.RandomTensor("w_const", [4, 4]);
        b.Initializer(initializer);
        b.ConstantNode(constant);
        b.Node("MatMul", ["x", "w_init"], ["a"]);
        b.Node("MatMul", ["a", "w_const"], ["y"]);
        b.Output("y");
        var graph = b.ToIr().Graph;

        var fromInitializer = Model.TryGetConstant(graph.Find("w_init")!);
        var fromNode = Model.TryGetConstant(graph.Find("w_const")!);

        Assert.Equal(new Tensor(initializer).ToFloatArray(), fromInitializer!.ToFloatArray());
        Assert.Equal(new Tensor(constant).ToFloatArray(), fromNode!.ToFloatArray());
        Assert.Equal(ConstantSource.Initializer, Model.GetConstantSource(graph.Find("w_init")!));
        Assert.Equal(ConstantSource.ConstantNode, Model.GetConstantSource(graph.Find("w_const")!));
        Assert.Null(Model.TryGetConstant(graph.Find("x")!));
        Assert.Null(Model.TryGetConstant(graph.Find("a")!));
        Assert.Equal(ConstantSource.Dynamic, Model.GetConstantSource(graph.Find("a")!));
    }

    [Theory]
    [InlineData("value_float")]
    [InlineData("value_ints")]
    public void ConstantNodeScalarAndListAttributesAreConstants(string attribute)
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 3);
        var attr = attribute == "value_float" ? Attr.Float("value_float", 2.5f) : Attr.Ints("value_ints", 1, 2, 3);
        b.Node("Constant", [], ["k"], attr);
        b.Node("Add", ["x", "k"], ["y"]);
        b.Output("y");
        var constant = Model.TryGetConstant(b.ToIr().Graph.Find("k")!);

        Assert.NotNull(constant);
        Assert.Equal(attribute == "value_float" ? [2.5] : [1.0, 2, 3], constant!.ToDoubleArray());
    }

    [Fact]
    public void InitializerAlsoListedAsGraphInputIsNotConstant()
    {
        var b = new TestModelBuilder(opset: 8, irVersion: 3);
        b.Input("x", 1, 4);
        b.Store(b.RandomTensor("w", [4, 4]), WeightStorage.GraphInput);
        b.Node("MatMul", ["x", "w"], ["y"]);
        b.Output("y");
        var w = b.ToIr().Graph.Find("w")!;

        Assert.True(w.IsInitializer);
        Assert.True(w.IsGraphInput);
        Assert.False(w.IsConstantInitializer);
        Assert.Null(Model.TryGetConstant(w));
        Assert.Equal(ConstantSource.Dynamic, Model.GetConstantSource(w));
    }

    [Fact]
    public void ElementTypeComesFromDeclaredTypeOrInitializer()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", DataType.Float16, 4);
        b.Initializer(TestModelBuilder.Int64Tensor("shape", [1], [4]));
        b.Node("Reshape", ["x", "shape"], ["y"]);
        b.Output("y", DataType.Float16, 4);
        var graph = b.ToIr().Graph;

        Assert.Equal(DataType.Float16, graph.Find("x")!.ElementType);
        Assert.Equal(DataType.Int64, graph.Find("shape")!.ElementType);
        Assert.Equal(DataType.Float16, graph.Find("y")!.ElementType);
    }
}
