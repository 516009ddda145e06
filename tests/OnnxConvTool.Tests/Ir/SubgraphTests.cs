using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

public sealed class SubgraphTests
{
    [Fact]
    public void SubgraphsAreGraphsWithParentOwnerAndPath()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        var ifNode = model.Graph.Nodes.Single(n => n.OpType == "If");
        var then = ifNode.Subgraphs["then_branch"].Single();
        var otherwise = ifNode.Subgraphs["else_branch"].Single();

        Assert.Same(model.Graph, then.Parent);
        Assert.Same(ifNode, then.OwnerNode);
        Assert.Equal("main/If_1.then_branch", then.Path);
        Assert.Equal(1, otherwise.Depth);
        Assert.Equal([model.Graph, then, otherwise], model.AllGraphs());
        Assert.Equal(["Relu", "If", "Add", "Neg"], model.AllNodes().Select(n => n.OpType));
    }

    [Fact]
    public void OuterScopeValueReadInsideBranchesCountsThoseReadsAsUses()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        var t = model.Graph.Find("t")!;
        var add = model.AllNodes().Single(n => n.OpType == "Add");
        var neg = model.AllNodes().Single(n => n.OpType == "Neg");

        Assert.Equal([new Usage(add, 0), new Usage(add, 1), new Usage(neg, 0)], t.Uses);
        Assert.Same(model.Graph, t.Graph);
        Assert.Null(add.Graph.Find("t"));
        Assert.Same(t, add.Graph.Resolve("t"));
        Assert.Equal([t], add.Graph.CapturedValues());
    }

    [Fact]
    public void ProducerOfValueReadOnlyInsideBranchesCannotBeRemoved()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        var relu = model.Graph.Nodes.Single(n => n.OpType == "Relu");

        var error = Assert.Throws<InvalidOperationException>(() => model.Graph.RemoveNode(relu));

        Assert.Contains("'t' is still used by 'then_Add'", error.Message);
        Assert.Contains(relu, model.Graph.Nodes);
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void OuterValueReturnedDirectlyByABranchCountsAsAGraphOutput()
    {
        var model = IrTestModels.IfReadingOuterValue(thenReturnsOuterValue: true).ToIr();
        var t = model.Graph.Find("t")!;
        var relu = model.Graph.Nodes.Single(n => n.OpType == "Relu");

        Assert.Empty(t.Uses);
        Assert.True(t.IsGraphOutput);
        Assert.False(t.IsUnused);
        Assert.DoesNotContain(t, model.Graph.Outputs);
        var error = Assert.Throws<InvalidOperationException>(() => model.Graph.RemoveNode(relu));
        Assert.Contains("'t' is a graph output", error.Message);
    }

    [Fact]
    public void RemovingTheOwnerNodeReleasesEverythingItsBranchesRead()
    {
        var model = IrTestModels.IfReadingOuterValue(thenReturnsOuterValue: true).ToIr();
        var graph = model.Graph;
        var ifNode = graph.Nodes.Single(n => n.OpType == "If");
        var relu = graph.Nodes.Single(n => n.OpType == "Relu");
        var identity = graph.CreateNode("Identity", [graph.Find("x")]);
        graph.SetOutput(0, identity.Outputs[0]);

        graph.RemoveNode(ifNode);

        var t = graph.Find("t")!;
        Assert.Empty(t.Uses);
        Assert.False(t.IsGraphOutput);
        Assert.Empty(graph.Find("cond")!.Uses);
        graph.RemoveNode(relu);
        Assert.Equal(["Identity"], model.AllNodes().Select(n => n.OpType));
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void SubgraphRoundTripsByteForByte()
    {
        var builder = IrTestModels.IfReadingOuterValue(thenReturnsOuterValue: true);
        Assert.Equal(builder.ToBytes(), ModelWriter.ToBytes(builder.ToIr()));
    }
}
