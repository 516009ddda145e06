using OnnxConvTool.Analysis;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

using DataType = TensorProto.Types.DataType;

public sealed class ModelInspectionTests
{
    [Fact]
    public void CountsNodesPerOpTypeAcrossSubgraphsAndParametersOfInitializersAndConstants()
    {
        var b = new TestModelBuilder(seed: 1);
        string x = b.Input("x", "N", 4, "H", "W");
        string cond = b.Input("cond", DataType.Bool);
        var then = b.Subgraph("then");
        then.Output(then.Conv(x, 4, 8, [1, 1], storage: WeightStorage.ConstantNode));
        var @else = b.Subgraph("else");
        @else.Output(@else.Node("Relu", [@else.Conv(x, 4, 8, [3, 3], attributes: Attr.Ints("pads", 1, 1, 1, 1))]));
        b.Output(b.If(cond, then, @else)[0]);
        var inspection = ModelInspection.Of(b.ToIr());

        // then: Constant ×2 (W, B) + Conv; else: Conv + Relu; main: If.
        Assert.Equal(6, inspection.Nodes);
        Assert.Equal(5, inspection.NodesInSubgraphs);
        Assert.Equal(2, inspection.Subgraphs);
        Assert.Equal(new Dictionary<string, int> { ["Constant"] = 2, ["Conv"] = 2, ["If"] = 1, ["Relu"] = 1 }, inspection.OpTypes);
        Assert.Equal(new Dictionary<string, int> { ["Constant"] = 2, ["Conv"] = 2, ["Relu"] = 1 }, inspection.OpTypesInSubgraphs);
        Assert.Contains("Conv      2  (2 in subgraphs)", inspection.ToText());
        // 8·4 + 8 in the Constant nodes, 8·4·9 + 8 in the else branch's initializers, all float32.
        long elements = 8 * 4 + 8 + 8 * 4 * 9 + 8;
        Assert.Equal(new ParameterSummary(4, elements, 4 * elements), inspection.Parameters);
        Assert.Equal((2, 1), (inspection.Conv1x1.Conv, inspection.Conv1x1.Conv1x1));
    }

    [Fact]
    public void InputsKeepSymbolicDimsAndInitializersListedAsInputsAreCountedApart()
    {
        var b = new TestModelBuilder(opset: 9, seed: 2, irVersion: 3);
        b.Output(b.Conv(b.Input("image", "batch", 3, 32, 32), 3, 6, [1, 1], storage: WeightStorage.GraphInput), DataType.Float, "batch", 6, 32, 32);
        var inspection = ModelInspection.Of(b.ToIr());

        var input = Assert.Single(inspection.Inputs);
        Assert.Equal(("image", "float32"), (input.Name, input.Type));
        Assert.Equal([Dim.Symbolic("batch"), Dim.Known(3), Dim.Known(32), Dim.Known(32)], input.Shape);
        Assert.Equal(2, inspection.InitializerInputs);
        Assert.Equal(new OpsetEntry("ai.onnx", 9), Assert.Single(inspection.Opsets));
        Assert.Equal(3, inspection.IrVersion);

        string text = inspection.ToText();
        Assert.Contains("image  float32  [batch,3,32,32]", text);
        Assert.Contains("(and 2 initializers listed as inputs)", text);
        Assert.Contains("1x1 convolutions: 1 of 1 Conv", text);
    }

    [Fact]
    public void OpsOfOtherDomainsAreNamedWithTheirDomain()
    {
        var b = new TestModelBuilder(seed: 3);
        b.Graph.Node.Add(new NodeProto { OpType = "FusedConv", Domain = "com.microsoft", Name = "fused", Input = { b.Input("x", 1, 2, 3, 3) }, Output = { "y" } });
        b.Output("y");
        var model = b.Build();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        var inspection = ModelInspection.Of(OnnxConvTool.Ir.ModelReader.Build(model, "m.onnx", Directory.GetCurrentDirectory()));

        Assert.Equal(1, inspection.OpTypes["com.microsoft.FusedConv"]);
        Assert.Contains(new OpsetEntry("com.microsoft", 1), inspection.Opsets);
    }
}
