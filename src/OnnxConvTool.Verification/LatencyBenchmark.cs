using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>Settings of <c>onnxconv bench</c>; inputs are planned like verify's first trial.</summary>
public sealed record BenchOptions
{
    public OptimizationLevel Optimization { get; init; } = OptimizationLevel.All;
    public int Threads { get; init; } = 1;
    public int Runs { get; init; } = 50;
    public int Warmup { get; init; } = 5;

    /// <summary>Shapes, constant values, input files and seed, as for verify (trials, tolerances and localize are ignored).</summary>
    public VerifyOptions Inputs { get; init; } = new();
}

/// <summary>Latency of one model over the timed runs, in milliseconds.</summary>
public sealed record LatencyStats(string Model, double SessionMs, int Runs, double MinMs, double MedianMs, double P90Ms, double MeanMs);

/// <summary>
/// Times one or two models with the same inputs: warm-up runs, then timed runs that alternate between
/// the models so both see the same machine load.
/// </summary>
public static class LatencyBenchmark
{
    public static BenchReport Run(IReadOnlyList<Model> models, BenchOptions options, CancellationToken cancellation = default)
    {
        if (models.Count is < 1 or > 2) throw new ArgumentException("bench takes one or two models", nameof(models));
        if (options.Runs < 1) throw new OnnxConvException(ExitCode.UsageError, $"--runs must be at least 1 (got {options.Runs})");
        if (options.Warmup < 0) throw new OnnxConvException(ExitCode.UsageError, $"--warmup must be 0 or more (got {options.Warmup})");
        if (options.Threads < 0) throw new OnnxConvException(ExitCode.UsageError, $"--threads must be 0 (ORT's default) or more (got {options.Threads})");

        var labels = models.Select((m, i) => m.SourcePath is { Length: > 0 } p ? p : $"model {i + 1}").ToList();
        var plan = InputPlan.Create(models[0], options.Inputs, labels[0]);
        var settings = new SessionSettings(options.Optimization, options.Threads);

        var sessions = new List<InferenceSession>();
        var sessionMs = new List<double>();
        var values = new List<OrtValue>();
        try
        {
            // One untimed session first, so no model's load time includes ONNX Runtime's one-time start-up.
            OrtRuntime.CreateSession(models[0], settings, labels[0]).Dispose();
            foreach (var (model, label) in models.Zip(labels))
            {
                var clock = Stopwatch.StartNew();
                sessions.Add(OrtRuntime.CreateSession(model, settings, label));
                sessionMs.Add(clock.Elapsed.TotalMilliseconds);
            }
            var feeds = FindRunnableFeeds(plan, sessions[0], models[0], labels[0], cancellation);
            foreach (var model in models.Skip(1))
                foreach (var feed in feeds)
                    if (model.Graph.Inputs.All(v => v.Name != feed.Info.Name))
                        throw new RuntimeFailure($"{labels[1]} has no input '{feed.Info.Name}', so the two models cannot run on the same inputs");
            values.AddRange(feeds.Select(f => f.Tensor.ToOrtValue()));
            var inputNames = feeds.Select(f => f.Info.Name).ToArray();
            var outputNames = models.Select(m => m.Graph.Outputs.Select(v => v.Name).ToArray()).ToList();

            using var runOptions = new RunOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            using var registration = cancellation.Register(() => runOptions.Terminate = true);
            var timings = models.Select(_ => new List<double>(options.Runs)).ToList();
            for (int run = -options.Warmup; run < options.Runs; run++)
            {
                for (int m = 0; m < sessions.Count; m++)
                {
                    cancellation.ThrowIfCancellationRequested();
                    long start = Stopwatch.GetTimestamp();
                    try
                    {
                        using var outputs = sessions[m].Run(runOptions, inputNames, values, outputNames[m]);
                    }
                    catch (OnnxRuntimeException e)
                    {
                        cancellation.ThrowIfCancellationRequested();
                        throw new RuntimeFailure($"ONNX Runtime cannot run {labels[m]}: {OrtRuntime.FirstLine(e.Message)}", e);
                    }
                    if (run >= 0) timings[m].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
            var stats = timings.Select((t, i) => Summarise(labels[i], sessionMs[i], t)).ToList();
            return new BenchReport
            {
                Engine = $"ONNX Runtime {OrtRuntime.Version} (CPU, optimisation {options.Optimization.ToString().ToLowerInvariant()}, {(options.Threads == 0 ? "default" : options.Threads.ToString())} intra-op thread{(options.Threads == 1 ? "" : "s")})",
                Warmup = options.Warmup,
                Inputs = feeds.Select(f => f.Info).ToList(),
                Models = stats,
            };
        }
        finally
        {
            foreach (var value in values) value.Dispose();
            foreach (var session in sessions) session.Dispose();
        }
    }

    /// <summary>Verify's first-trial inputs, with its fallbacks when ORT rejects the free dims.</summary>
    private static List<(TrialInput Info, HostTensor Tensor)> FindRunnableFeeds(InputPlan plan, InferenceSession session, Model model, string label, CancellationToken cancellation)
    {
        var planned = plan.PlannedDims(0);
        string? firstError = null;
        var outputNames = model.Graph.Outputs.Select(v => v.Name).ToList();
        foreach (var dims in new[] { planned }.Concat(plan.Fallbacks(planned, null).Select(f => f.Dims)))
        {
            var feeds = plan.MakeFeeds(0, dims);
            try
            {
                using var outputs = SessionRunner.Run(session, feeds.Select(f => (f.Info.Name, f.Tensor)).ToList(), outputNames, cancellation);
                return feeds;
            }
            catch (OnnxRuntimeException e)
            {
                firstError ??= $"ONNX Runtime cannot run {label} on {string.Join(", ", feeds.Select(f => $"{f.Info.Name} {f.Tensor.Describe()}"))}: {OrtRuntime.FirstLine(e.Message)}";
                if (plan.FreeDims.Count == 0) break;
            }
        }
        throw new RuntimeFailure(firstError + "; give working inputs with --shape, --value or --input");
    }

    private static LatencyStats Summarise(string label, double sessionMs, List<double> timings)
    {
        var sorted = timings.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        double p90 = sorted[Math.Max(0, (int)Math.Ceiling(0.9 * sorted.Length) - 1)];
        return new LatencyStats(label, sessionMs, sorted.Length, sorted[0], median, p90, sorted.Average());
    }
}
