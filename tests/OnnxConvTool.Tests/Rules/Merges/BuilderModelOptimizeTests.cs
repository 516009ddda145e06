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

    /// <summary>
    /// On [1,32,4,4] four Convs and a Split replace the six: the three 1x1 siblings are one Conv split three ways (one op
    /// fewer, 0.7 µs, against 768 values through the Split, 0.08 µs).
    /// </summary>
    [SkippableFact]
    public void ASmallInceptionBlocksThree1x1SiblingsBecomeOneConv() =>
        AssertOptimizesTo(MergeModels.InceptionBlock(c: 8, size: 4), "Concat 1, Conv 4, MaxPool 1, Relu 6, Split 1");

    /// <summary>In GoogLeNet's inception (3a) the Split would move 275,968 values (30 µs) to save one op: all six Convs stay.</summary>
    [SkippableFact]
    public void GoogLeNetsInception3aKeepsItsSiblings() =>
        AssertOptimizesTo(MergeModels.GoogLeNetInception3a(), "Concat 1, Conv 6, MaxPool 1, Relu 6");

    [SkippableFact]
    public void ALinearChainOfFour1x1ConvsBecomesOneConv() => AssertOptimizesTo(MergeModels.LinearChain(), "Conv 1, Relu 1");

    [SkippableFact]
    public void ATrainingFormRepVggBlockBecomesOneConvAndRelu() =>
        AssertOptimizesTo(MergeModels.RepVggBlock(), "Conv 1, Relu 1");

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
