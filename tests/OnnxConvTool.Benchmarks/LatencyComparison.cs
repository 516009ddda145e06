using System.Globalization;
using OnnxConvTool.Ir;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// One model of a latency comparison: its file, the inputs it runs on, the goal for optimised ÷ original under ORT's
/// full optimisation, and whether the goal "optimised @none ≤ original @basic" counts for it (issue 6's; issue 7's goals are @all only).
/// </summary>
internal sealed record LatencyCase(string Name, string ModelPath, ModelInputs Inputs, double TargetAtAll, bool GoalAtNone = true);

/// <summary>
/// Does <c>onnxconv optimize</c> make models faster? For each case, the original and the <c>optimize</c> output
/// run in one process, in six ONNX Runtime sessions with one intra-op thread — original and optimised at
/// ORT's full optimisation, the original at ORT's basic level, both with ORT's optimisations off (this pair
/// shows what the folds alone change, and so why a goal is missed), and a second session of the original at
/// full optimisation as a control (original ÷ original: how far two sessions of one graph differ) — interleaved round by round (the first session of each round rotating). Each run is timed by the calling
/// thread's CPU time (ORT runs the graph on that thread) with wall time beside it. Goals: optimised ÷ original at
/// full optimisation ≤ the case's target, and optimised without ORT's optimisations ≤ 1.00 × the original at
/// basic; a goal is missed only when its whole 95 % interval lies above it.
/// </summary>
internal static class LatencyComparison
{
    /// <summary>Timed rounds per case aim at this much time, between <see cref="MinRounds"/> (or --runs) and <see cref="MaxRounds"/>.</summary>
    private const double BudgetMs = 12_000;
    private const int MinRounds = 20;
    private const int MaxRounds = 2_000;
    private const int WarmupRounds = 5;

    private static readonly OptimizationLevel[] Levels = [OptimizationLevel.All, OptimizationLevel.All, OptimizationLevel.Basic, OptimizationLevel.None, OptimizationLevel.None, OptimizationLevel.All];

    /// <summary>Measures every case in <paramref name="cases"/> (the model list is the parameter, so later rules reuse this benchmark).</summary>
    public static int Run(BenchmarkContext context, string title, IReadOnlyList<LatencyCase> cases)
    {
        var output = context.Out;
        output.WriteLine(title);
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"onnxconv: {context.CliPath}");
        output.WriteLine($"rounds:   per model, sized to about {BudgetMs / 1000:0} s of runs (at least {Math.Max(MinRounds, context.Runs)}, at most {MaxRounds}) after {WarmupRounds} warm-up rounds;");
        output.WriteLine("          each round runs orig@all, opt@all, orig@basic, opt@none, orig@none, orig@all (control) once, starting one later each round");
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
        output.WriteLine("| model | inputs | rounds | orig@all CPU ms | opt@all CPU ms | opt÷orig @all, CPU [95% CI] | wall | goal | orig@basic CPU ms | opt@none CPU ms | opt@none ÷ orig@basic, CPU [95% CI] | wall | goal ≤ 1.00 | orig@none CPU ms | opt@none ÷ orig@none, CPU | control: orig÷orig @all, CPU | ops changed |");
        output.WriteLine("|---|---|---:|---:|---:|---|---|---|---:|---:|---|---|---|---:|---|---|---|");

        bool met = true;
        string engine = "";
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            string optimized = Path.Combine(context.WorkDirectory, $"latency-{i}-optimized.onnx");
            BenchmarkContext.Settle(optimized);
            var optimize = ProcessMeasurement.Run(context.CliPath, [.. new[] { "optimize", c.ModelPath, "-o", optimized }, .. c.Inputs.CliArguments()]);
            if (ProcessComparison.Failure("onnxconv optimize", optimize) is { } problem)
            {
                context.Error.WriteLine($"{c.Name}: {problem}");
                return 1;
            }
            var original = ModelReader.Load(c.ModelPath);
            var rewritten = ModelReader.Load(optimized);
            var subjects = new[] { original, rewritten, original, rewritten, original, original }.Zip(Levels, (m, level) => new LatencySubject(m, level)).ToList();
            var inputs = c.Inputs.ToVerifyOptions();

            var probe = LatencyBenchmark.Interleave(subjects, new BenchOptions { Runs = 3, Warmup = 1, Inputs = inputs });
            double roundMs = probe.Runs.Sum(runs => runs.Select(r => r.WallMs).Order().ElementAt(1));
            int rounds = Math.Clamp((int)(BudgetMs / Math.Max(roundMs, 1e-3)), Math.Max(MinRounds, context.Runs), MaxRounds);
            var timings = LatencyBenchmark.Interleave(subjects, new BenchOptions { Runs = rounds, Warmup = WarmupRounds, Inputs = inputs });
            engine = timings.Engine;

            var cpu = timings.Runs.Select(runs => runs.Select(r => r.ThreadCpuMs).ToList()).ToList();
            var wall = timings.Runs.Select(runs => runs.Select(r => r.WallMs).ToList()).ToList();
            var atAll = PairedRatio.Of(cpu[1], cpu[0]);
            var offVsBasic = PairedRatio.Of(cpu[3], cpu[2]);
            met &= !atAll.Misses(c.TargetAtAll) && (!c.GoalAtNone || !offVsBasic.Misses(1.0));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.Name} | {c.Inputs.Describe()} | {rounds} | {ProcessComparison.Median(cpu[0]):0.000} | {ProcessComparison.Median(cpu[1]):0.000} | {atAll} | {PairedRatio.Of(wall[1], wall[0])} | ≤ {c.TargetAtAll:0.00}: {atAll.Verdict(c.TargetAtAll)} | {ProcessComparison.Median(cpu[2]):0.000} | {ProcessComparison.Median(cpu[3]):0.000} | {offVsBasic} | {PairedRatio.Of(wall[3], wall[2])} | {(c.GoalAtNone ? offVsBasic.Verdict(1.0) : "n/a")} | {ProcessComparison.Median(cpu[4]):0.000} | {PairedRatio.Of(cpu[3], cpu[4])} | {PairedRatio.Of(cpu[5], cpu[0])} | {OpCountChanges(original, rewritten)} |"));
            if (!context.KeepFiles) BenchmarkContext.Settle(optimized);
        }
        output.WriteLine();
        output.WriteLine($"engine: {engine}; CPU = thread CPU time of the calling thread, median over the rounds");
        output.WriteLine("ratios: geometric mean of the per-round ratios with a 95 % t interval; \"within noise\": the interval contains the goal");
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine(met ? "goals met (within the measured noise) on every model" : "goal missed on some model (its whole interval lies above the goal)");
        return met ? 0 : 1;
    }

    /// <summary>The op types whose count the optimisation changed, e.g. "BatchNormalization 35→0, Conv 62→62".</summary>
    private static string OpCountChanges(Model before, Model after)
    {
        var old = Counts(before);
        var now = Counts(after);
        var changed = old.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(op => old.GetValueOrDefault(op) != now.GetValueOrDefault(op))
            .Select(op => $"{op} {old.GetValueOrDefault(op)}→{now.GetValueOrDefault(op)}")
            .ToList();
        return changed.Count == 0 ? "none" : string.Join(", ", changed);
    }

    private static Dictionary<string, int> Counts(Model model) =>
        model.AllNodes().GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
}
