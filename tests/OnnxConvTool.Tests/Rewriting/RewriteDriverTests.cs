using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rewriting;

public sealed class RewriteDriverTests
{
    private static TestModelBuilder ThreeConvs()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 4, "H", "W");
        b.Node("Conv", ["x", b.RandomInitializer("w1", [4, 4, 1, 1]), b.RandomInitializer("b1", [4])], ["c1"], Attr.Ints("kernel_shape", 1, 1));
        b.Node("Conv", ["c1", b.RandomInitializer("w2", [4, 4, 3, 3])], ["c2"], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("pads", 1, 1, 1, 1));
        b.Node("Conv", ["c2", b.RandomInitializer("w3", [2, 4, 1, 1])], ["c3"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("c3", Onnx.TensorProto.Types.DataType.Float, "N", 2, "H", "W");
        return b;
    }

    [Fact]
    public void EveryCandidateGetsAnOutcomeWithWhatWasDoneOrWhyNot()
    {
        var (before, after, result) = RewriteHarness.ToMatMul(ThreeConvs());
        Assert.Equal(
        [
            "Conv_0 Applied MatMul with a [4,4] weight, bias Add",
            "Conv_1 NotApplicable the kernel is 3x3, not 1x1",
            "Conv_2 Applied MatMul with a [2,4] weight",
        ], result.Outcomes.Select(o => $"{o.NodeName} {o.Status} {o.Detail}"));
        Assert.All(result.Outcomes, o => Assert.Equal("main", o.GraphPath));
        Assert.Equal(Conv1x1ToMatMul.RuleId, result.Outcomes[0].RuleId);
        Equivalence.AssertEquivalent(before, after);
    }

    [Fact]
    public void TheRewrittenGraphReadsAsExpected()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 4, "H", "W");
        b.Node("Conv", ["x", b.RandomInitializer("w", [6, 4, 1, 1]), b.RandomInitializer("bias", [6])], ["y"], Attr.Ints("kernel_shape", 1, 1), Attr.Ints("strides", 2, 2));
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, "N", 6, "H2", "W2");
        var (_, after, _) = RewriteHarness.ToMatMul(b);
        string expected = """
            Conv_0/Slice_out = Slice(x, [0,0], [9223372036854775807,9223372036854775807], [2,3], [2,2])
            Conv_0/Reshape_out = Reshape(Conv_0/Slice_out, [0,0,-1])
            Conv_0/MatMul_out = MatMul(const[6,4], Conv_0/Reshape_out)
            Conv_0/Add_out = Add(Conv_0/MatMul_out, const[6,1])
            Conv_0/Shape_out = Shape(Conv_0/Slice_out)
            Conv_0/Gather_out = Gather(Conv_0/Shape_out, [2,3])
            Conv_0/Concat_out = Concat([0,0], Conv_0/Gather_out)
            y = Reshape(Conv_0/Add_out, Conv_0/Concat_out)
            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), RewriteHarness.Dump(after.Graph));
        Assert.DoesNotContain(after.Graph.Initializers, i => i.Name is "w" or "bias");
    }

    [Fact]
    public void OnlyAndExcludeSelectNodesByNameOrOutput()
    {
        var only = RewriteHarness.ToMatMul(ThreeConvs(), new RewriteOptions { Only = ["c3"] }).Result;
        Assert.Equal([CandidateStatus.Excluded, CandidateStatus.Excluded, CandidateStatus.Applied], only.Outcomes.Select(o => o.Status));
        Assert.Equal("not among the nodes selected by name", only.Outcomes[0].Detail);

        var exclude = RewriteHarness.ToMatMul(ThreeConvs(), new RewriteOptions { Exclude = ["Conv_0", "nothing-called-this"] }).Result;
        Assert.Equal([CandidateStatus.Excluded, CandidateStatus.NotApplicable, CandidateStatus.Applied], exclude.Outcomes.Select(o => o.Status));
        Assert.Equal("excluded by name", exclude.Outcomes[0].Detail);
        Assert.Equal(["nothing-called-this"], exclude.UnmatchedSelectors);
    }

    [Fact]
    public void ASharedWeightIsCopiedNeverModifiedAndStaysForItsOtherUser()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 3, 3);
        var w = b.RandomInitializer("w", [4, 4, 1, 1]);
        b.Node("Conv", ["x", w], ["c1"], Attr.Ints("kernel_shape", 1, 1));
        b.Node("Mul", ["c1", w], ["c2"]);
        b.Output("c2", Onnx.TensorProto.Types.DataType.Float, 4, 4, 3, 3);
        var (before, after, result) = RewriteHarness.ToMatMul(b);
        Assert.Equal(1, result.AppliedCount);
        var kept = after.Graph.Find("w")!;
        Assert.Equal([4L, 4, 1, 1], kept.Initializer!.Dims);
        Assert.Equal(before.Graph.Find("w")!.Initializer!.GetRawBytes().ToArray(), kept.Initializer.GetRawBytes().ToArray());
        Assert.Single(kept.Uses);
        Equivalence.AssertEquivalent(before, after);
    }

    [Fact]
    public void ConstantNodeWeightsThatNobodyElseUsesAreRemoved()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 3, 3);
        b.Node("Relu", [b.Conv("x", 4, 2, [1, 1], storage: WeightStorage.ConstantNode)], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 1, 2, 3, 3);
        var (_, after, _) = RewriteHarness.ToMatMul(b);
        Assert.DoesNotContain(after.Graph.Nodes, n => n.OpType is "Constant" or "Conv");
    }

    [Fact]
    public void AWeightThatIsAGraphInputIsReshapedAtRunTimeAndKept()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 3, 3);
        b.Node("Relu", [b.Conv("x", 4, 2, [1, 1], storage: WeightStorage.GraphInput)], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 1, 2, 3, 3);
        var (before, after, result) = RewriteHarness.ToMatMul(b);
        Assert.Contains("weight reshaped at run time", result.Outcomes[0].Detail);
        Assert.Equal(before.Graph.Inputs.Select(i => i.Name), after.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(before.Graph.Initializers.Count, after.Graph.Initializers.Count(i => i.IsGraphInput));
    }

    [Fact]
    public void TheRewriterRecordsTheValueNameMap()
    {
        var model = ThreeConvs().ToIr();
        var rewriter = new GraphRewriter(model);
        var conv = model.Graph.Nodes[0];
        var ops = rewriter.BuilderBefore(conv);
        var relu = ops.Node("Relu", [conv.Inputs[0]]).Outputs[0];
        rewriter.ReplaceAllUsesWith(conv.Outputs[0], relu, keepName: false);
        rewriter.RemoveNode(conv);
        Assert.Equal(relu.Name, rewriter.ValueNameMap["c1"]);
        Assert.Null(model.Graph.Find("w1"));
        Assert.Null(model.Graph.Find("b1"));
        Assert.Equal([relu.Producer!], rewriter.CreatedNodes);
        Assert.Equal(["Conv_0"], rewriter.RemovedNodes);
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void GuardsExplainThemselves()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4);
        b.Store(TestModelBuilder.TensorOf("p", [1], [1.0]), WeightStorage.GraphInput);
        b.Node("Relu", ["x"], ["r"]);
        b.Node("Add", ["r", "p"], ["y"]);
        b.Node("Neg", ["r"], ["z"]);
        b.Output("y");
        b.Output("z");
        var model = b.ToIr();
        Assert.Equal("'r' has 2 consumers, so it must stay", FusionGuards.SingleConsumer(model.Graph.Find("r")!));
        Assert.Equal("'y' is a graph output, so it must stay", FusionGuards.SingleConsumer(model.Graph.Find("y")!));
        Assert.Equal("the weight 'p' is also a graph input, so a caller may override it", FusionGuards.ConstantWeight(model.Graph.Find("p")!, "weight"));
        Assert.Equal("the scale 'r' is computed at run time, not a constant", FusionGuards.ConstantWeight(model.Graph.Find("r")!, "scale"));
        Assert.True(FusionGuards.IsUsedOutside(model.Graph.Find("r")!, model.Graph.Nodes[1]));
        Assert.Equal("folding bias 'b' across padding would add it to padded positions", FusionGuards.NoBiasAcrossPadding([0, 1], "b"));
    }
}

public sealed class RuleApplicabilityCheckTests
{
    [Fact]
    public void ReportsWhetherARuleAppliesWithoutChangingTheModel()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 6, 6);
        var c = b.Conv("x", 4, 4, [1, 1]);
        b.Node("Conv", [c, b.RandomInitializer("w", [2, 4, 1, 1])], ["y"], Attr.Ints("kernel_shape", 1, 1), Attr.Ints("pads", -1, 0, 0, 0));
        b.Output("y");
        var model = b.ToIr();
        string before = RewriteHarness.Dump(model.Graph);
        var check = new RuleApplicabilityCheck(new Conv1x1ToMatMul());
        var results = model.Graph.Nodes.Where(n => n.OpType == "Conv").Select(check.Check).ToArray();
        Assert.Equal("conv1x1-to-matmul", check.RuleId);
        Assert.True(results[0].Applies);
        Assert.Null(results[0].Reason);
        Assert.False(results[1].Applies);
        Assert.Equal("pads [-1,0,0,0] has negative values (cropping), which the rewrite does not support", results[1].Reason);
        Assert.Equal(before, RewriteHarness.Dump(model.Graph));
    }
}
