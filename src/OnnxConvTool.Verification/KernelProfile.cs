using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>Kernel time of one op type as ONNX Runtime ran it (after its own fusions: FusedConv, NCHWc Conv, …).</summary>
internal sealed record KernelTime(string OpType, int Nodes, double MicrosecondsPerRun);

/// <summary>
/// Where ONNX Runtime spends a model's runs, from its profiler: every kernel execution is a "Node" event with its
/// duration (µs) and the op type it ran as (<c>args.op_name</c>). Inputs are planned like <see cref="LatencyBenchmark"/>'s.
/// </summary>
internal static class KernelProfile
{
    /// <summary>Runs <paramref name="model"/> <see cref="BenchOptions.Warmup"/> + <see cref="BenchOptions.Runs"/> times with profiling on; kernel time per op type per run, largest first.</summary>
    public static IReadOnlyList<KernelTime> Measure(Model model, BenchOptions options)
    {
        string label = LatencyBenchmark.Labels([model])[0];
        var plan = InputPlan.Create(model, options.Inputs, label);
        using var folder = new ProfileFolder();
        string profilePath;
        var values = new List<OrtValue>();
        using (var session = OrtRuntime.CreateSession(model, new SessionSettings(options.Optimization, options.Threads) { ProfilePrefix = folder.Prefix }, label))
        {
            try
            {
                var feeds = LatencyBenchmark.FindRunnableFeeds(plan, session, model, label, CancellationToken.None);
                values.AddRange(feeds.Select(f => f.Tensor.ToOrtValue()));
                var inputNames = feeds.Select(f => f.Info.Name).ToArray();
                var outputNames = model.Graph.Outputs.Select(v => v.Name).ToArray();
                for (int run = 0; run < options.Warmup + options.Runs; run++)
                {
                    using var outputs = session.Run(new RunOptions(), inputNames, values, outputNames);
                }
            }
            finally
            {
                foreach (var value in values) value.Dispose();
            }
            profilePath = session.EndProfiling();
        }
        using var stream = File.OpenRead(profilePath);
        return Parse(stream);
    }

    /// <summary>Kernel time per op type from a Chrome-trace profile, per run (its "model_run" events; the input probe and warm-up runs included).</summary>
    internal static IReadOnlyList<KernelTime> Parse(Stream profile)
    {
        var events = ProfileEvents.Read(profile);
        int runs = Math.Max(events.RunStartsUs.Count, 1);
        return events.Kernels.GroupBy(k => k.OpType, StringComparer.Ordinal)
            .Select(g => new KernelTime(g.Key, g.Select(k => k.Node).Distinct(StringComparer.Ordinal).Count(), g.Sum(k => k.DurationUs) / runs))
            .OrderByDescending(k => k.MicrosecondsPerRun).ToList();
    }
}
