using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>Kernel time of one op type as ONNX Runtime ran it (after its own fusions: FusedConv, NCHWc Conv, …).</summary>
internal sealed record KernelTime(string OpType, int Nodes, double MicrosecondsPerRun);

/// <summary>
/// Where ONNX Runtime spends a model's runs, from its profiler (<see cref="OperatorProfile"/> over every run, in µs).
/// Inputs are planned like <see cref="LatencyBenchmark"/>'s.
/// </summary>
internal static class KernelProfile
{
    /// <summary>Runs <paramref name="model"/> <see cref="BenchOptions.Warmup"/> + <see cref="BenchOptions.Runs"/> times with profiling on; kernel time per op type per run, largest first.</summary>
    public static IReadOnlyList<KernelTime> Measure(Model model, BenchOptions options)
    {
        string label = LatencyBenchmark.Labels([model])[0];
        var plan = InputPlan.Create(model, options.Inputs, label);
        using var folder = new ProfileFolder();
        using var session = OrtRuntime.CreateSession(model, new SessionSettings(options.Optimization, options.Threads) { ProfilePrefix = folder.Prefix }, label);
        var feeds = LatencyBenchmark.FindRunnableFeeds(plan, session, model, label, CancellationToken.None);
        return PerRun(LatencyBenchmark.RunProfiled(session, model, label, feeds, options.Warmup + options.Runs, warmupRuns: 0, CancellationToken.None));
    }

    /// <summary>Kernel time per op type from a Chrome-trace profile, per run (its "model_run" events; the input probe and warm-up runs included).</summary>
    internal static IReadOnlyList<KernelTime> Parse(Stream profile) => PerRun(OperatorProfile.Parse(profile, warmupRuns: 0));

    private static List<KernelTime> PerRun(OperatorProfile profile) =>
        profile.Operators.Select(o => new KernelTime(o.OpType, o.Nodes, o.MsPerRun * 1000)).ToList();
}
