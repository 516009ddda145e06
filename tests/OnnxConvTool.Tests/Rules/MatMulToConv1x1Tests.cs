using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules;

using DataType = TensorProto.Types.DataType;

public sealed class MatMulToConv1x1Tests
{
    private static readonly Dictionary<string, Action<TestModelBuilder>> Patterns = new()
    {
        ["matmul-rank2-bias"] = b =>
        {
            b.Input("x", "N", 6);
            var m = b.Node("MatMul", ["x", b.RandomInitializer("w", [6, 4])]);
            b.Node("Add", [m, b.RandomInitializer("bias", [4])], ["y"]);
            b.Output("y", DataType.Float, "N", 4);
        },
        ["matmul-rank3-bias"] = b =>
        {
            b.Input("x", "N", "T", 6);
            var m = b.Node("MatMul", ["x", b.RandomInitializer("w", [6, 5])]);
            b.Node("Add", [b.RandomInitializer("bias", [1, 1, 5]), m], ["y"]);
            b.Output("y", DataType.Float, "N", "T", 5);
        },
        ["matmul-rank4-nhwc"] = b =>
        {
            b.Input("x", "N", 3, 4, 6);
            b.Node("MatMul", ["x", b.RandomInitializer("w", [6, 2])], ["y"]);
            b.Output("y", DataType.Float, "N", 3, 4, 2);
        },
        ["matmul-rank5"] = b =>
        {
            b.Input("x", 2, 2, 3, 2, 4);
            var m = b.Node("MatMul", ["x", b.RandomInitializer("w", [4, 3])]);
            b.Node("Relu", [b.Node("Add", [m, b.RandomInitializer("bias", [3])])], ["y"]);
            b.Output("y", DataType.Float, 2, 2, 3, 2, 3);
        },
        ["matmul-weight-left-ncl"] = b =>
        {
            b.Input("x", "N", 6, "L");
            var m = b.Node("MatMul", [b.RandomInitializer("w", [4, 6]), "x"]);
            b.Node("Add", [m, b.RandomInitializer("bias", [4, 1])], ["y"]);
            b.Output("y", DataType.Float, "N", 4, "L");
        },
        ["gemm-transb-c"] = b =>
        {
            b.Input("x", "N", 6);
            b.Node("Gemm", ["x", b.RandomInitializer("w", [4, 6]), b.RandomInitializer("c", [4])], ["y"], Attr.Int("transB", 1));
            b.Output("y", DataType.Float, "N", 4);
        },
        ["gemm-transa-alpha-beta-c-row"] = b =>
        {
            b.Input("x", 6, "N");
            b.Node("Gemm", ["x", b.RandomInitializer("w", [6, 4]), b.RandomInitializer("c", [1, 4])], ["y"], Attr.Int("transA", 1), Attr.Float("alpha", 0.5f), Attr.Float("beta", 2f));
            b.Output("y", DataType.Float, "N", 4);
        },
        ["gemm-scalar-c-then-add"] = b =>
        {
            b.Input("x", "N", 6);
            var g = b.Node("Gemm", ["x", b.RandomInitializer("w", [6, 4]), b.RandomInitializer("c", [1])]);
            b.Node("Add", [g, b.RandomInitializer("bias", [4])], ["y"]);
            b.Output("y", DataType.Float, "N", 4);
        },
    };

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in Patterns.Keys)
            foreach (int opset in Conv1x1ToMatMulTests.Opsets)
                data.Add(name, opset);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void RewritesMatMulAndGemmPatternsToEquivalentConvs(string pattern, int opset)
    {
        var b = new TestModelBuilder(opset, seed: 11);
        Patterns[pattern](b);
        var (before, after, result) = RewriteHarness.Run(b, new MatMulToConv1x1());
        var counts = RewriteHarness.OpCounts(after);
        Assert.Equal(1, counts["Conv"]);
        Assert.False(counts.ContainsKey("MatMul") || counts.ContainsKey("Gemm") || counts.ContainsKey("Add"));
        Assert.Equal(CandidateStatus.Applied, Assert.Single(result.Outcomes).Status);
        Equivalence.AssertEquivalent(before, after);
        PythonOracle.AssertValid(after);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(17)]
    public void RoundTripThroughMatMulAndBackIsEquivalent(int opset)
    {
        var b = new TestModelBuilder(opset, seed: 3);
        b.Input("x", "N", 8, 5);
        b.Node("Relu", [b.Conv("x", 8, 6, [1])], ["y"]);
        b.Output("y", DataType.Float, "N", 6, 5);
        var original = b.ToIr();
        var model = b.ToIr();
        RewriteDriver.Run(model, [new Conv1x1ToMatMul()]);
        var back = RewriteDriver.Run(model, [new MatMulToConv1x1()]);
        Assert.Equal(1, back.AppliedCount);
        Assert.Equal(["Conv", "Relu"], model.Graph.Nodes.Select(n => n.OpType));
        Equivalence.AssertEquivalent(original, model);
    }

    private static string Refusal(Action<TestModelBuilder> build, int opset = 13)
    {
        var b = new TestModelBuilder(opset);
        build(b);
        var (_, _, result) = RewriteHarness.Run(b, new MatMulToConv1x1());
        var outcome = Assert.Single(result.Outcomes);
        Assert.Equal(CandidateStatus.NotApplicable, outcome.Status);
        return outcome.Detail;
    }

    [Fact]
    public void ADynamicWeightIsRefused() => Assert.Equal("neither input of 'MatMul_0' is a constant weight", Refusal(b =>
    {
        b.Input("x", 2, 6);
        b.Input("z", 6, 4);
        b.Node("MatMul", ["x", "z"], ["y"]);
        b.Output("y");
    }));

    [Fact]
    public void AnOverridableWeightIsRefused() => Assert.Equal("the weight 'w' is also a graph input, so a caller may override it", Refusal(b =>
    {
        b.Input("x", 2, 6);
        b.Node("MatMul", ["x", b.Store(b.RandomTensor("w", [6, 4]), WeightStorage.GraphInput)], ["y"]);
        b.Output("y");
    }));

    [Fact]
    public void AWeightOfRank3IsRefused() => Assert.Equal("the weight 'w' has rank 3, not 2", Refusal(b =>
    {
        b.Input("x", 2, 3, 6);
        b.Node("MatMul", ["x", b.RandomInitializer("w", [2, 6, 4])], ["y"]);
        b.Output("y");
    }));

    [Fact]
    public void AnUnknownRankIsRefused() => Assert.Equal("the rank of 'x' is unknown", Refusal(b =>
    {
        b.Graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } });
        b.Node("MatMul", ["x", b.RandomInitializer("w", [6, 4])], ["y"]);
        b.Output("y");
    }));

    [Fact]
    public void ARankAboveFiveIsRefused() => Assert.Equal("'x' has rank 6; only ranks 2 to 5 map onto a Conv", Refusal(b =>
    {
        b.Input("x", 1, 1, 1, 1, 2, 6);
        b.Node("MatMul", ["x", b.RandomInitializer("w", [6, 4])], ["y"]);
        b.Output("y");
    }));

    [Fact]
    public void AGemmCThatVariesAlongRowsIsRefused() => Assert.Equal("Gemm's C 'c' does not broadcast along the out channels only", Refusal(b =>
    {
        b.Input("x", 3, 6);
        b.Node("Gemm", ["x", b.RandomInitializer("w", [6, 4]), b.RandomInitializer("c", [3, 4])], ["y"]);
        b.Output("y");
    }));

    [Fact]
    public void Bfloat16BeforeOpset22IsRefused() => Assert.Equal("Conv accepts bfloat16 only from opset 22, and the model imports opset 21 (the opset is never raised)", Refusal(b =>
    {
        b.Input("x", DataType.Bfloat16, 2, 6);
        b.Node("MatMul", ["x", b.RandomInitializer("w", [6, 4], DataType.Bfloat16)], ["y"]);
        b.Output("y", DataType.Bfloat16, 2, 4);
    }, opset: 21));

    [Fact]
    public void AnAddWhoseConstantBroadcastsFurtherStaysSeparate()
    {
        var b = new TestModelBuilder(13, seed: 2);
        b.Input("x", 2, 6);
        var m = b.Node("MatMul", ["x", b.RandomInitializer("w", [6, 4])]);
        b.Node("Add", [m, b.RandomInitializer("bias", [2, 4])], ["y"]);
        b.Output("y", DataType.Float, 2, 4);
        var (before, after, result) = RewriteHarness.Run(b, new MatMulToConv1x1());
        Assert.Equal(1, result.AppliedCount);
        Assert.Contains(after.Graph.Nodes, n => n.OpType == "Add");
        Equivalence.AssertEquivalent(before, after);
    }
}
