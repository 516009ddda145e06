using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rewriting;

/// <summary>Small rules that exist only to drive the fixpoint worklist through its cases.</summary>
internal static class TestRules
{
    /// <summary>Replaces <c>Neg(Neg(x))</c> with <c>x</c> when the inner Neg has one consumer.</summary>
    public sealed class NegNeg : RewriteRule<NegNeg.Match>
    {
        public sealed record Match(Node Outer, Node Inner);

        public override string Id => "test-neg-neg";
        public override string Summary => "Replaces Neg(Neg(x)) with x.";
        public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Neg"];
        public override bool IsCandidate(Node node) => node.OpType == "Neg";

        public override MatchResult<Match> TryMatch(Node node, RewriteContext context)
        {
            if (node.Input(0)?.Producer is not { OpType: "Neg" } inner) return MatchResult.Fail("the input is not computed by a Neg");
            if (FusionGuards.SingleConsumer(inner.Outputs[0]) is { } reason) return MatchResult.Fail(reason);
            return new Match(node, inner);
        }

        public override void Rewrite(Match match, GraphRewriter rewriter)
        {
            rewriter.ReplaceAllUsesWith(match.Outer.Outputs[0], match.Inner.Input(0)!);
            rewriter.RemoveNode(match.Outer);
            rewriter.RemoveNode(match.Inner);
        }

        public override string Describe(Match match) => "both Negs removed";
    }

    /// <summary>Removes a Sigmoid whose output nothing reads.</summary>
    public sealed class UnusedSigmoid : RewriteRule<Node>
    {
        public override string Id => "test-unused-sigmoid";
        public override string Summary => "Removes an unused Sigmoid.";
        public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Sigmoid"];
        public override bool IsCandidate(Node node) => node.OpType == "Sigmoid";

        public override MatchResult<Node> TryMatch(Node node, RewriteContext context) =>
            node.Outputs[0].IsUnused ? node : MatchResult.Fail("its output is used");

        public override void Rewrite(Node match, GraphRewriter rewriter) => rewriter.RemoveNode(match);
        public override string Describe(Node match) => "removed";
    }

    /// <summary>Replaces an op of type <paramref name="from"/> with a new node of type <paramref name="to"/> on the same input.</summary>
    public sealed class Retype(string from, string to) : RewriteRule<Node>
    {
        public override string Id => $"test-{from.ToLowerInvariant()}-to-{to.ToLowerInvariant()}";
        public override string Summary => $"Replaces {from} with {to}.";
        public override IReadOnlyCollection<string> RootOpTypes { get; } = [from];
        public override bool IsCandidate(Node node) => node.OpType == from;
        public override MatchResult<Node> TryMatch(Node node, RewriteContext context) => node;

        public override void Rewrite(Node match, GraphRewriter rewriter)
        {
            var replacement = rewriter.BuilderBefore(match).Node(to, [match.Input(0)]);
            rewriter.ReplaceAllUsesWith(match.Outputs[0], replacement.Outputs[0]);
            rewriter.RemoveNode(match);
        }

        public override string Describe(Node match) => $"now {to}";
    }

    /// <summary>A rule whose match sets an attribute: the purity check must catch it.</summary>
    public sealed class ImpureMatch : RewriteRule<Node>
    {
        public override string Id => "test-impure";
        public override string Summary => "Changes the graph while matching.";
        public override bool IsCandidate(Node node) => node.OpType == "Relu";

        public override MatchResult<Node> TryMatch(Node node, RewriteContext context)
        {
            node.SetAttribute("touched", 1L);
            return MatchResult.Fail("never applies");
        }

        public override void Rewrite(Node match, GraphRewriter rewriter) { }
        public override string Describe(Node match) => "";
    }
}

public sealed class FixpointDriverTests
{
    private static readonly RewriteOptions Fixpoint = new() { Fixpoint = true, ValidateAfterEachRewrite = true };

    /// <summary>x → Neg_p → Neg_m → Relu → y, with an unused Sigmoid also reading Neg_p: Neg_m only folds once the Sigmoid is gone.</summary>
    private static Model NegPairBlockedBySigmoid()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Neg", ["x"], ["p"]);
        b.Node("Neg", ["p"], ["m"]);
        b.Node("Sigmoid", ["p"], ["unused"]);
        b.Node("Relu", ["m"], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 2, 3);
        return b.ToIr();
    }

    [Fact]
    public void AConsumerWhoseGuardARewriteLiftedIsVisitedAgainAndItsOutcomeReplaced()
    {
        var model = NegPairBlockedBySigmoid();
        var result = RewriteDriver.Run(model, [new TestRules.NegNeg(), new TestRules.UnusedSigmoid()], Fixpoint);

        Assert.Equal(["Relu"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal("x", model.Graph.Nodes[0].Inputs[0]!.Name);
        var negM = Assert.Single(result.Outcomes, o => o.RuleId == "test-neg-neg" && o.NodeName == "Neg_1");
        Assert.Equal(CandidateStatus.Applied, negM.Status);
        var negP = Assert.Single(result.Outcomes, o => o.RuleId == "test-neg-neg" && o.NodeName == "Neg_0");
        Assert.Equal("the input is not computed by a Neg", negP.Detail);
        Assert.False(result.VisitCapReached);
    }

    [Fact]
    public void ASingleSweepLeavesTheBlockedCandidateWithItsReason()
    {
        var model = NegPairBlockedBySigmoid();
        var result = RewriteDriver.Run(model, [new TestRules.NegNeg(), new TestRules.UnusedSigmoid()], Fixpoint with { Fixpoint = false });

        Assert.Equal(["Neg", "Neg", "Relu"], model.Graph.Nodes.Select(n => n.OpType));
        var negM = Assert.Single(result.Outcomes, o => o.NodeName == "Neg_1");
        Assert.Equal(CandidateStatus.NotApplicable, negM.Status);
        Assert.Equal("'p' has 2 consumers, so it must stay", negM.Detail);
    }

    [Fact]
    public void NodesARewriteCreatedAreOfferedToTheRulesAndListedWhileTheyExist()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Sigmoid", ["x"], ["s"]);
        b.Node("Abs", ["s"], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 2, 3);
        var model = b.ToIr();
        var result = RewriteDriver.Run(model, [new TestRules.Retype("Sigmoid", "Tanh"), new TestRules.Retype("Tanh", "Relu")], Fixpoint);

        Assert.Equal(["Relu", "Abs"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(["test-sigmoid-to-tanh Applied", "test-tanh-to-relu Applied"], result.Outcomes.Select(o => $"{o.RuleId} {o.Status}"));
        var created = Assert.Single(result.CreatedNodes);
        Assert.Equal(new CreatedNode("main", model.Graph.Nodes[0].Name, "Relu"), created);
        Assert.Equal("s", model.Graph.Nodes[0].Outputs[0].Name);
    }

    [Fact]
    public void WithoutTheFixpointCreatedNodesAreNotRevisited()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Sigmoid", ["x"], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 2, 3);
        var model = b.ToIr();
        var result = RewriteDriver.Run(model, [new TestRules.Retype("Sigmoid", "Tanh"), new TestRules.Retype("Tanh", "Relu")]);

        Assert.Equal(["Tanh"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal("Tanh", Assert.Single(result.CreatedNodes).OpType);
    }

    [Fact]
    public void RulesThatUndoEachOtherStopAtTheVisitCapAndSaySo()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Sigmoid", ["x"], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 2, 3);
        var model = b.ToIr();
        var result = RewriteDriver.Run(model, [new TestRules.Retype("Sigmoid", "Tanh"), new TestRules.Retype("Tanh", "Sigmoid")],
            Fixpoint with { MaxVisits = 7 });

        Assert.True(result.VisitCapReached);
        Assert.Equal(7, result.Visits);
        Assert.Empty(GraphValidator.Validate(model));
        Assert.Single(model.Graph.Nodes);
    }

    [Fact]
    public void TheDefaultCapGrowsWithTheGraphAndAFinishedRunStaysUnderIt()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        string v = "x";
        for (int i = 0; i < 40; i++) v = b.Node("Neg", [v]);
        b.Node("Relu", [v], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 2, 3);
        var model = b.ToIr();
        var result = RewriteDriver.Run(model, [new TestRules.NegNeg()], Fixpoint);

        Assert.Equal(["Relu"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(20, result.AppliedCount);
        Assert.False(result.VisitCapReached);
        Assert.Equal(20, result.AppliedByRule["test-neg-neg"]);
    }

    [Fact]
    public void AMatchThatChangesTheGraphIsCaughtWhenChecking()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Relu", ["x"], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 2, 3);
        var error = Assert.Throws<InvalidOperationException>(() => RewriteDriver.Run(b.ToIr(), [new TestRules.ImpureMatch()], Fixpoint));
        Assert.Contains("rule test-impure changed the graph while matching 'Relu_0'", error.Message);
    }

    [Fact]
    public void ExcludedOriginalsStayButTheirNeighboursMayStillFold()
    {
        var model = NegPairBlockedBySigmoid();
        var result = RewriteDriver.Run(model, [new TestRules.NegNeg(), new TestRules.UnusedSigmoid()], Fixpoint with { Exclude = ["m"] });

        Assert.Equal(["Neg", "Neg", "Relu"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(CandidateStatus.Excluded, Assert.Single(result.Outcomes, o => o.NodeName == "Neg_1").Status);
        Assert.Empty(result.UnmatchedSelectors);
    }

    [Fact]
    public void ShapesOfValuesARewriteCreatesAreInferredForLaterMatches()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Sigmoid", ["x"], ["y"]);
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 2, 3);
        var model = b.ToIr();
        var rewriter = new GraphRewriter(model);
        _ = rewriter.Context.Shapes;
        var sigmoid = model.Graph.Nodes[0];
        var tanh = rewriter.BuilderBefore(sigmoid).Node("Tanh", [sigmoid.Input(0)]);
        Assert.Null(rewriter.Context.ShapeOf(tanh.Outputs[0]).Dims);
        rewriter.Context.RefreshShapes([tanh]);
        Assert.Equal("2x3", string.Join("x", rewriter.Context.ShapeOf(tanh.Outputs[0]).Dims!));
    }
}
