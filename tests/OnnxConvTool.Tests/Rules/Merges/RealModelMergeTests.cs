using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;
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
    public void KeepsAll37ConvsOfBlazeFace()
    {
        var (_, after, result) = Merge("face_detection_front_128x128_barracuda.onnx");
        Assert.Equal(37, MergeHarness.Count(after, "Conv"));
        Assert.DoesNotContain(result.Outcomes, o => o.Status == CandidateStatus.Applied);
        Assert.Contains(result.Outcomes, o => o.RuleId == OnnxConvTool.Rules.Merges.MergeSiblingConvs.RuleId
            && o.Detail.StartsWith("a Split after one Conv for 2 siblings saves no op", StringComparison.Ordinal));
        Assert.Equal(16, result.Outcomes.Count(o => o.RuleId == MergeConvChainRuleId && o.Detail.StartsWith("merging would cost", StringComparison.Ordinal)));
    }

    /// <summary><c>optimize --explain</c> on BlazeFace: 37 Conv written, each head pair's refusal given with the cost model's figures.</summary>
    [SkippableFact]
    public void OptimizeExplainsWhyBlazeFacesHeadsStaySeparate()
    {
        using var temp = new TempDirectory();
        string output = temp.File("blazeface.onnx");
        var run = CliInvocation.Run("optimize", Shared.RealModel("face_detection_front_128x128_barracuda.onnx"), "-o", output, "--explain");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("merge-sibling-convs StatefulPartitionedCall/functional_1/conv2d_17/BiasAdd: a Split after one Conv for 2 siblings saves no op"
            + $" and moves the merged output again ({OnnxConvTool.Ops.RuntimeCost.Terms})", run.Stdout);
        Assert.Equal(37, MergeHarness.Count(ModelReader.Load(output), "Conv"));
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

    /// <summary>
    /// <c>rewrite --to matmul</c> then <c>rewrite --to conv</c> gives the op counts of <c>rewrite --to conv</c> on the
    /// original (Constant nodes aside: the forward rule stores the weights it rearranges as initializers), and stays equivalent.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void RoundTripThroughMatMulGivesTheOpCountsOfConvOnTheOriginal(string name)
    {
        string path = Shared.RealModel(name);
        var original = ModelReader.Load(path);
        var direct = ModelReader.Load(path);
        var roundTrip = ModelReader.Load(path);
        var toConv = new RewriteOptions { Fixpoint = true };
        RewriteDriver.Run(direct, RuleCatalog.ForTarget(RewriteTarget.Conv), toConv);
        RewriteDriver.Run(roundTrip, RuleCatalog.ForTarget(RewriteTarget.MatMul));
        int viaMatMul = roundTrip.AllNodes().Count();
        var back = RewriteDriver.Run(roundTrip, RuleCatalog.ForTarget(RewriteTarget.Conv), toConv);
        output.WriteLine($"{name}: {original.AllNodes().Count()} nodes, {viaMatMul} after --to matmul, {roundTrip.AllNodes().Count()} after --to conv (direct --to conv: {direct.AllNodes().Count()})");
        foreach (var o in back.Outcomes.Where(o => o.Status != CandidateStatus.Applied && o.OpType is "MatMul" or "Add" && !o.Detail.Contains("constant", StringComparison.Ordinal)))
            output.WriteLine($"  {o.NodeName}: {o.Detail}");
        output.WriteLine($"direct:     {Counts(direct)}\nround trip: {Counts(roundTrip)}");
        Assert.Equal(Counts(direct), Counts(roundTrip));
        Assert.Empty(GraphValidator.Validate(roundTrip));
        Equivalence.AssertEquivalent(original, roundTrip, RealModelRewriteTests.InputsFor(name));
    }

    private static string Counts(Model model) =>
        string.Join(", ", model.AllNodes().Where(n => n.OpType != "Constant").GroupBy(n => n.OpType).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));

    private const string MergeConvChainRuleId = OnnxConvTool.Rules.Merges.MergeConvChain.RuleId;
}
