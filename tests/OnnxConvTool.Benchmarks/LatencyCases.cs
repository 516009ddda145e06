using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>The model lists the latency comparison runs: the shared real models (issue 6) and the builder models the merge rules target (issue 7).</summary>
internal static class LatencyCases
{
    public const string SharedDescription = "optimize output vs original under ONNX Runtime (1 thread, interleaved, thread CPU time) on ../shared/models";
    public const string BuilderDescription = "optimize output vs original under ONNX Runtime on builder RepVGG, Inception and linear-chain blocks (issue 7 goal ≤ 0.85)";

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
            var inputs = ModelInputs.ForSharedModel(name);
            bool detector = name == "ch_PP-OCRv4_det_infer.onnx";
            cases.Add(new LatencyCase(name, SharedData.RealModel(name), inputs, detector ? 0.97 : 1.00));
            if (detector) cases.Add(new LatencyCase(name, SharedData.RealModel(name), ModelInputs.Shape("x", 1, 3, 320, 320), 1.00));
        }
        return cases;
    }

    /// <summary>The three builder blocks issue 7's merges target, saved (once, seeded) into <paramref name="workDirectory"/>.</summary>
    public static IReadOnlyList<LatencyCase> MergeTargets(string workDirectory) =>
    [
        Saved(workDirectory, "repvgg_block", RepVggBlock(), MergeTarget),
        Saved(workDirectory, "inception_block", InceptionBlock(), MergeTarget),
        Saved(workDirectory, "linear_1x1_chain", LinearChain(), MergeTarget),
    ];

    private static LatencyCase Saved(string workDirectory, string name, TestModelBuilder builder, double target)
    {
        string path = Path.Combine(workDirectory, $"{name}.onnx");
        builder.Save(path);
        return new LatencyCase(name, path, ModelInputs.Defaults, target);
    }

    /// <summary>
    /// A RepVGG block in training form at 64 channels, 56×56: 3x3 Conv → BN, 1x1 Conv → BN and an identity BN,
    /// summed, then ReLU. Re-parameterised it is one 3x3 Conv + ReLU.
    /// </summary>
    private static TestModelBuilder RepVggBlock()
    {
        var b = new TestModelBuilder(opset: 13, seed: 701);
        string x = b.Input("x", 1L, 64L, 56L, 56L);
        string dense = b.BatchNormalization(b.HeConv(x, 64, 64, kernel: 3, bias: false), 64);
        string pointwise = b.BatchNormalization(b.HeConv(x, 64, 64, kernel: 1, bias: false), 64);
        string identity = b.BatchNormalization(x, 64);
        b.NamedNode("relu", "Relu", [b.Add(b.Add(dense, pointwise), identity)], ["y"]);
        b.FloatOutput("y", 1L, 64L, 56L, 56L);
        return b;
    }

    /// <summary>
    /// GoogLeNet's inception (3a) block on 192×28×28: three 1x1 siblings on the input (64 direct, 96 → 3x3 128,
    /// 16 → 5x5 32) and a 3x3 max-pool → 1x1 32 branch, each with ReLU, concatenated. The siblings can merge into one Conv.
    /// </summary>
    private static TestModelBuilder InceptionBlock()
    {
        var b = new TestModelBuilder(opset: 13, seed: 702);
        string x = b.Input("x", 1L, 192L, 28L, 28L);
        string direct = b.Relu(b.HeConv(x, 192, 64, kernel: 1));
        string conv3 = b.Relu(b.HeConv(b.Relu(b.HeConv(x, 192, 96, kernel: 1)), 96, 128, kernel: 3));
        string conv5 = b.Relu(b.HeConv(b.Relu(b.HeConv(x, 192, 16, kernel: 1)), 16, 32, kernel: 5));
        string pool = b.Relu(b.HeConv(b.MaxPool(x, 3, 1, 1), 192, 32, kernel: 1));
        b.Node("Concat", [direct, conv3, conv5, pool], ["y"], Attr.Int("axis", 1));
        b.FloatOutput("y", 1L, 256L, 28L, 28L);
        return b;
    }

    /// <summary>Four 1x1 Convs 64 → 128 → 96 → 64 → 32 on 56×56 with nothing between them, then ReLU: one 64 → 32 Conv when merged.</summary>
    private static TestModelBuilder LinearChain()
    {
        var b = new TestModelBuilder(opset: 13, seed: 703);
        string y = b.Input("x", 1L, 64L, 56L, 56L);
        foreach (var (c, m) in new[] { (64L, 128L), (128L, 96L), (96L, 64L), (64L, 32L) }) y = b.HeConv(y, c, m, kernel: 1);
        b.NamedNode("relu", "Relu", [y], ["y"]);
        b.FloatOutput("y", 1L, 32L, 56L, 56L);
        return b;
    }
}
