using System.Globalization;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Passes;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Inference latency of the builder's RepVGG, Inception and linear-chain blocks before and after <c>optimize</c>'s rule
/// sets (folds, merges, clean-up), side by side in one process: ONNX Runtime with all optimisations, 1 intra-op
/// thread, timed runs alternating between the two models (<see cref="LatencyBenchmark"/>). Target (issue 7): each
/// optimized block at least 15 % faster (median after ÷ median before ≤ 0.85).
/// </summary>
internal static class MergeBenchmark
{
    public const string Description = "inference latency before/after optimize's folds and merges on RepVGG, Inception and linear-chain blocks (target ≥ 15 % faster)";
    private const double Target = 0.85;
    private const int TimedRuns = 200;
    private const int WarmupRuns = 20;

    private static readonly (string Name, Func<TestModelBuilder> Build)[] Blocks =
    [
        ("RepVGG block, 64 ch, 56×56, training form", () => MergeModels.RepVggBlock(channels: 64, size: 56)),
        ("Inception block, 256 ch in, 28×28", () => MergeModels.InceptionBlock(c: 64, size: 28)),
        ("linear chain of four 1x1, 128→256→192→128→64, 56×56", () => MergeModels.LinearChain(c: 64, size: 56)),
    ];

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        output.WriteLine("merge benchmark: ONNX Runtime latency of each block before and after optimize's fold and merge sets");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"runs:     {TimedRuns} timed runs per model after {WarmupRuns} warm-up runs, alternating; ORT all optimisations, 1 intra-op thread; wall time per run");
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
        output.WriteLine("| block | ops before | ops after | median before | median after | after ÷ before | ≤ 0.85 |");
        output.WriteLine("|---|---|---|---:|---:|---:|:---:|");
        bool met = true;
        foreach (var (name, build) in Blocks)
        {
            var builder = build();
            var before = builder.ToIr("before.onnx");
            var after = builder.ToIr("after.onnx");
            foreach (var set in new[] { RuleCatalog.FoldSet, RuleCatalog.MergeSet })
                RewriteDriver.Run(after, RuleCatalog.CreateFixpointSet(set), new RewriteOptions { Fixpoint = true });
            PassManager.CleanUp().Run(after, new GraphRewriter(after));
            var report = LatencyBenchmark.Run([before, after], new BenchOptions { Threads = 1, Runs = TimedRuns, Warmup = WarmupRuns, Optimization = OptimizationLevel.All });
            double ratio = report.MedianRatio!.Value;
            bool blockMet = ratio <= Target;
            met &= blockMet;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {Ops(before)} | {Ops(after)} | {report.Models[0].MedianMs:0.000} ms | {report.Models[1].MedianMs:0.000} ms | {ratio:0.00} | {(blockMet ? "pass" : "FAIL")} |"));
        }
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine(met ? "target met: every optimized block runs at least 15 % faster" : "target missed: some block is not 15 % faster");
        return met ? 0 : 1;
    }

    private static string Ops(Model model) =>
        string.Join(", ", model.AllNodes().GroupBy(n => n.OpType).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}"));
}
