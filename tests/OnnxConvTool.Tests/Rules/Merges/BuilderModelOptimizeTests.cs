using OnnxConvTool.Ir;
using OnnxConvTool.Passes;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules.Merges;

/// <summary>
/// What <c>optimize</c>'s rule sets (folds, then merges, each to a fixpoint, then the clean-up) make of the builder's
/// classic blocks: the op counts after, equivalence, the checker.
/// </summary>
public sealed class BuilderModelOptimizeTests
{
    internal static Model Optimize(Model model)
    {
        foreach (var set in new[] { RuleCatalog.FoldSet, RuleCatalog.MergeSet })
            RewriteDriver.Run(model, RuleCatalog.CreateFixpointSet(set), new RewriteOptions { Fixpoint = true, ValidateAfterEachRewrite = true });
        PassManager.CleanUp().Run(model, new GraphRewriter(model));
        return model;
    }

    private static string Counts(Model model) =>
        string.Join(", ", model.AllNodes().GroupBy(n => n.OpType).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));

    private static void AssertOptimizesTo(TestModelBuilder builder, string expectedCounts)
    {
        var before = builder.ToIr();
        var after = Optimize(builder.ToIr());
        Assert.Equal(expectedCounts, Counts(after));
        Assert.Empty(GraphValidator.Validate(after));
        Equivalence.AssertEquivalent(before, after);
        PythonOracle.AssertValid(after);
    }

    /// <summary>Inception block: three 1x1 siblings (one feeding the Concat directly, two reducing before 3x3 and 5x5), a pool branch.</summary>
    internal static TestModelBuilder InceptionBlock(int seed = 31)
    {
        var b = new TestModelBuilder(13, seed);
        b.Input("x", 1L, 64L, 16L, 16L);
        string direct = b.Relu(MergeHarness.Conv(b, "x", 64, 16, 2));
        string reduce3 = b.Relu(MergeHarness.Conv(b, "x", 64, 24, 2));
        string reduce5 = b.Relu(MergeHarness.Conv(b, "x", 64, 8, 2));
        string conv3 = b.Relu(MergeHarness.Conv(b, reduce3, 24, 32, 2, kernel: 3, pad: 1));
        string conv5 = b.Relu(MergeHarness.Conv(b, reduce5, 8, 16, 2, kernel: 5, pad: 2));
        string pool = b.Relu(MergeHarness.Conv(b, b.MaxPool("x", 3, 1, 1), 64, 16, 2));
        b.Node("Concat", [direct, conv3, conv5, pool], ["y"], OnnxConvTool.TestKit.Attr.Int("axis", 1));
        MergeHarness.Output(b, "y", 4);
        return b;
    }

    /// <summary>A chain of four 1x1 convolutions 64 → 128 → 96 → 64 → 32 with nothing between them, then ReLU.</summary>
    internal static TestModelBuilder LinearChain(int seed = 33)
    {
        var b = new TestModelBuilder(13, seed);
        b.Input("x", 1L, 64L, 32L, 32L);
        string y = "x";
        foreach (var (c, m) in new[] { (64L, 128L), (128L, 96L), (96L, 64L), (64L, 32L) }) y = MergeHarness.Conv(b, y, c, m, 2);
        b.Node("Relu", [y], ["y"]);
        MergeHarness.Output(b, "y", 4);
        return b;
    }

    [SkippableFact]
    public void AnInceptionBlocksThree1x1SiblingsBecomeOneConv() =>
        // Four Convs and a Split replace the six: the three 1x1 siblings are one Conv split three ways.
        AssertOptimizesTo(InceptionBlock(), "Concat 1, Conv 4, MaxPool 1, Relu 6, Split 1");

    [SkippableFact]
    public void ALinearChainOfFour1x1ConvsBecomesOneConv() => AssertOptimizesTo(LinearChain(), "Conv 1, Relu 1");

    [SkippableFact]
    public void ATrainingFormRepVggBlockBecomesOneConvAndRelu() =>
        AssertOptimizesTo(MergeRepVggBranchesTests.RepVggBlock(13, 2, 16, 1, identity: true), "Conv 1, Relu 1");

    /// <summary>The expand layers are 1x1 and 3x3: centre-padding the 1x1 to 3x3 would cost 9× its MACs, so all 14 Convs stay.</summary>
    [SkippableFact]
    public void SqueezeNetFireModulesKeepTheirExpandConvs() =>
        AssertOptimizesTo(SampleModels.SqueezeNetFire(), "Concat 4, Conv 14, Flatten 1, GlobalAveragePool 1, MaxPool 2, Relu 14");

    /// <summary>The BatchNormalizations fold; ReLUs separate the 1x1 → 3x3 → 1x1 chain, so its Convs stay.</summary>
    [SkippableFact]
    public void AResNetBottleneckLosesItsBatchNormalizations() => AssertOptimizesTo(SampleModels.ResNetBottleneck(), "Add 1, Conv 4, Relu 3");

    /// <summary>ReLU6 (Clip) separates expansion, depthwise and projection, so its three Convs stay.</summary>
    [SkippableFact]
    public void AMobileNetV2BlockKeepsItsThreeConvs() => AssertOptimizesTo(SampleModels.MobileNetV2Block(), "Add 1, Clip 2, Conv 3");
}
