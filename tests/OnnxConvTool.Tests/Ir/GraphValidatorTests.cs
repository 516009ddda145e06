using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

using DataType = TensorProto.Types.DataType;

/// <summary>One test per invariant: break it (through the public API where a caller could, else internals) and expect the sentence.</summary>
public sealed class GraphValidatorTests
{
    private static string SingleProblem(Model model) => Assert.Single(GraphValidator.Validate(model));

    [Fact]
    public void ValidModelsHaveNoProblems()
    {
        Assert.Empty(GraphValidator.Validate(IrTestModels.MatMulAdd().ToIr()));
        Assert.Empty(GraphValidator.Validate(IrTestModels.IfReadingOuterValue().ToIr()));
        Assert.Empty(GraphValidator.Validate(IrTestModels.IfReadingOuterValue(thenReturnsOuterValue: true).ToIr()));
    }

    [Fact]
    public void UseBeforeDefinition()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        graph.CreateNode("Relu", [graph.Find("y")], before: graph.Nodes[0]);

        Assert.Equal("node 'Relu' in graph main uses 'y' before it is defined", SingleProblem(model));
    }

    [Fact]
    public void OuterValueReadInABranchBeforeItsProducerRuns()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        var graph = model.Graph;
        var ifNode = graph.Nodes.Single(n => n.OpType == "If");
        var late = graph.CreateNode("Exp", [graph.Find("x")], outputNames: ["late"]);
        var add = model.AllNodes().Single(n => n.OpType == "Add");
        add.SetInput(1, late.Outputs[0]);

        Assert.Equal("node 'then_Add' in graph main/If_1.then_branch uses 'late' before it is defined", SingleProblem(model));
        graph.SortTopologically();
        Assert.Empty(GraphValidator.Validate(model));
        Assert.True(graph.Nodes.ToList().IndexOf(late) < graph.Nodes.ToList().IndexOf(ifNode));
    }

    [Fact]
    public void ValueOutOfScope()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        var inner = model.AllNodes().Single(n => n.OpType == "Add").Outputs[0];
        model.Graph.CreateNode("Relu", [inner]);

        Assert.Equal("node 'Relu' in graph main uses 'a', which is not defined in its scope", SingleProblem(model));
    }

    [Fact]
    public void DoubleAssignment()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        var relu = graph.CreateNode("Relu", [graph.Find("x")]);
        relu.AddOutput(graph.Find("m")!);

        var problems = GraphValidator.Validate(model);
        Assert.Contains("value 'm' is assigned twice in graph main", problems);
        Assert.Contains(problems, p => p.StartsWith("value 'm' does not name", StringComparison.Ordinal));
    }

    [Fact]
    public void GraphOutputNotProduced()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        var dead = graph.CreateNode("Relu", [graph.Find("x")]);
        var deadOutput = dead.Outputs[0];
        graph.RemoveNode(dead);
        graph.SetOutput(0, deadOutput);

        Assert.Equal($"graph main output '{deadOutput.Name}' is not produced", SingleProblem(model));
    }

    [Fact]
    public void MissingOpsetImport()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var graph = model.Graph;
        var custom = graph.CreateNode("FancyOp", [graph.Find("y")], domain: "com.example");
        graph.SetOutput(0, custom.Outputs[0]);

        Assert.Equal("nodes use domain 'com.example' but the model imports no opset for it", SingleProblem(model));
        model.EnsureOpset("com.example", 1);
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void InitializerDataLengthDisagreesWithDims()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var tensor = Tensor.FromRawBytes("bias", DataType.Float, [4], new byte[12]);
        var bias = model.Graph.AddInitializer(tensor);
        model.Graph.Nodes[1].SetInput(1, bias);

        Assert.Equal("tensor 'bias' has 12 bytes of raw_data but dims [4] of float32 need 16", SingleProblem(model));
    }

    [Fact]
    public void UseListMissesARead()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var add = model.Graph.Nodes[1];
        model.Graph.Find("m")!.RemoveUse(new Usage(add, 1));

        Assert.Equal("use list of 'm' misses node 'Add_1' input 1", SingleProblem(model));
    }

    [Fact]
    public void UseListNamesANodeThatDoesNotReadTheValue()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        var add = model.Graph.Nodes[1];
        model.Graph.Find("x")!.AddUse(new Usage(add, 0));

        Assert.Equal("use list of 'x' names node 'Add_1' input 0, which does not read it", SingleProblem(model));
    }

    [Fact]
    public void OutputSlotCountDisagrees()
    {
        var model = IrTestModels.MatMulAdd().ToIr();
        model.Graph.Find("m")!.GraphOutputSlots++;

        Assert.Equal("value 'm' counts 1 graph-output slots but 0 graphs list it", SingleProblem(model));
    }

    [Fact]
    public void NodeInTheWrongGraph()
    {
        var model = IrTestModels.IfReadingOuterValue().ToIr();
        var relu = model.Graph.Nodes.Single(n => n.OpType == "Relu");
        relu.Graph = model.AllNodes().Single(n => n.OpType == "Add").Graph;

        Assert.Contains("node 'Relu_0' thinks it belongs to graph main/If_1.then_branch, not main", GraphValidator.Validate(model));
    }

    [Fact]
    public void LoaderRejectsWhatTheValidatorFinds()
    {
        var b = IrTestModels.MatMulAdd();
        b.Node("FancyOp", ["y"], ["z"]);
        b.Graph.Node[^1].Domain = "com.example";

        var error = Assert.Throws<ModelRejectedException>(() => b.ToIr("custom.onnx"));
        Assert.Equal("custom.onnx: nodes use domain 'com.example' but the model imports no opset for it", error.Message);
    }
}
