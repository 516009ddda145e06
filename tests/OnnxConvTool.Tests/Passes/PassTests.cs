using OnnxConvTool.Ir;
using OnnxConvTool.Passes;
using OnnxConvTool.Rewriting;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Ir;

namespace OnnxConvTool.Tests.Passes;

using DataType = Onnx.TensorProto.Types.DataType;

public sealed class PassTests
{
    private static PassResult Run(IGraphPass pass, Model model)
    {
        var result = pass.Run(model, new GraphRewriter(model));
        Assert.Empty(GraphValidator.Validate(model));
        return result;
    }

    private static string[] Ops(Graph graph) => graph.Nodes.Select(n => n.OpType).ToArray();

    [Fact]
    public void ADeadChainGoesInOnePassWithTheConstantsOnlyItUsed()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Relu", ["x"], ["y"]);
        string dead = b.Node("Add", ["x", b.RandomInitializer("c", [2, 3])]);
        dead = b.Node("Mul", [dead, b.ConstantNode(TestModelBuilder.TensorOf("k", [1], [2]))]);
        b.Node("Sigmoid", [dead], ["unused"]);
        b.Output("y", DataType.Float, 2, 3);
        var model = b.ToIr();

        var result = Run(new DeadNodeElimination(), model);
        Assert.True(result.Modified);
        Assert.Equal(["Relu"], Ops(model.Graph));
        Assert.Empty(model.Graph.Initializers);
        Assert.Equal(4, result.Removed);
        Assert.False(Run(new DeadNodeElimination(), model).Modified);
    }

    [Fact]
    public void ANodeReadOnlyByASubgraphIsAlive()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        Assert.False(Run(new DeadNodeElimination(), model).Modified);
        Assert.Equal(["Relu", "If"], Ops(model.Graph));
    }

    [Fact]
    public void UnusedInitializersGoButOnesThatAreGraphInputsStay()
    {
        var b = new TestModelBuilder(opset: 8, irVersion: 3);
        b.Input("x", 2, 3);
        b.RandomInitializer("used", [2, 3]);
        b.RandomInitializer("overridable", [4]);
        b.Node("Add", ["x", "used"], ["y"]);
        b.Output("y", DataType.Float, 2, 3);
        var proto = b.Build();
        proto.Graph.Input.Add(TestModelBuilder.ValueInfo("overridable", DataType.Float, [4]));
        proto.Graph.Initializer.Add(TestModelBuilder.TensorOf("orphan", [1], [5]));
        var model = ModelReader.Build(proto, "ir3.onnx", Directory.GetCurrentDirectory());

        var result = Run(new UnusedInitializerElimination(), model);
        Assert.Equal(1, result.Removed);
        Assert.Equal(["used", "overridable"], model.Graph.Initializers.Select(i => i.Name));
    }

    [Fact]
    public void AnIdentityBetweenNodesIsBypassed()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Relu", ["x"], ["r"]);
        b.Node("Identity", ["r"], ["i"]);
        b.Node("Neg", ["i"], ["y"]);
        b.Output("y", DataType.Float, 2, 3);
        var model = b.ToIr();

        var rewriter = new GraphRewriter(model);
        var result = new IdentityElimination().Run(model, rewriter);
        Assert.Equal(1, result.Removed);
        Assert.Equal(["Relu", "Neg"], Ops(model.Graph));
        Assert.Equal("r", model.Graph.Nodes[1].Inputs[0]!.Name);
        Assert.Equal("r", rewriter.ValueNameMap["i"]);
    }

    [Fact]
    public void AnIdentityThatNamesAGraphOutputHandsItsNameToItsInput()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Relu", ["x"], ["r"]);
        b.Node("Identity", ["r"], ["y"]);
        b.Node("Neg", ["r"], ["z"]);
        b.Output("y", DataType.Float, 2, 3);
        b.Output("z", DataType.Float, 2, 3);
        var model = b.ToIr();

        Assert.True(Run(new IdentityElimination(), model).Modified);
        Assert.Equal(["Relu", "Neg"], Ops(model.Graph));
        Assert.Equal(["y", "z"], model.Graph.Outputs.Select(o => o.Name));
        Assert.Same(model.Graph.Nodes[0].Outputs[0], model.Graph.Outputs[0]);
    }

    [Theory]
    [InlineData("input")]
    [InlineData("initializer")]
    [InlineData("output")]
    public void AnIdentityBetweenTheInterfaceAndAGraphOutputStays(string source)
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        string from = source switch
        {
            "input" => "x",
            "initializer" => b.RandomInitializer("c", [2, 3]),
            _ => b.Node("Relu", ["x"], ["r"])[0],
        };
        b.Node("Identity", [from], ["y"]);
        b.Output("y", DataType.Float, 2, 3);
        if (source == "output") b.Output("r", DataType.Float, 2, 3);
        var model = b.ToIr();

        Assert.False(Run(new IdentityElimination(), model).Modified);
        Assert.Contains("Identity", Ops(model.Graph));
    }

    [Fact]
    public void AnIdentityThatReturnsACapturedValueFromASubgraphStays()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 2);
        b.Input("cond", DataType.Bool);
        b.Node("Relu", ["x"], ["t"]);
        var then = IrTestModels.Branch("then", "a", ("Identity", ["t"], "a"));
        var otherwise = IrTestModels.Branch("else", "b", ("Neg", ["t"], "b"));
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", then), Attr.Graph("else_branch", otherwise));
        b.Output("y");
        var model = b.ToIr();

        Assert.False(Run(new IdentityElimination(), model).Modified);
        Assert.Single(model.AllNodes(), n => n.OpType == "Identity");
    }

    [Fact]
    public void AnIdentityWhoseInputNameASubgraphShadowsStays()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 2);
        b.Input("cond", DataType.Bool);
        b.Node("Relu", ["x"], ["t"]);
        b.Node("Identity", ["t"], ["i"]);
        var then = IrTestModels.Branch("then", "a", ("Neg", ["x"], "t"), ("Add", ["t", "i"], "a"));
        var otherwise = IrTestModels.Branch("else", "b", ("Neg", ["i"], "b"));
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", then), Attr.Graph("else_branch", otherwise));
        b.Output("y");
        var model = b.ToIr();

        Assert.False(Run(new IdentityElimination(), model).Modified);
    }

    [Fact]
    public void ThePassManagerRunsToAFixpointAndCountsPerPass()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Relu", ["x"], ["y"]);
        string i = b.Node("Identity", [b.RandomInitializer("c", [2, 3])]);
        b.Node("Identity", [i], ["unused"]);
        b.Output("y", DataType.Float, 2, 3);
        var model = b.ToIr();

        var result = PassManager.CleanUp().Run(model, new GraphRewriter(model));
        Assert.Equal(["Relu"], Ops(model.Graph));
        Assert.Empty(model.Graph.Initializers);
        Assert.True(result.Modified);
        Assert.False(result.RoundCapReached);
        Assert.Equal(2, result.Rounds);
        Assert.Equal(2, result.RemovedByPass["identity"] + result.RemovedByPass["dead-nodes"]);
        Assert.Empty(GraphValidator.Validate(model));
    }
}
