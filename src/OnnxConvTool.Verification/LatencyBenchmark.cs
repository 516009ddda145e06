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

/// <summary>One model in an interleaved latency comparison and the optimisation level of its ONNX Runtime session.</summary>
public sealed record LatencySubject(Model Model, OptimizationLevel Optimization);

/// <summary>Wall-clock and calling-thread CPU time of one timed run, in milliseconds (CPU time is NaN off Linux).</summary>
public readonly record struct RunTiming(double WallMs, double ThreadCpuMs);

/// <summary>
/// Every timed run of every subject, in subject order. Run i of each subject was taken in the same round,
/// so runs pair across subjects.
/// </summary>
public sealed record InterleavedTimings(string Engine, IReadOnlyList<TrialInput> Inputs, IReadOnlyList<double> SessionMs,
    IReadOnlyList<IReadOnlyList<RunTiming>> Runs);

/// <summary>
/// Times models on the same inputs: warm-up runs, then rounds in which every model runs once, the first model
/// of each round rotating, so all see the same machine load and none always runs first.
/// </summary>
public static class LatencyBenchmark
{
    public static BenchReport Run(IReadOnlyList<Model> models, BenchOptions options, CancellationToken cancellation = default)
    {
        if (models.Count is < 1 or > 2) throw new ArgumentException("bench takes one or two models", nameof(models));
        var timings = Interleave(models.Select(m => new LatencySubject(m, options.Optimization)).ToList(), options, cancellation);
        var labels = Labels(models);
        return new BenchReport
        {
            Engine = $"ONNX Runtime {OrtRuntime.Version} (CPU, optimisation {options.Optimization.ToString().ToLowerInvariant()}, {ThreadsText(options.Threads)})",
            Warmup = options.Warmup,
            Inputs = timings.Inputs,
            Models = timings.Runs.Select((runs, i) => Summarise(labels[i], timings.SessionMs[i], runs.Select(r => r.WallMs).ToList())).ToList(),
        };
    }

    /// <summary>
    /// Times <paramref name="subjects"/>, each in a session at its own optimisation level with
    /// <see cref="BenchOptions.Threads"/> intra-op threads (<see cref="BenchOptions.Optimization"/> is not used),
    /// on inputs planned from the first subject's model. With one intra-op thread the thread CPU time of each
    /// run is the CPU time of the inference itself.
    /// </summary>
    public static InterleavedTimings Interleave(IReadOnlyList<LatencySubject> subjects, BenchOptions options, CancellationToken cancellation = default)
    {
        if (subjects.Count < 1) throw new ArgumentException("at least one model is needed", nameof(subjects));
        if (options.Runs < 1) throw new OnnxConvException(ExitCode.UsageError, $"--runs must be at least 1 (got {options.Runs})");
        if (options.Warmup < 0) throw new OnnxConvException(ExitCode.UsageError, $"--warmup must be 0 or more (got {options.Warmup})");
        if (options.Threads < 0) throw new OnnxConvException(ExitCode.UsageError, $"--threads must be 0 (ORT's default) or more (got {options.Threads})");

        var models = subjects.Select(s => s.Model).ToList();
        var labels = Labels(models);
        var plan = InputPlan.Create(models[0], options.Inputs, labels[0]);

        var sessions = new List<InferenceSession>();
        var sessionMs = new List<double>();
        var values = new List<OrtValue>();
        try
        {
            // One untimed session first, so no model's load time includes ONNX Runtime's one-time start-up.
            OrtRuntime.CreateSession(models[0], new SessionSettings(subjects[0].Optimization, options.Threads), labels[0]).Dispose();
            for (int m = 0; m < subjects.Count; m++)
            {
                var clock = Stopwatch.StartNew();
                sessions.Add(OrtRuntime.CreateSession(models[m], new SessionSettings(subjects[m].Optimization, options.Threads), labels[m]));
                sessionMs.Add(clock.Elapsed.TotalMilliseconds);
            }
            var feeds = FindRunnableFeeds(plan, sessions[0], models[0], labels[0], cancellation);
            for (int m = 1; m < models.Count; m++)
                foreach (var feed in feeds)
                    if (models[m].Graph.Inputs.All(v => v.Name != feed.Info.Name))
                        throw new RuntimeFailure($"{labels[m]} has no input '{feed.Info.Name}', so the models cannot run on the same inputs");
            values.AddRange(feeds.Select(f => f.Tensor.ToOrtValue()));
            var inputNames = feeds.Select(f => f.Info.Name).ToArray();
            var outputNames = models.Select(m => m.Graph.Outputs.Select(v => v.Name).ToArray()).ToList();

            using var runOptions = new RunOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            using var registration = cancellation.Register(() => runOptions.Terminate = true);
            var timings = models.Select(_ => new List<RunTiming>(options.Runs)).ToList();
            for (int round = -options.Warmup; round < options.Runs; round++)
            {
                for (int k = 0; k < sessions.Count; k++)
                {
                    int m = ((round % sessions.Count) + sessions.Count + k) % sessions.Count;
                    cancellation.ThrowIfCancellationRequested();
                    double cpuStart = ThreadCpuClock.NowMilliseconds();
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
                    double wallMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (round >= 0) timings[m].Add(new RunTiming(wallMs, ThreadCpuClock.NowMilliseconds() - cpuStart));
                }
            }
            return new InterleavedTimings($"ONNX Runtime {OrtRuntime.Version} (CPU, {ThreadsText(options.Threads)})",
                feeds.Select(f => f.Info).ToList(), sessionMs, timings);
        }
        finally
        {
            foreach (var value in values) value.Dispose();
            foreach (var session in sessions) session.Dispose();
        }
    }

    internal static List<string> Labels(IReadOnlyList<Model> models) =>
        models.Select((m, i) => m.SourcePath is { Length: > 0 } p ? p : $"model {i + 1}").ToList();

    private static string ThreadsText(int threads) =>
        $"{(threads == 0 ? "default" : threads.ToString(System.Globalization.CultureInfo.InvariantCulture))} intra-op thread{(threads == 1 ? "" : "s")}";

    /// <summary>Verify's first-trial inputs, with its fallbacks when ORT rejects the free dims.</summary>
    internal static List<(TrialInput Info, HostTensor Tensor)> FindRunnableFeeds(InputPlan plan, InferenceSession session, Model model, string label, CancellationToken cancellation)
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
