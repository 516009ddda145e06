using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

using static ShapeCases;
using DataType = TensorProto.Types.DataType;

/// <summary>How inference treats what it cannot or need not compute: unknown ops, declarations, control flow, bad attributes, opsets.</summary>
public sealed class InferenceBehaviourTests
{
    private static Model WithDomain(TestModelBuilder builder, string domain)
    {
        var proto = builder.Build();
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = 1 });
        return ModelReader.Build(proto, "test.onnx", Directory.GetCurrentDirectory());
    }

    [Fact]
    public void UnknownOpsLeaveOutputsUnknownAndAreListed()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        Node(b, "Einsum", ["x"], ["e"], Attr.String("equation", "ij->ji"));
        b.Graph.Node.Add(new NodeProto { OpType = "Foo", Domain = "com.example", Name = "foo", Input = { "x" }, Output = { "f" } });
        Node(b, "Relu", ["e"], ["after"]);
        Node(b, "Relu", ["f"], ["declared_after"]);
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo("f", DataType.Float, [7, "K"]));
        Out(b, "after");
        Out(b, "declared_after");
        var model = WithDomain(b, "com.example");

        var result = ShapeInference.Run(model);

        Assert.Equal(["Einsum", "com.example.Foo"], result.UnsupportedOps);
        Assert.Null(result.Get(model.Graph.Find("e")!).Dims);
        Assert.Null(result.Get(model.Graph.Find("after")!).Dims);
        Assert.Equal("[7,K]", result.Get(model.Graph.Find("declared_after")!).ToString());
    }

    [Fact]
    public void DeclaredConstantsFillDimsInferenceLeavesSymbolic()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 3, "H", "W");
        Node(b, "MaxPool", ["x"], ["p"], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2));
        Node(b, "Relu", ["p"], ["y"]);
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo("p", DataType.Float, ["N", 99, 16, "Q"]));
        Out(b, "y");
        var model = b.ToIr();
        Assert.Equal("[N,3,16,floor(W/2)]", ShapeInference.Run(model).Get(model.Graph.Find("p")!).ToString());
    }

    [Fact]
    public void GetInferredIgnoresWhatOnlyADeclarationSays()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 3, "H", "W");
        Node(b, "Relu", ["x"], ["stale"]);
        Node(b, "Relu", ["stale"], ["after"]);
        Node(b, "GlobalAveragePool", ["x"], ["pooled"]);
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo("stale", DataType.Float, ["N", 3, 1, 1]));
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo("pooled", DataType.Float, ["N", 3, 1, 1]));
        Out(b, "after");
        Out(b, "pooled");
        var model = b.ToIr();

        var result = ShapeInference.Run(model);

        Assert.Equal("[N,3,1,1]", result.Get(model.Graph.Find("stale")!).ToString());
        Assert.Null(result.GetInferred(model.Graph.Find("stale")!).Dims);
        Assert.Null(result.GetInferred(model.Graph.Find("after")!).Dims);
        Assert.Equal("[N,3,1,1]", result.GetInferred(model.Graph.Find("pooled")!).ToString());
        Assert.Equal("[N,3,H,W]", result.GetInferred(model.Graph.Find("x")!).ToString());
    }

    [Fact]
    public void APReluSlopeBroadcastsAgainstTheInput()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 4, 1, 1);
        Node(b, "PRelu", ["x", Weight(b, "slope", 4)], ["y"]);
        Out(b, "y");
        var model = b.ToIr();
        Assert.Equal("[N,4,1,4]", ShapeInference.Run(model).Get(model.Graph.Find("y")!).ToString());
    }

    [Fact]
    public void AReduceWithARepeatedAxisLeavesTheShapeUnknown()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 4, 6, 6);
        Node(b, "ReduceMean", ["x"], ["y"], Attr.Ints("axes", 2, 2));
        Out(b, "y");
        var model = b.ToIr();
        Assert.Null(ShapeInference.Run(model).Get(model.Graph.Find("y")!).Dims);
    }

    [Fact]
    public void SubgraphsSeeOuterScopeValues()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Input("cond", DataType.Bool);
        Node(b, "If", ["cond"], ["y"], Attr.Graph("then_branch", Branch("Transpose", "t")), Attr.Graph("else_branch", Branch("Relu", "r")));
        Out(b, "y");
        var model = b.ToIr();
        var result = ShapeInference.Run(model);
        var branches = model.Graph.Nodes.Single(n => n.OpType == "If").Subgraphs;
        Assert.Equal("[3,2]", result.Get(branches["then_branch"][0].Find("t")!).ToString());
        Assert.Equal("[2,3]", result.Get(branches["else_branch"][0].Find("r")!).ToString());
        Assert.Equal("[?,?]", result.Get(model.Graph.Find("y")!).ToString());
    }

    [Fact]
    public void IfBranchesOfDifferentRankGiveAnUnknownRank()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Input("cond", DataType.Bool);
        Node(b, "If", ["cond"], ["y"], Attr.Graph("then_branch", Branch("ReduceMax", "m", Attr.Int("keepdims", 0))), Attr.Graph("else_branch", Branch("Relu", "r")));
        Out(b, "y");
        var model = b.ToIr();
        var y = ShapeInference.Run(model).Get(model.Graph.Find("y")!);
        Assert.Null(y.Dims);
        Assert.Equal(DataType.Float, y.ElementType);
    }

    [Fact]
    public void LoopStateThatGrowsIsGeneralisedInsideTheBody()
    {
        var body = new GraphProto { Name = "body" };
        body.Input.Add(TestModelBuilder.ValueInfo("i", DataType.Int64, []));
        body.Input.Add(TestModelBuilder.ValueInfo("c", DataType.Bool, []));
        body.Input.Add(new ValueInfoProto { Name = "acc", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        body.Node.Add(NodeOf("Identity", ["c"], ["c_out"]));
        body.Node.Add(NodeOf("Concat", ["acc", "x"], ["grown"], Attr.Int("axis", 0)));
        body.Output.Add(new ValueInfoProto { Name = "c_out", Type = TestModelBuilder.TensorType(DataType.Bool, []) });
        body.Output.Add(new ValueInfoProto { Name = "grown", Type = TestModelBuilder.TensorType(DataType.Float, null) });

        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4);
        Node(b, "Loop", [Scalar(b, "n", 3), "", "x"], ["final"], Attr.Graph("body", body));
        Out(b, "final");
        var model = b.ToIr();
        var result = ShapeInference.Run(model);
        var loopBody = model.Graph.Nodes.Single(n => n.OpType == "Loop").Subgraphs["body"][0];
        Assert.Equal("[?,4]", result.Get(loopBody.Find("acc")!).ToString());
        Assert.Equal("[?,4]", result.Get(loopBody.Find("grown")!).ToString());
        Assert.Equal("[?,4]", result.Get(model.Graph.Find("final")!).ToString());
    }

    [Fact]
    public void MalformedAttributesGiveUnknownDimsNotExceptions()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3, 4);
        Node(b, "Transpose", ["x"], ["t"], Attr.Ints("perm", 0, 0, 1));
        Node(b, "Reshape", ["x", Ints(b, "s", -1, -1)], ["r"]);
        Node(b, "Conv", ["x", Weight(b, "w", 2, 3, 3)], ["c"], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 0));
        Node(b, "Squeeze", ["x", Ints(b, "axes", 7)], ["sq"]);
        Node(b, "Concat", ["x", "x"], ["cat"], Attr.Int("axis", 9));
        foreach (string y in new[] { "t", "r", "c", "sq", "cat" }) Out(b, y);
        var model = b.ToIr();
        var result = ShapeInference.Run(model);
        Assert.Equal("[?,?,?]", result.Get(model.Graph.Find("t")!).ToString());
        Assert.Equal("[?,?]", result.Get(model.Graph.Find("r")!).ToString());
        Assert.Equal("[2,2,?]", result.Get(model.Graph.Find("c")!).ToString());
        Assert.Null(result.Get(model.Graph.Find("sq")!).Dims);
        Assert.Null(result.Get(model.Graph.Find("cat")!).Dims);
        Assert.Empty(result.UnsupportedOps);
    }

    [Fact]
    public void AxesAreReadFromTheAttributeOrTheInputAsTheOpsetSays()
    {
        // ReduceMean takes axes as an attribute before opset 18 and as an input from 18 on; an attribute
        // in an opset-18 model is not part of the op and is not read.
        Model Build(int opset, bool attribute)
        {
            var b = new TestModelBuilder(opset);
            b.Input("x", 2, 3, 4);
            if (attribute) Node(b, "ReduceMean", ["x"], ["y"], Attr.Ints("axes", 1));
            else Node(b, "ReduceMean", ["x", Ints(b, "axes", 1)], ["y"]);
            Out(b, "y");
            return b.ToIr();
        }
        string Shape(Model m) => ShapeInference.Run(m).Get(m.Graph.Find("y")!).ToString();
        Assert.Equal("[2,1,4]", Shape(Build(13, attribute: true)));
        Assert.Equal("[2,1,4]", Shape(Build(18, attribute: false)));
        Assert.Equal("[1,1,1]", Shape(Build(18, attribute: true)));
    }

    [Fact]
    public void RecurrentLayoutOneIsBatchFirst()
    {
        // ONNX Runtime does not run layout=1, so this follows the LSTM schema (opset 14): Y is [batch, seq, dirs, hidden].
        var b = new TestModelBuilder(14);
        b.Input("x", 2, 5, 3);
        Node(b, "LSTM", ["x", Weight(b, "w", 2, 16, 3), Weight(b, "r", 2, 16, 4)], ["y", "h", "c"], Attr.String("direction", "bidirectional"), Attr.Int("layout", 1));
        var model = b.ToIr();
        var result = ShapeInference.Run(model);
        Assert.Equal("[2,5,2,4]", result.Get(model.Graph.Find("y")!).ToString());
        Assert.Equal("[2,2,4]", result.Get(model.Graph.Find("h")!).ToString());
        Assert.Equal("[2,2,4]", result.Get(model.Graph.Find("c")!).ToString());
    }

    [Fact]
    public void ConstantNodeWeightsGiveConvShapes()
    {
        var b = new TestModelBuilder(11);
        b.Input("x", "N", 3, 16, 16);
        string y = b.Conv("x", 3, 8, [1, 1], storage: WeightStorage.ConstantNode);
        Out(b, y);
        var model = b.ToIr();
        Assert.Equal("[N,8,16,16]", ShapeInference.Run(model).Get(model.Graph.Find(y)!).ToString());
    }

    [Fact]
    public void NodesOutOfOrderAfterAnEditAreInferredInDependencyOrder()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3, 8, 8);
        Node(b, "MaxPool", ["x"], ["pool"], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2));
        Out(b, "pool");
        var model = b.ToIr();
        var pool = model.Graph.Nodes[0];
        var transpose = model.Graph.CreateNode("Transpose", [model.Graph.Find("x")], nameHint: "nhwc");
        transpose.SetAttribute("perm", [0L, 2, 3, 1]);
        pool.SetInput(0, transpose.Outputs[0]);
        Assert.Same(transpose, model.Graph.Nodes[^1]);

        Assert.Equal("[2,8,4,1]", ShapeInference.Run(model).Get(model.Graph.Find("pool")!).ToString());
    }

    [Fact]
    public void InitializersThatInputsCanOverrideAreNotFolded()
    {
        var b = new TestModelBuilder(8, irVersion: 3);
        b.Input("x", 2, 3, 4);
        b.Store(TestModelBuilder.Int64Tensor("shape", [2], [6, 4]), WeightStorage.GraphInput);
        Node(b, "Reshape", ["x", "shape"], ["y"]);
        Out(b, "y");
        var model = b.ToIr();
        Assert.Equal("[?,?]", ShapeInference.Run(model).Get(model.Graph.Find("y")!).ToString());
    }
}
