using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules.Merges;

/// <summary>
/// The merge set on every real model in ../shared/models, run to a fixpoint: the result is valid, accepted by the
/// checker and equivalent under verify's defaults; PP-OCRv4 det and BlazeFace keep the convolutions the cost model
/// says to keep.
/// </summary>
public sealed class RealModelMergeTests(ITestOutputHelper output)
{
    private static (Model Before, Model After, RewriteResult Result) Merge(string name)
    {
        string path = Shared.RealModel(name);
        var before = ModelReader.Load(path);
        var after = ModelReader.Load(path);
        var result = RewriteDriver.Run(after, RuleCatalog.CreateFixpointSet(RuleCatalog.MergeSet), new RewriteOptions { Fixpoint = true });
        return (before, after, result);
    }

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void MergesIntoAnEquivalentModelTheCheckerAccepts(string name)
    {
        var (before, after, result) = Merge(name);
        foreach (var o in result.Outcomes.Where(o => o.Status == CandidateStatus.Applied || o.Detail.Contains("MACs", StringComparison.Ordinal)))
            output.WriteLine($"{o.RuleId} {o.NodeName}: {o.Status} {o.Detail}");
        output.WriteLine($"{name}: Conv {MergeHarness.Count(before, "Conv")} → {MergeHarness.Count(after, "Conv")}");
        Assert.Empty(GraphValidator.Validate(after));
        Equivalence.AssertEquivalent(before, after, RealModelRewriteTests.InputsFor(name));
        PythonOracle.AssertValid(after);
    }

    [SkippableFact]
    public void MergesThe384To360To96ChainOfPpOcrV4DetAndKeepsItsBottlenecks()
    {
        var (_, after, result) = Merge("ch_PP-OCRv4_det_infer.onnx");
        Assert.Equal(61, MergeHarness.Count(after, "Conv"));
        var applied = Assert.Single(result.Outcomes, o => o.Status == CandidateStatus.Applied);
        Assert.StartsWith("one 1x1 Conv [96,384] for 'p2o.Conv.36' then 'p2o.Conv.37'", applied.Detail);
        Assert.Contains("(4.69× fewer), parameters 173,160 → 36,960", applied.Detail);
        var kept = result.Outcomes.Where(o => o.RuleId == MergeConvChainRuleId && o.Detail.StartsWith("merging would cost", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["1.52", "2.67", "2.67"], kept.Select(o => o.Detail["merging would cost ".Length..o.Detail.IndexOf('×')]).Order());
    }

    [SkippableFact]
    public void KeepsEveryDepthwiseThenPointwisePairOfBlazeFace()
    {
        var (_, _, result) = Merge("face_detection_front_128x128_barracuda.onnx");
        Assert.DoesNotContain(result.Outcomes, o => o.RuleId == MergeConvChainRuleId && o.Status == CandidateStatus.Applied);
        Assert.Equal(16, result.Outcomes.Count(o => o.RuleId == MergeConvChainRuleId && o.Detail.StartsWith("merging would cost", StringComparison.Ordinal)));
    }

    [SkippableFact]
    public void KeepsTheChainsOfMlsdWhoseFirstOutputFeedsAResidualAdd()
    {
        var (_, _, result) = Merge("mlsd_320x320_tiny.onnx");
        var shared = result.Outcomes.Where(o => o.RuleId == MergeConvChainRuleId && o.Detail.EndsWith("has 2 consumers, so it must stay", StringComparison.Ordinal)).ToArray();
        foreach (var o in shared) output.WriteLine($"{o.NodeName}: {o.Detail}");
        Assert.NotEmpty(shared);
        Assert.DoesNotContain(result.Outcomes, o => o.RuleId == MergeConvChainRuleId && o.Status == CandidateStatus.Applied);
    }

    private const string MergeConvChainRuleId = OnnxConvTool.Rules.Merges.MergeConvChain.RuleId;
}
