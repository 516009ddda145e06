using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>
/// Settings of <c>onnxconv bench</c>. Inputs are the model's own sizes with batch-like dims 1
/// (<see cref="InputPlan.DeploymentDims"/>); --shape, --value and --input change them as for verify.
/// </summary>
internal sealed record BenchOptions
{
    public OptimizationLevel Optimization { get; init; } = OptimizationLevel.All;
    public int Threads { get; init; } = 1;
    public int Runs { get; init; } = 50;
    public int Warmup { get; init; } = 5;

    /// <summary>Also run each model under ONNX Runtime's profiler (after the timed runs) and report the operators that take the most time.</summary>
    public bool Profile { get; init; }

    /// <summary>Shapes, constant values, input files and seed, as for verify (trials, tolerances and localize are ignored).</summary>
    public VerifyOptions Inputs { get; init; } = new();

    /// <summary>Told as each round of warm-up and timed runs starts.</summary>
    public IProgress<WorkProgress>? Progress { get; init; }
}

/// <summary>Minimum, median, 90th percentile and mean of a set of run times, in milliseconds.</summary>
internal sealed record Spread(double MinMs, double MedianMs, double P90Ms, double MeanMs)
{
    /// <summary>How far the slow runs lie from the best: (p90 − min) ÷ median.</summary>
    public double Width => (P90Ms - MinMs) / MedianMs;

    public static Spread Of(IEnumerable<double> timesMs)
    {
        var sorted = timesMs.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("no run times", nameof(timesMs));
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        double p90 = sorted[Math.Max(0, (int)Math.Ceiling(0.9 * sorted.Length) - 1)];
        return new Spread(sorted[0], median, p90, sorted.Average());
    }
}

/// <summary>
/// Latency of one model over the timed runs: wall time, and the calling thread's CPU time (null where the clock
/// is unavailable), plus the operators that took the most time when profiled.
/// </summary>
internal sealed record LatencyStats(string Model, double SessionMs, int Runs, Spread Wall, Spread? ThreadCpu)
{
    /// <summary>Operator types by total kernel time under ONNX Runtime's profiler, slowest first (null unless profiled).</summary>
    public OperatorProfile? Profile { get; init; }
}

/// <summary>One model in an interleaved latency comparison and the optimisation level of its ONNX Runtime session.</summary>
internal sealed record LatencySubject(Model Model, OptimizationLevel Optimization);

/// <summary>Wall-clock and calling-thread CPU time of one timed run, in milliseconds (CPU time is NaN off Linux).</summary>
internal readonly record struct RunTiming(double WallMs, double ThreadCpuMs);

/// <summary>
/// Every timed run of every subject, in subject order. Run i of each subject was taken in the same round,
/// so runs pair across subjects.
/// </summary>
internal sealed record InterleavedTimings(string Engine, IReadOnlyList<TrialInput> Inputs, IReadOnlyList<double> SessionMs,
    IReadOnlyList<IReadOnlyList<RunTiming>> Runs)
{
    /// <summary>The tensors every subject ran on.</summary>
    internal IReadOnlyList<(TrialInput Info, HostTensor Tensor)> Feeds { get; init; } = [];
}

/// <summary>
/// Times models on the same inputs: warm-up runs, then rounds in which every model runs once, the first model
/// of each round rotating, so all see the same machine load and none always runs first.
/// </summary>
internal static class LatencyBenchmark
{
    public static BenchReport Run(IReadOnlyList<Model> models, BenchOptions options, CancellationToken cancellation = default)
    {
        if (models.Count is < 1 or > 2) throw new ArgumentException("bench takes one or two models", nameof(models));
        var timings = Interleave(models.Select(m => new LatencySubject(m, options.Optimization)).ToList(), options, cancellation);
        var labels = Labels(models);
        var stats = new List<LatencyStats>();
        for (int i = 0; i < models.Count; i++)
        {
            var runs = timings.Runs[i];
            var cpu = runs.Select(r => r.ThreadCpuMs).ToList();
            stats.Add(new LatencyStats(labels[i], timings.SessionMs[i], runs.Count, Spread.Of(runs.Select(r => r.WallMs)),
                cpu.Any(double.IsNaN) ? null : Spread.Of(cpu))
            {
                Profile = options.Profile ? ProfileOperators(models[i], new SessionSettings(options.Optimization, options.Threads), labels[i], timings.Feeds, options, cancellation) : null,
            });
        }
        return new BenchReport
        {
            Engine = $"ONNX Runtime {OrtRuntime.Version} (CPU, optimisation {options.Optimization.ToString().ToLowerInvariant()}, {ThreadsText(options.Threads)})",
            Warmup = options.Warmup,
            Threads = options.Threads,
            Inputs = timings.Inputs,
            Models = stats,
            WallRatio = Ratio(timings, r => r.WallMs),
            ThreadCpuRatio = stats.All(s => s.ThreadCpu is not null) ? Ratio(timings, r => r.ThreadCpuMs) : null,
        };
    }

    /// <summary>MODEL2 ÷ MODEL1 from the runs taken in the same rounds; null with one model or one run.</summary>
    private static PairedRatio? Ratio(InterleavedTimings timings, Func<RunTiming, double> measure) =>
        timings.Runs.Count == 2 && timings.Runs[0].Count >= 2
            ? PairedRatio.Of(timings.Runs[1].Select(measure).ToList(), timings.Runs[0].Select(measure).ToList())
            : null;

    /// <summary>Runs of each model under the profiler for <c>--profile</c> (not timed: profiling slows every kernel), after one warm-up run left out of the profile.</summary>
    private const int ProfiledRuns = 10;

    /// <summary>Runs <paramref name="model"/> in a separate profiled session on <paramref name="feeds"/> and sums kernel time per operator type.</summary>
    private static OperatorProfile ProfileOperators(Model model, SessionSettings settings, string label, IReadOnlyList<(TrialInput Info, HostTensor Tensor)> feeds,
        BenchOptions options, CancellationToken cancellation)
    {
        using var folder = new ProfileFolder();
        using var session = OrtRuntime.CreateSession(model, settings with { ProfilePrefix = folder.Prefix }, label);
        return RunProfiled(session, model, label, feeds, 1 + Math.Min(options.Runs, ProfiledRuns), warmupRuns: 1, cancellation);
    }

    /// <summary>
    /// Runs a session created with <see cref="SessionSettings.ProfilePrefix"/> <paramref name="runs"/> times on
    /// <paramref name="feeds"/>, ends its profiling and reads the profile, leaving out its first <paramref name="warmupRuns"/> runs
    /// (counting any the session made before).
    /// </summary>
    internal static OperatorProfile RunProfiled(InferenceSession session, Model model, string label, IReadOnlyList<(TrialInput Info, HostTensor Tensor)> feeds,
        int runs, int warmupRuns, CancellationToken cancellation)
    {
        var outputNames = model.Graph.Outputs.Select(v => v.Name).ToList();
        var inputs = feeds.Select(f => (f.Info.Name, f.Tensor)).ToList();
        for (int run = 0; run < runs; run++)
        {
            try
            {
                using var outputs = SessionRunner.Run(session, inputs, outputNames, cancellation);
            }
            catch (OnnxRuntimeException e)
            {
                cancellation.ThrowIfCancellationRequested();
                throw new RuntimeFailure($"ONNX Runtime cannot run {label}: {OrtRuntime.FirstLine(e.Message)}", e);
            }
        }
        using var stream = File.OpenRead(session.EndProfiling());
        return OperatorProfile.Parse(stream, warmupRuns);
    }

    /// <summary>
    /// Times <paramref name="subjects"/>, each in a session at its own optimisation level with
    /// <see cref="BenchOptions.Threads"/> intra-op threads (<see cref="BenchOptions.Optimization"/> is not used),
    /// on inputs planned from the first subject's model at its own sizes with batch 1 (<see cref="InputPlan.DeploymentDims"/>). With one intra-op thread the thread CPU time of each
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
        var dims = plan.DeploymentDims(labels[0]);

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
            var feeds = RunnableFeeds(plan.MakeFeeds(0, dims), sessions[0], models[0], labels[0], cancellation);
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
                options.Progress?.Report(new WorkProgress(round < 0 ? "warm-up runs" : "timed runs", round < 0 ? round + options.Warmup : round, round < 0 ? options.Warmup : options.Runs));
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
                feeds.Select(f => f.Info).ToList(), sessionMs, timings) { Feeds = feeds };
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

    /// <summary>The model's own sizes with batch-like dims 1 (<see cref="InputPlan.DeploymentDims"/>), once ONNX Runtime has run the model on them.</summary>
    internal static List<(TrialInput Info, HostTensor Tensor)> FindRunnableFeeds(InputPlan plan, InferenceSession session, Model model, string label, CancellationToken cancellation) =>
        RunnableFeeds(plan.MakeFeeds(0, plan.DeploymentDims(label)), session, model, label, cancellation);

    /// <summary><paramref name="feeds"/>, once ONNX Runtime has run the model on them.</summary>
    private static List<(TrialInput Info, HostTensor Tensor)> RunnableFeeds(List<(TrialInput Info, HostTensor Tensor)> feeds, InferenceSession session, Model model, string label, CancellationToken cancellation)
    {
        try
        {
            using var outputs = SessionRunner.Run(session, feeds.Select(f => (f.Info.Name, f.Tensor)).ToList(), model.Graph.Outputs.Select(v => v.Name).ToList(), cancellation);
            return feeds;
        }
        catch (OnnxRuntimeException e)
        {
            throw new RuntimeFailure($"ONNX Runtime cannot run {label} on {string.Join(", ", feeds.Select(f => $"{f.Info.Name} {f.Tensor.Describe()}"))}: {OrtRuntime.FirstLine(e.Message)}; give working inputs with --shape, --value or --input");
        }
    }
}
