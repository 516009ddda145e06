using System.Text.Json;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Analysis;

using DataType = Onnx.TensorProto.Types.DataType;

public sealed class AuditFusionsTests
{
    /// <summary>A test fold rooted after the conv: a Relu that alone reads a Conv's output.</summary>
    private sealed class ReluAfterConv : RewriteRule<Node>
    {
        public override string Id => "test-relu-after-conv";
        public override string Summary => "Replaces Relu(Conv(x)) with a fused conv.";
        public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Relu"];
        public override bool IsCandidate(Node node) => node.OpType == "Relu";

        public override MatchResult<Node> TryMatch(Node node, RewriteContext context)
        {
            if (node.Input(0)?.Producer is not { OpType: "Conv" } conv) return MatchResult.Fail("the input is not computed by a Conv");
            return FusionGuards.SingleConsumer(conv.Outputs[0]) is { } reason ? MatchResult.Fail(reason) : conv;
        }

        public override void Rewrite(Node match, GraphRewriter rewriter) => throw new InvalidOperationException("the audit must only match");
        public override string Describe(Node match) => $"fuse into '{match.DisplayName}'";
    }

    /// <summary>A test fold rooted at the conv itself: it applies when the conv reads a graph input.</summary>
    private sealed class ConvOnGraphInput : RewriteRule<Node>
    {
        public override string Id => "test-conv-on-input";
        public override string Summary => "Test rule rooted at Conv.";
        public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Conv"];
        public override bool IsCandidate(Node node) => node.OpType == "Conv";
        public override MatchResult<Node> TryMatch(Node node, RewriteContext context) =>
            node.Input(0)!.IsGraphInput ? node : MatchResult.Fail("the input is computed");
        public override void Rewrite(Node match, GraphRewriter rewriter) => throw new InvalidOperationException("the audit must only match");
        public override string Describe(Node match) => "fold the input";
    }

    /// <summary>x → Conv_0 (1x1) → Relu; Conv_0 → Conv_1 (1x1) → Sigmoid → y; Relu → z.</summary>
    private static AuditReport Audit()
    {
        var b = new TestModelBuilder(13, seed: 7);
        b.Input("x", 1, 4, 5, 5);
        string c0 = b.Conv("x", 4, 4, [1, 1]);
        b.Node("Relu", [c0], ["z"]);
        string c1 = b.Conv(c0, 4, 4, [1, 1]);
        b.Node("Sigmoid", [c1], ["y"]);
        b.Output("y", DataType.Float, 1, 4, 5, 5);
        b.Output("z", DataType.Float, 1, 4, 5, 5);
        return Conv1x1Audit.Run(b.ToIr(), new AuditOptions
        {
            ComputeWeightRank = false,
            FusionChecks = [RuleApplicabilityCheck.ForFusion(new ReluAfterConv()), RuleApplicabilityCheck.ForFusion(new ConvOnGraphInput())],
        });
    }

    [Fact]
    public void EachConvSaysPerFoldRuleWhetherItAppliesAndWhyNot()
    {
        var report = Audit();
        var first = report.Conv1x1[0].Fusions!;
        Assert.Equal("test-relu-after-conv", first[0].Rule);
        Assert.False(first[0].Applies);
        Assert.Matches("^'conv_[0-9]+' has 2 consumers, so it must stay$", first[0].Reason);
        Assert.Equal(new RewriteApplicability("test-conv-on-input", true, null, "fold the input"), first[1]);
        var second = report.Conv1x1[1].Fusions!;
        Assert.Equal(new RewriteApplicability("test-relu-after-conv", false, $"no Relu reads the output of '{report.Conv1x1[1].Node}'", null), second[0]);
        Assert.Equal("the input is computed", second[1].Reason);
    }

    [Fact]
    public void TheTextTableGainsAFusionsColumnNamingTheRulesThatApply()
    {
        string table = AuditFormatter.Table(Audit());
        var lines = table.Split('\n');
        Assert.EndsWith("fusions", lines[2].TrimEnd());
        Assert.EndsWith("test-conv-on-input", lines[4].TrimEnd());
        Assert.EndsWith("-", lines[5].TrimEnd());
        Assert.Contains("| fusions |", AuditFormatter.Markdown(Audit()));
    }

    [Fact]
    public void WithoutFoldRulesTheTableKeepsItsColumns()
    {
        var b = new TestModelBuilder(13, seed: 8);
        b.Output(b.Conv(b.Input("x", 1, 4, 5, 5), 4, 8, [1, 1]));
        var report = Conv1x1Audit.Run(b.ToIr(), new AuditOptions { ComputeWeightRank = false, FusionChecks = [] });
        Assert.Empty(report.Conv1x1[0].Fusions!);
        Assert.DoesNotContain("fusions", AuditFormatter.Table(report));
    }

    [Fact]
    public void TheAuditCommandReportsFusionsFromTheCatalogueFoldAndMergeSets()
    {
        var run = CliInvocation.Run("audit", Path.Combine(SampleModels.Directory, "resnet_bottleneck.onnx"), "--format", "json", "--no-rank");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        foreach (var row in json.RootElement.GetProperty("conv1x1").EnumerateArray())
            Assert.Equal(RuleCatalog.Set(RuleCatalog.FoldSet).Concat(RuleCatalog.Set(RuleCatalog.MergeSet)).Select(e => e.Id).Where(id => id != "fold-constants"),
                row.GetProperty("fusions").EnumerateArray().Select(f => f.GetProperty("rule").GetString()));
    }

    [Theory]
    [InlineData(8, true)]
    [InlineData(2, false)]
    public void BothConvsOfAOneByOneChainListTheChainMergeOrWhyItCostsMore(int middle, bool applies)
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(13, seed: 12);
        b.Input("x", 1, 16, 8, 8);
        b.Node("Conv", [b.Conv("x", 16, middle, [1, 1]), b.RandomInitializer("w2", [middle == 8 ? 4 : 16, middle, 1, 1])], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y", DataType.Float, 1, middle == 8 ? 4 : 16, 8, 8);
        var run = CliInvocation.Run("audit", b.Save(temp.File("chain.onnx")), "--format", "json", "--no-rank");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        var rows = json.RootElement.GetProperty("conv1x1").EnumerateArray().ToArray();
        Assert.Equal(2, rows.Length);
        foreach (var row in rows)
        {
            var chain = row.GetProperty("fusions").EnumerateArray().Single(f => f.GetProperty("rule").GetString() == "merge-conv-chain");
            Assert.Equal(applies, chain.GetProperty("applies").GetBoolean());
            if (!applies) Assert.Contains("more MACs", chain.GetProperty("reason").GetString());
        }
    }
}
