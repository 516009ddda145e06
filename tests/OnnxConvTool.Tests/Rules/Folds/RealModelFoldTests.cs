using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules.Folds;

/// <summary>
/// The fold set to a fixpoint on every real model in ../shared/models and on the sample ResNet bottleneck: verify
/// finds each result equivalent at its default tolerances, the checker accepts it, and the folds the issue
/// measured happen.
/// </summary>
public sealed class RealModelFoldTests(ITestOutputHelper output)
{
    private (Model Before, Model After, RewriteResult Result) Fold(string path)
    {
        var before = ModelReader.Load(path);
        var after = ModelReader.Load(path);
        var result = RewriteDriver.Run(after, RuleCatalog.CreateFixpointSet(RuleCatalog.FoldSet), new RewriteOptions { Fixpoint = true });
        Assert.False(result.VisitCapReached);
        Assert.Empty(GraphValidator.Validate(after));
        var applied = result.Outcomes.Where(o => o.Status == CandidateStatus.Applied).ToArray();
        output.WriteLine($"{Path.GetFileName(path)}: {applied.Length} folds ({string.Join(", ", applied.GroupBy(o => o.RuleId).Select(g => $"{g.Key} {g.Count()}"))}), " +
            $"max deviation {(applied.Length == 0 ? 0 : applied.Max(o => o.DeviationUlps ?? 0)):0.###} ULP");
        output.WriteLine($"before: {Counts(before)}");
        output.WriteLine($"after:  {Counts(after)}");
        Assert.All(applied, o => Assert.InRange(o.DeviationUlps ?? 0, 0, 0.5));
        return (before, after, result);
    }

    private static string Counts(Model model) =>
        string.Join(" ", RewriteHarness.OpCounts(model).Where(c => c.Key is "Conv" or "ConvTranspose" or "BatchNormalization" or "Mul" or "Add" or "Sub" or "Div" or "Pad")
            .OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}"));

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void FoldsEveryRealModelIntoAnEquivalentValidModel(string name)
    {
        var (before, after, result) = Fold(Shared.RealModel(name));
        Equivalence.AssertEquivalent(before, after, RealModelRewriteTests.InputsFor(name) with { NameMap = result.ValueNameMap });
        PythonOracle.AssertValid(after);
        AssertFoldTargets(name, RewriteHarness.OpCounts(after));
    }

    /// <summary>What the folds must leave of each real model (issue 6's targets).</summary>
    internal static void AssertFoldTargets(string name, IReadOnlyDictionary<string, int> counts)
    {
        int Count(string op) => counts.GetValueOrDefault(op);
        switch (name)
        {
            case "ch_ppocr_mobile_v2.0_cls_infer.onnx":
                Assert.Equal(0, Count("BatchNormalization"));
                break;
            case "ch_PP-OCRv4_det_infer.onnx":
                Assert.Equal(0, Count("BatchNormalization"));
                Assert.InRange(Count("Mul"), 0, 58);
                Assert.InRange(Count("Add"), 0, 59);
                break;
            case "mlsd_320x320_tiny.onnx":
                Assert.Equal(0, Count("Pad"));
                break;
        }
    }

    /// <summary>
    /// Silero VAD computes about 130 small tensors from constants on every run (LSTM weight slices and their
    /// concatenation, casts, reshapes, in nested If branches); after the fold set none is left: every node that
    /// still runs reads at least one value computed at run time, except the nodes that name a graph output.
    /// </summary>
    [SkippableFact]
    public void LeavesNoNodeComputedOnlyFromConstantsInSileroVad()
    {
        var (before, after, _) = Fold(Shared.RealModel("silero_vad_v5.onnx"));
        Assert.Empty(ConstantOnlyNodes(after));
        int readingOnlyConstants = ConstantOnlyNodes(before).Count;
        Assert.True(readingOnlyConstants >= 50, $"{readingOnlyConstants} nodes read only constants before the folds");
        Assert.Equal(60, FoldHarness.Count(before, "Slice"));
        Assert.Equal(10, FoldHarness.Count(after, "Slice"));
        Assert.Equal(0, FoldHarness.Count(after, "Reshape"));
        Assert.True(Parameters(after) <= Parameters(before), $"parameters grew: {Parameters(before)} -> {Parameters(after)}");
    }

    private static List<Node> ConstantOnlyNodes(Model model) =>
        model.AllNodes().Where(n => n.OpType != "Constant" && !n.HasSubgraphs && n.Inputs.Any(i => i is not null)
            && !n.Outputs.Any(o => o.IsGraphOutput) && n.Inputs.All(i => i is null || Model.TryGetConstant(i) is not null)).ToList();

    private static long Parameters(Model model) =>
        model.AllGraphs().SelectMany(g => g.Initializers).Sum(v => v.Initializer!.ElementCount)
        + model.AllNodes().Where(n => n.OpType == "Constant").Sum(n => Model.TryGetConstant(n.Outputs[0])?.ElementCount ?? 0);

    [SkippableFact]
    public void FoldsEveryBatchNormalizationOfTheSampleResNetBottleneck()
    {
        var (before, after, _) = Fold(SampleModels.Get("resnet_bottleneck.onnx").CommittedPath);
        Assert.True(FoldHarness.Count(before, "BatchNormalization") > 0);
        Assert.Equal(0, FoldHarness.Count(after, "BatchNormalization"));
        Equivalence.AssertEquivalent(before, after);
        PythonOracle.AssertValid(after);
    }
}
