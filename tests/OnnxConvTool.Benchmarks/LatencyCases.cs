using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>The model lists the latency comparison runs: the shared real models (issue 6) and the builder models the merge rules target (issue 7).</summary>
internal static class LatencyCases
{
    public const string SharedDescription = "optimize output vs original under ONNX Runtime (1 thread, interleaved, thread CPU time) on ../shared/models";
    public const string BuilderDescription = "optimize output vs original under ONNX Runtime on builder RepVGG, Inception and linear-chain blocks (issue 7 goal ≤ 0.85) and on every shared model (never slower, ≤ 1.00)";

    /// <summary>Issue 7's goal for the builder blocks: at least 15 % faster after <c>optimize</c>.</summary>
    private const double MergeTarget = 0.85;

    /// <summary>
    /// Every shared model on the inputs it needs; PP-OCRv4 det at 640×640 (goal ≤ 0.97: its 28 Conv → Mul → Add
    /// scale/shift pairs fold, which ORT cannot do itself) and at 320×320; every other model goal ≤ 1.00.
    /// </summary>
    public static IReadOnlyList<LatencyCase> SharedModels()
    {
        if (SharedData.Root is null) throw new ArgumentException("../shared/models not found beside the repository");
        var cases = new List<LatencyCase>();
        foreach (string name in SharedData.RealModelNames)
        {
            // Latency is timed at batch 1 and fixed sizes (LatencyBenchmark refuses free spatial dims); the
            // classifier's height and width are free in the file, its deployed input is 1×3×48×192.
            var inputs = name == "ch_ppocr_mobile_v2.0_cls_infer.onnx" ? ModelInputs.Shape("x", 1, 3, 48, 192) : ModelInputs.ForSharedModel(name);
            bool detector = name == "ch_PP-OCRv4_det_infer.onnx";
            cases.Add(new LatencyCase(name, SharedData.RealModel(name), inputs, detector ? 0.97 : 1.00));
            if (detector) cases.Add(new LatencyCase(name, SharedData.RealModel(name), ModelInputs.Shape("x", 1, 3, 320, 320), 1.00));
        }
        return cases;
    }

    /// <summary>
    /// The builder blocks issue 7's merges target (<see cref="MergeModels"/>), seeded, saved into
    /// <paramref name="workDirectory"/>: RepVGG in training form (64 channels, 56×56), an Inception block (256 channels
    /// in, 28×28), GoogLeNet's inception (3a) (192 channels in, 28×28) and a linear chain of four 1x1 Convs
    /// (128→256→192→128→64, 56×56).
    /// </summary>
    public static IReadOnlyList<LatencyCase> MergeTargets(string workDirectory) =>
    [
        Saved(workDirectory, "repvgg_block", MergeModels.RepVggBlock(channels: 64, size: 56), MergeTarget),
        Saved(workDirectory, "inception_block", MergeModels.InceptionBlock(c: 64, size: 28), MergeTarget),
        Saved(workDirectory, "googlenet_inception_3a", MergeModels.GoogLeNetInception3a(), MergeTarget),
        Saved(workDirectory, "linear_1x1_chain", MergeModels.LinearChain(c: 64, size: 56), MergeTarget),
    ];

    /// <summary>
    /// The merge benchmark: the builder blocks (<see cref="MergeTargets"/>) and every shared model (when ../shared/models
    /// is present), the latter with issue 7's goal "never slower", ≤ 1.00.
    /// </summary>
    public static IReadOnlyList<LatencyCase> MergeBenchmark(string workDirectory) =>
        [.. MergeTargets(workDirectory), .. SharedData.Root is null ? [] : SharedModels().Select(c => c with { TargetAtAll = 1.00, GoalAtNone = false })];

    private static LatencyCase Saved(string workDirectory, string name, TestModelBuilder builder, double target)
    {
        string path = Path.Combine(workDirectory, $"{name}.onnx");
        builder.Save(path);
        return new LatencyCase(name, path, ModelInputs.Defaults, target);
    }
}
