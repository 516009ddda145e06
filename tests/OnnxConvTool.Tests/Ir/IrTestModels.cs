using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

using DataType = TensorProto.Types.DataType;

/// <summary>Small models for IR tests, built as protobuf with <see cref="TestModelBuilder"/>.</summary>
internal static class IrTestModels
{
    /// <summary>x → MatMul(x, w) → m → Add(m, m) → y, with w an initializer.</summary>
    public static TestModelBuilder MatMulAdd()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 4);
        b.RandomInitializer("w", [4, 4]);
        b.Node("MatMul", ["x", "w"], ["m"]);
        b.Node("Add", ["m", "m"], ["y"]);
        b.Output("y");
        return b;
    }

    /// <summary>
    /// t = Relu(x); y = If(cond) { a = Add(t, t) } else { b = Neg(t) }: both branches read t from the outer scope.
    /// With <paramref name="thenReturnsOuterValue"/>, the then branch has no nodes and returns t itself, and
    /// the else branch negates x, so t's only reader is the then branch's output slot.
    /// </summary>
    public static TestModelBuilder IfReadingOuterValue(bool thenReturnsOuterValue = false)
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 2);
        b.Input("cond", DataType.Bool);
        b.Node("Relu", ["x"], ["t"]);
        var then = thenReturnsOuterValue ? Branch("then", "t") : Branch("then", "a", ("Add", ["t", "t"], "a"));
        var otherwise = Branch("else", "b", ("Neg", [thenReturnsOuterValue ? "x" : "t"], "b"));
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", then), Attr.Graph("else_branch", otherwise));
        b.Output("y");
        return b;
    }

    public static GraphProto Branch(string name, string output, params (string Op, string[] Inputs, string Output)[] nodes)
    {
        var graph = new GraphProto { Name = name };
        foreach (var (op, inputs, nodeOutput) in nodes)
        {
            var node = new NodeProto { OpType = op, Name = $"{name}_{op}" };
            node.Input.AddRange(inputs);
            node.Output.Add(nodeOutput);
            graph.Node.Add(node);
        }
        graph.Output.Add(TestModelBuilder.ValueInfo(output, DataType.Float, null));
        return graph;
    }
}
