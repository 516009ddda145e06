using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Merges;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rules.Merges;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The audit previews merges without forming merged weights (<see cref="RewriteContext.PreviewOnly"/>): its answer —
/// applied with the same description, or refused with the same sentence — must be the one the full match and the
/// driver give, float16 overflow and non-finite weights included.
/// </summary>
public sealed class MergePreviewTests
{
    private const int Channels = 4;

    /// <summary>A Conv named <paramref name="name"/> with the given weight values (and bias values), on <paramref name="input"/>.</summary>
    private static string Conv(TestModelBuilder b, string name, string input, long[] dims, double[] weight, double[]? bias, DataType type, params AttributeProto[] attributes)
    {
        var inputs = new List<string> { input, b.Initializer(TestModelBuilder.TensorOf(name + "_w", dims, weight, type)) };
        if (bias is not null) inputs.Add(b.Initializer(TestModelBuilder.TensorOf(name + "_b", [dims[0]], bias, type)));
        b.Node("Conv", inputs.ToArray(), [name + "_y"], [Attr.Ints("kernel_shape", dims[2..]), .. attributes]);
        return name + "_y";
    }

    private static double[] Filled(long count, Func<long, double> value) => Enumerable.Range(0, (int)count).Select(i => value(i)).ToArray();

    private static TestModelBuilder Start(DataType type)
    {
        var b = new TestModelBuilder(13, seed: 3);
        b.Input("x", type, 1, Channels, 5, 5);
        return b;
    }

    /// <summary>Two 1x1 convs in a row, weights from <paramref name="first"/> and <paramref name="second"/> (index → value).</summary>
    private static Model Chain(DataType type, Func<long, double> first, Func<long, double> second, double[]? firstBias = null)
    {
        var b = Start(type);
        string y = Conv(b, "first", "x", [Channels, Channels, 1, 1], Filled(Channels * Channels, first), firstBias, type);
        y = Conv(b, "second", y, [Channels, Channels, 1, 1], Filled(Channels * Channels, second), null, type);
        b.Output(y, type, 1, Channels, 5, 5);
        return b.ToIr();
    }

    /// <summary>Two 1x1 convs on x whose outputs one Concat joins.</summary>
    private static Model Siblings(DataType type, Func<long, double> first, Func<long, double> second)
    {
        var b = Start(type);
        string p = Conv(b, "left", "x", [Channels, Channels, 1, 1], Filled(Channels * Channels, first), null, type);
        string q = Conv(b, "right", "x", [Channels, Channels, 1, 1], Filled(Channels * Channels, second), null, type);
        b.Node("Concat", [p, q], ["y"], Attr.Int("axis", 1));
        b.Output("y", type, 1, 2 * Channels, 5, 5);
        return b.ToIr();
    }

    /// <summary>A padded 3x3 conv plus a parallel 1x1 conv (or the identity when <paramref name="pointwise"/> is null) on x.</summary>
    private static Model RepVgg(DataType type, Func<long, double> dense, Func<long, double>? pointwise)
    {
        var b = Start(type);
        string k = Conv(b, "dense", "x", [Channels, Channels, 3, 3], Filled(Channels * Channels * 9, dense), Filled(Channels, _ => 0.5), type,
            Attr.Ints("pads", 1, 1, 1, 1));
        string other = pointwise is null ? "x" : Conv(b, "pointwise", "x", [Channels, Channels, 1, 1], Filled(Channels * Channels, pointwise), null, type);
        b.Node("Add", [k, other], ["y"]);
        b.Output("y", type, 1, Channels, 5, 5);
        return b.ToIr();
    }

    private static Node Named(Model model, string name) => model.Graph.Nodes.Single(n => n.DisplayName == name);

    private static Node Root(Model model, IRewriteRule rule) => rule switch
    {
        MergeConvChain => model.Graph.Nodes.Single(n => n.Outputs[0].Name == "second_y"),
        MergeRepVggBranches => model.Graph.Nodes.Single(n => n.OpType == "Add"),
        _ => model.Graph.Nodes.First(n => n.OpType == "Conv"),
    };

    /// <summary>
    /// Asserts the preview-only answer equals the full match's, that the driver applies or refuses the same way (refusing
    /// with the same sentence), and returns the preview.
    /// </summary>
    private static RuleAttempt AssertPreviewAgrees(Func<Model> build, IRewriteRule rule, bool applies)
    {
        var model = build();
        var root = Root(model, rule);
        var preview = rule.Preview(root, new RewriteContext(model) { PreviewOnly = true });
        var full = rule.Preview(root, new RewriteContext(model));
        Assert.Equal(full, preview);
        Assert.True(applies == preview.Applied, preview.Detail);

        var rewritten = build();
        var result = RewriteDriver.Run(rewritten, [rule]);
        Assert.Equal(applies ? 1 : 0, result.AppliedCount);
        var outcome = result.Outcomes.Single(o => o.NodeName == root.DisplayName);
        Assert.Equal(applies ? CandidateStatus.Applied : CandidateStatus.NotApplicable, outcome.Status);
        Assert.Equal(preview.Detail, outcome.Detail);
        return preview;
    }

    private static double Spread(long i) => ((i * 7) % 11 - 5) / 10.0;

    [Theory]
    [InlineData(DataType.Float)]
    [InlineData(DataType.Float16)]
    [InlineData(DataType.Bfloat16)]
    public void AChainMergePreviewDescribesTheMergeTheDriverApplies(DataType type)
    {
        var preview = AssertPreviewAgrees(() => Chain(type, Spread, i => Spread(i + 3), firstBias: [0.5, -1, 2, 0.25]), new MergeConvChain(), applies: true);
        Assert.Equal("one 1x1 Conv [4,4] for 'Conv_0' then 'Conv_1': MACs 800 → 400 (2.0× fewer), parameters 36 → 20", preview.Detail);
    }

    [Fact]
    public void AChainWhoseMergedWeightOverflowsFloat16IsRefusedByPreviewAndDriverAlike()
    {
        var preview = AssertPreviewAgrees(() => Chain(DataType.Float16, _ => 300, _ => 300), new MergeConvChain(), applies: false);
        Assert.Equal("the merged weight overflows float16: 360000 at index 0 is beyond its largest value 65504", preview.Detail);
    }

    [Fact]
    public void AChainWhoseMergedBiasOverflowsFloat16IsRefusedByPreviewAndDriverAlike()
    {
        var preview = AssertPreviewAgrees(() => Chain(DataType.Float16, _ => 1, _ => 3, firstBias: [60000, 60000, 60000, 60000]), new MergeConvChain(), applies: false);
        Assert.StartsWith("the merged bias overflows float16: ", preview.Detail);
    }

    [Fact]
    public void AChainWhoseBoundExceedsFloat16ButWhoseTermsCancelIsMerged() =>
        // |W₂|·|W₁| bounds the merged weight by 360000, but alternating signs make every merged value 0.
        AssertPreviewAgrees(() => Chain(DataType.Float16, _ => 300, i => i % 2 == 0 ? 300 : -300), new MergeConvChain(), applies: true);

    [Fact]
    public void AChainWithANaNWeightIsRefusedByPreviewAndDriverAlike()
    {
        var preview = AssertPreviewAgrees(() => Chain(DataType.Float, i => i == 5 ? double.NaN : 0.5, Spread), new MergeConvChain(), applies: false);
        Assert.StartsWith("the merged weight has a non-finite value (NaN) at index ", preview.Detail);
    }

    [Theory]
    [InlineData(DataType.Float)]
    [InlineData(DataType.Float16)]
    public void ASiblingMergePreviewDescribesTheMergeTheDriverApplies(DataType type)
    {
        var preview = AssertPreviewAgrees(() => Siblings(type, Spread, _ => 60000), new MergeSiblingConvs(), applies: true);
        Assert.Contains("for 2 siblings", preview.Detail);
    }

    [Fact]
    public void SiblingsWithAnInfiniteWeightAreRefusedByPreviewAndDriverAlike()
    {
        var preview = AssertPreviewAgrees(() => Siblings(DataType.Float16, Spread, i => i == 2 ? double.PositiveInfinity : 1), new MergeSiblingConvs(), applies: false);
        Assert.StartsWith("the merged weight has a non-finite value (∞) at index ", preview.Detail.Replace("Infinity", "∞"));
    }

    [Theory]
    [InlineData(DataType.Float, true)]
    [InlineData(DataType.Float16, true)]
    [InlineData(DataType.Float, false)]
    [InlineData(DataType.Float16, false)]
    public void ARepVggMergePreviewDescribesTheMergeTheDriverApplies(DataType type, bool pointwise)
    {
        var preview = AssertPreviewAgrees(() => RepVgg(type, Spread, pointwise ? i => Spread(i + 1) : null), new MergeRepVggBranches(), applies: true);
        Assert.Contains(pointwise ? "absorbs the 1x1 Conv" : "absorbs the identity", preview.Detail);
    }

    [Fact]
    public void ARepVggBlockWhoseSummedWeightOverflowsFloat16IsRefusedByPreviewAndDriverAlike()
    {
        // The centre tap of the 3x3 (index 4 of each 3x3 plane) meets the 1x1 weight: 40000 + 40000 overflows.
        var preview = AssertPreviewAgrees(() => RepVgg(DataType.Float16, i => i % 9 == 4 ? 40000 : 1, _ => 40000), new MergeRepVggBranches(), applies: false);
        Assert.Equal("the merged weight overflows float16: 80000 at index 4 is beyond its largest value 65504", preview.Detail);
    }

    [Fact]
    public void APreviewOnlyMatchOfAChainCarriesTheMergedDimsButNoMergedWeight()
    {
        var model = Chain(DataType.Float, Spread, Spread);
        var second = Root(model, new MergeConvChain());
        var previewed = new MergeConvChain().TryMatch(second, new RewriteContext(model) { PreviewOnly = true });
        var matched = new MergeConvChain().TryMatch(second, new RewriteContext(model));
        Assert.Null(previewed.Match!.Weight);
        Assert.Equal(matched.Match!.Weight!.Tensor.Dims, previewed.Match.WeightDims);
        Assert.Equal(matched.Match.Cost.ToString(), previewed.Match.Cost.ToString());
    }

    [Theory]
    [InlineData("chain")]
    [InlineData("siblings")]
    [InlineData("repvgg")]
    public void AMergePreviewAllocatesLessThanOneDecodedWeight(string form)
    {
        const int channels = 512; // each weight: 1 MiB as float32, 2 MiB as float64
        var b = new TestModelBuilder(13, seed: 5);
        b.Input("x", 1, channels, 2, 2);
        string left = b.Conv("x", channels, channels, [1, 1]);
        IRewriteRule rule;
        string rootOutput;
        switch (form)
        {
            case "chain":
                rootOutput = b.Conv(left, channels, channels, [1, 1]);
                b.Node("Identity", [rootOutput], ["y"]);
                rule = new MergeConvChain();
                break;
            case "siblings":
                b.Node("Concat", [left, b.Conv("x", channels, channels, [1, 1])], ["y"], Attr.Int("axis", 1));
                rootOutput = left;
                rule = new MergeSiblingConvs();
                break;
            default:
                rootOutput = b.Node("Add", [left, "x"], ["y"])[0];
                rule = new MergeRepVggBranches();
                break;
        }
        b.Output("y");
        var model = b.ToIr();
        var root = model.Graph.Nodes.Single(n => n.Outputs[0].Name == rootOutput);
        var context = new RewriteContext(model) { PreviewOnly = true };
        var warm = rule.Preview(root, context); // infers shapes and warms the buffer pool
        Assert.True(warm.Applied, warm.Detail);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var preview = rule.Preview(root, context);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(preview.Applied, preview.Detail);
        Assert.True(allocated < 8L * channels * channels / 4, $"the preview allocated {allocated} bytes; one weight in float64 is {8L * channels * channels}");
    }

    [Fact]
    public void APreviewOnlyContextCannotRewrite()
    {
        var model = Chain(DataType.Float, Spread, Spread);
        var context = new RewriteContext(model) { PreviewOnly = true };
        Assert.Throws<InvalidOperationException>(() => new MergeConvChain().TryApply(Root(model, new MergeConvChain()), context, new GraphRewriter(model, context)));
    }

    [Fact]
    public void TheAuditReportsAFloat16ChainMergeAsRefusedWithTheOverflow()
    {
        var report = Conv1x1Audit.Run(Chain(DataType.Float16, _ => 300, _ => 300), new AuditOptions { ComputeWeightRank = false, FusionChecks = Conv1x1Checks.Fusions() });
        foreach (var row in report.Conv1x1)
        {
            var chain = row.Fusions!.Single(f => f.Rule == MergeConvChain.RuleId);
            Assert.False(chain.Applies);
            Assert.Contains("the merged weight overflows float16: 360000 at index 0", chain.Reason);
        }
    }
}
