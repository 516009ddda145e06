using System.Text.Json;
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
        int runs = 0;
        var totals = new Dictionary<string, (HashSet<string> Nodes, double Microseconds)>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(profile);
        foreach (var item in document.RootElement.EnumerateArray())
        {
            if (item.TryGetProperty("name", out var eventName) && eventName.GetString() == "model_run") runs++;
            if (!item.TryGetProperty("cat", out var category) || category.GetString() != "Node") continue;
            if (!item.TryGetProperty("name", out var name) || name.GetString() is not { } text || !text.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            string op = item.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var opName) ? opName.GetString() ?? "?" : "?";
            double duration = item.TryGetProperty("dur", out var dur) ? dur.GetDouble() : 0;
            var entry = totals.TryGetValue(op, out var existing) ? existing : (new HashSet<string>(StringComparer.Ordinal), 0.0);
            entry.Item1.Add(text);
            totals[op] = (entry.Item1, entry.Item2 + duration);
        }
        return totals.Select(t => new KernelTime(t.Key, t.Value.Nodes.Count, t.Value.Microseconds / Math.Max(runs, 1))).OrderByDescending(k => k.MicrosecondsPerRun).ToList();
    }
}
