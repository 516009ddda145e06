using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

public sealed class RemovalTests
{
    [Fact]
    public void RemoveNodeRefusesWhileAnOutputIsUsed()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var matMul = model.Graph.Nodes[0];

        var error = Assert.Throws<InvalidOperationException>(() => model.Graph.RemoveNode(matMul));

        Assert.Contains("'m' is still used by 'Add_1'", error.Message);
        Assert.Equal(2, model.Graph.Nodes.Count);
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void RemoveNodeRefusesAGraphOutputProducer()
    {
        var model = IrTestModels.MatMulAdd().ToIr();

        var error = Assert.Throws<InvalidOperationException>(() => model.Graph.RemoveNode(model.Graph.Nodes[1]));

        Assert.Contains("'y' is a graph output", error.Message);
        Assert.Equal(2, model.Graph.Nodes.Count);
    }

    [Fact]
    public void RemovingADeadNodeDropsItsUsesAndItsOutputs()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        var dead = graph.CreateNode("Relu", [graph.Find("m")]);
        string deadOutput = dead.Outputs[0].Name;
        Assert.Equal(3, graph.Find("m")!.Uses.Count);

        graph.RemoveNode(dead);

        Assert.Equal(2, graph.Find("m")!.Uses.Count);
        Assert.Null(graph.Find(deadOutput));
        Assert.DoesNotContain(dead, graph.Nodes);
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void RemoveNodeRefusesANodeOfAnotherGraph()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        var add = model.AllNodes().Single(n => n.OpType == "Add");

        Assert.Throws<InvalidOperationException>(() => model.Graph.RemoveNode(add));
        Assert.Contains(add, add.Graph.Nodes);
    }

    [Fact]
    public void RemoveInitializerRefusesWhileUsedThenRemovesWhenUnused()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        var w = graph.Find("w")!;

        Assert.Throws<InvalidOperationException>(() => graph.RemoveInitializer(w));
        graph.Nodes[0].SetInput(1, graph.Find("x"));
        graph.RemoveInitializer(w);

        Assert.Empty(graph.Initializers);
        Assert.Null(graph.Find("w"));
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void RemoveInitializerRefusesOneThatIsAlsoAGraphInput()
    {
        var b = new TestModelBuilder(opset: 8, irVersion: 3);
        b.Input("x", 4);
        b.Store(b.RandomTensor("w", [4]), WeightStorage.GraphInput);
        b.Node("Relu", ["x"], ["y"]);
        b.Output("y");
        var graph = b.ToIr().Graph;

        var error = Assert.Throws<InvalidOperationException>(() => graph.RemoveInitializer(graph.Find("w")!));
        Assert.Contains("graph input", error.Message);
    }

    [Fact]
    public void ReplaceAllUsesWithMovesUsesAndOutputSlotsAndKeepsTheName()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        var y = graph.Find("y")!;
        var relu = graph.CreateNode("Relu", [graph.Find("m")]);
        var replacement = relu.Outputs[0];

        graph.ReplaceAllUsesWith(y, replacement);

        Assert.Same(replacement, graph.Outputs[0]);
        Assert.Equal("y", replacement.Name);
        Assert.NotEqual("y", y.Name);
        Assert.False(y.IsGraphOutput);
        graph.RemoveNode(y.Producer!);
        Assert.Empty(GraphValidator.Validate(model));
        Assert.Equal("y", ModelWriter.ToProto(model).Graph.Output[0].Name);
    }

    [Fact]
    public void ReplaceAllUsesWithNeverRenamesAGraphInput()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        var x = graph.Find("x")!;
        var m = graph.Find("m")!;

        graph.ReplaceAllUsesWith(m, x);

        Assert.Equal("x", x.Name);
        Assert.Equal("m", m.Name);
        Assert.Empty(m.Uses);
        Assert.Equal(3, x.Uses.Count);
        Assert.Empty(GraphValidator.Validate(model));
    }
}
