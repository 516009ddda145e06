using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

using DataType = Onnx.TensorProto.Types.DataType;

/// <summary>The behaviour the O(1) edits keep: order, snapshots, output slots, and the version every edit bumps.</summary>
public sealed class EditCostTests
{
    private static Model Chain(int length)
    {
        var b = new TestModelBuilder(13);
        string v = b.Input("x", 2, 3);
        for (int i = 0; i < length; i++) v = b.Node("Relu", [v]);
        b.Node("Neg", [v], ["y"]);
        b.Output("y", DataType.Float, 2, 3);
        return b.ToIr();
    }

    [Fact]
    public void AListOfNodesAlreadyReturnedDoesNotChangeWhenTheGraphDoes()
    {
        var model = Chain(3);
        var before = model.Graph.Nodes;
        var inserted = model.Graph.CreateNode("Abs", [model.Graph.Inputs[0]], before: before[1]);
        Assert.Equal(4, before.Count);
        Assert.Equal(5, model.Graph.NodeCount);
        Assert.Same(inserted, model.Graph.Nodes[1]);
        Assert.True(model.Graph.Contains(inserted));
        new GraphRewriter(model).RemoveNode(inserted);
        Assert.False(model.Graph.Contains(inserted));
        Assert.Equal(before, model.Graph.Nodes);
    }

    [Fact]
    public void RemovingInitializersKeepsTheOthersInOrder()
    {
        var model = Chain(1);
        var a = model.Graph.AddInitializer(Tensor.FromFloats("a", [1], [1]));
        var b = model.Graph.AddInitializer(Tensor.FromFloats("b", [1], [2]));
        var c = model.Graph.AddInitializer(Tensor.FromFloats("c", [1], [3]));
        model.Graph.RemoveInitializer(b);
        Assert.Equal([a, c], model.Graph.Initializers);
        Assert.Null(model.Graph.Find("b"));
    }

    [Fact]
    public void ReplacingAValueMovesEveryUseInOrderAndItsGraphOutputSlot()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Relu", ["x"], ["r"]);
        b.Node("Add", ["r", "r"], ["a"]);
        b.Node("Neg", ["r"], ["n"]);
        b.Output("r", DataType.Float, 2, 3);
        b.Output("a", DataType.Float, 2, 3);
        b.Output("n", DataType.Float, 2, 3);
        var model = b.ToIr();
        var relu = model.Graph.Nodes[0];
        var abs = model.Graph.CreateNode("Abs", [model.Graph.Inputs[0]], before: relu);

        model.Graph.ReplaceAllUsesWith(relu.Outputs[0], abs.Outputs[0]);
        Assert.Equal([(model.Graph.Nodes[2], 0), (model.Graph.Nodes[2], 1), (model.Graph.Nodes[3], 0)],
            abs.Outputs[0].Uses.Select(u => (u.Node, u.InputIndex)));
        Assert.Empty(relu.Outputs[0].Uses);
        Assert.Same(abs.Outputs[0], model.Graph.Outputs[0]);
        Assert.Equal("r", abs.Outputs[0].Name);
        Assert.False(relu.Outputs[0].IsGraphOutput);
    }

    [Fact]
    public void EveryEditBumpsTheModelVersionAndReadingDoesNot()
    {
        var model = Chain(2);
        long version = model.Version;
        _ = model.Graph.Nodes;
        _ = new RewriteContext(model).ShapeOf(model.Graph.Outputs[0]);
        Assert.Equal(version, model.Version);

        var node = model.Graph.Nodes[0];
        void Bumps(Action edit)
        {
            long before = model.Version;
            edit();
            Assert.True(model.Version > before);
        }
        Bumps(() => node.SetAttribute("alpha", 1f));
        Bumps(() => node.RemoveAttribute("alpha"));
        Bumps(() => node.Name = "renamed");
        Bumps(() => node.Outputs[0].Name = "renamed_out");
        Bumps(() => model.Graph.AddInitializer(Tensor.FromFloats("k", [1], [1])));
        Bumps(() => node.SetInput(0, model.Graph.Find("k")));
        Bumps(() => model.Graph.CreateNode("Abs", [model.Graph.Inputs[0]]));
    }
}
