using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

public sealed class TopologyAndNamingTests
{
    /// <summary>Two independent chains a0→a1 and b0→b1 from x, joined by Add; node order as given.</summary>
    private static TestModelBuilder TwoChains(params string[] order)
    {
        var nodes = new Dictionary<string, (string Op, string[] Inputs)>
        {
            ["a0"] = ("Relu", ["x"]),
            ["a1"] = ("Neg", ["a0"]),
            ["b0"] = ("Sigmoid", ["x"]),
            ["b1"] = ("Abs", ["b0"]),
            ["y"] = ("Add", ["a1", "b1"]),
        };
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 4);
        foreach (string output in order) b.Node(nodes[output].Op, nodes[output].Inputs, [output]);
        b.Output("y");
        return b;
    }

    private static string[] Order(Graph graph) => graph.Nodes.Select(n => n.Outputs[0].Name).ToArray();

    [Fact]
    public void SortedFileKeepsItsNodeOrderAndBytes()
    {
        var builder = TwoChains("b0", "a0", "b1", "a1", "y");
        var model = builder.ToIr();

        model.Graph.SortTopologically();

        Assert.Equal(["b0", "a0", "b1", "a1", "y"], Order(model.Graph));
        Assert.Equal(builder.ToBytes(), ModelWriter.ToBytes(model));
    }

    [Fact]
    public void FileListingNodesOutOfOrderIsSortedAtLoad()
    {
        var model = TwoChains("y", "a1", "b0", "a0", "b1").ToIr();

        Assert.Equal(["a0", "a1", "b0", "b1", "y"], Order(model.Graph));
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void SortTopologicallyMovesOnlyWhatMustMove()
    {
        var model = TwoChains("a0", "a1", "b0", "b1", "y").ToIr();
        var graph = model.Graph;
        var a1 = graph.Nodes[1];
        var late = graph.CreateNode("Exp", [graph.Find("x")], outputNames: ["late"]);
        a1.SetInput(0, late.Outputs[0]);
        Assert.NotEmpty(GraphValidator.Validate(model));

        graph.SortTopologically();

        Assert.Equal(["a0", "late", "a1", "b0", "b1", "y"], Order(graph));
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void SortTopologicallyRefusesACycleAndLeavesTheOrderAlone()
    {
        var model = TwoChains("a0", "a1", "b0", "b1", "y").ToIr();
        var graph = model.Graph;
        graph.Nodes[0].SetInput(0, graph.Find("a1"));

        var error = Assert.Throws<InvalidOperationException>(graph.SortTopologically);

        Assert.Contains("cycle", error.Message);
        Assert.Null(graph.TopologicalOrder(out var cycleNode));
        Assert.Contains(cycleNode!.Outputs[0].Name, new[] { "a0", "a1" });
        Assert.Equal(["a0", "a1", "b0", "b1", "y"], Order(graph));
    }

    [Fact]
    public void NodeWhoseBranchReadsALaterOuterValueIsOrderedAfterItsProducer()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 2);
        b.Input("cond", OnnxConvTool.Onnx.TensorProto.Types.DataType.Bool);
        var then = IrTestModels.Branch("then", "a", ("Neg", ["t"], "a"));
        var otherwise = IrTestModels.Branch("else", "c", ("Abs", ["t"], "c"));
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", then), Attr.Graph("else_branch", otherwise));
        b.Node("Relu", ["x"], ["t"]);
        b.Output("y");

        var model = b.ToIr();

        Assert.Equal(["Relu", "If"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void UniqueNameSkipsEveryNameInTheModelIncludingSubgraphs()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();

        Assert.Equal("fresh", model.UniqueName("fresh"));
        Assert.Equal("fresh_1", model.UniqueName("fresh"));
        Assert.Equal("fresh_2", model.UniqueName("fresh"));
        Assert.Equal("t_1", model.UniqueName("t"));
        Assert.Equal("a_1", model.UniqueName("a"));
        Assert.Equal("then_Add_1", model.UniqueName("then_Add"));
        Assert.True(model.IsNameTaken("b"));
    }

    [Fact]
    public void UniqueNameSkipsNumberedNamesAlreadyInTheFile()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 4);
        b.Node("Relu", ["x"], ["y_1"]);
        b.Node("Relu", ["y_1"], ["y"]);
        b.Output("y");
        var model = b.ToIr();

        Assert.Equal("y_2", model.UniqueName("y"));
        Assert.NotEqual("", model.UniqueName(""));
    }

    [Fact]
    public void CreatedNodesGetUniqueNodeAndOutputNames()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;

        var first = graph.CreateNode("Relu", [graph.Find("y")], nameHint: "MatMul_0");
        var second = graph.CreateNode("Relu", [graph.Find("y")], nameHint: "MatMul_0");

        var names = new[] { first.Name, second.Name, first.Outputs[0].Name, second.Outputs[0].Name };
        Assert.Equal(names.Length, names.Distinct().Count());
        Assert.DoesNotContain("MatMul_0", names);
        Assert.All(names, n => Assert.DoesNotContain(n, new[] { "x", "w", "m", "y" }));
    }

    [Fact]
    public void GeneratedNameForAnOmittedOutputNeverCollidesWithALaterName()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 4);
        b.Node("Dropout", ["x"], ["d", ""]);
        b.Node("Relu", ["d"], ["Dropout_0_omitted_output"]);
        b.Output("Dropout_0_omitted_output");

        var model = b.ToIr();

        Assert.Equal("Dropout_0_omitted_output_1", model.Graph.Nodes[0].Outputs[1].Name);
        Assert.Equal(b.ToBytes(), ModelWriter.ToBytes(model));
    }

    [Fact]
    public void DefiningANameTwiceInAScopeIsRefused()
    {
        var graph = IrTestModels.MatMulAdd().ToIr().Graph;

        var error = Assert.Throws<InvalidOperationException>(() => graph.CreateNode("Relu", [graph.Find("x")], outputNames: ["m"]));
        Assert.Contains("'m' is already defined", error.Message);
        Assert.Throws<InvalidOperationException>(() => graph.Find("y")!.Name = "x");
    }
}
