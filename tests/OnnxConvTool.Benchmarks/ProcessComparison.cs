using System.Globalization;

namespace OnnxConvTool.Benchmarks;

/// <summary>A command line to run as a whole process: the executable and its arguments.</summary>
internal sealed record ProcessCommand(string File, IReadOnlyList<string> Arguments)
{
    public override string ToString() => string.Join(" ", Arguments.Prepend(File).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
}

/// <summary>The timed runs of a contender and of its baseline, measured alternately in the same invocation.</summary>
internal sealed record ComparedRuns(IReadOnlyList<ProcessRun> Contender, IReadOnlyList<ProcessRun> Baseline)
{
    /// <summary>Median wall time of the contender divided by that of the baseline (below 1: the contender is faster).</summary>
    public double Ratio => Contender.MedianSeconds() / Baseline.MedianSeconds();
}

/// <summary>
/// Runs a contender and a baseline as whole processes: one untimed warm-up run each (so both read their files
/// from the page cache, and the caller can check that both did their job), then timed runs that alternate
/// between the two, so both see the same machine load.
/// </summary>
internal static class ProcessComparison
{
    /// <summary>
    /// Measures <paramref name="contender"/> against <paramref name="baseline"/>. <paramref name="checkContender"/>
    /// and <paramref name="checkBaseline"/> see their warm-up run right after it ends (before the next settle) and
    /// return why it is unusable, or null; <paramref name="settle"/> runs (untimed) before every run. Each run is
    /// <paramref name="run"/> (default <see cref="ProcessMeasurement.Run"/>). Returns null, after saying why on stderr,
    /// when a warm-up or timed run fails.
    /// </summary>
    public static ComparedRuns? Measure(BenchmarkContext context, string label, ProcessCommand contender, ProcessCommand baseline,
        Func<ProcessRun, string?> checkContender, Func<ProcessRun, string?> checkBaseline, Action settle,
        Func<string, IReadOnlyList<string>, ProcessRun>? run = null)
    {
        run ??= ProcessMeasurement.Run;
        settle();
        string? problem = checkContender(run(contender.File, contender.Arguments));
        if (problem is null)
        {
            settle();
            problem = checkBaseline(run(baseline.File, baseline.Arguments));
        }
        if (problem is not null)
        {
            context.Error.WriteLine($"{label}: warm-up unusable: {problem}");
            return null;
        }

        var contenderRuns = new List<ProcessRun>();
        var baselineRuns = new List<ProcessRun>();
        for (int i = 0; i < context.Runs; i++)
        {
            settle();
            contenderRuns.Add(run(contender.File, contender.Arguments));
            settle();
            baselineRuns.Add(run(baseline.File, baseline.Arguments));
        }
        var failed = contenderRuns.Concat(baselineRuns).FirstOrDefault(r => r.ExitCode != 0);
        if (failed is not null)
        {
            context.Error.WriteLine($"{label}: a timed run exited with {failed.ExitCode}: {failed.Stderr.Trim()}");
            return null;
        }
        return new ComparedRuns(contenderRuns, baselineRuns);
    }

    /// <summary>
    /// Measures <c>onnxconv COMMAND MODEL -o OUTPUT [extra] [inputs]</c> against <c>onnxconv verify MODEL MODEL [inputs]</c>:
    /// what the command adds on top of verifying. The command's warm-up must write <paramref name="output"/>.
    /// </summary>
    public static ComparedRuns? MeasureAgainstVerify(BenchmarkContext context, string name, string command, string model, string output,
        ModelInputs inputs, params string[] extra) =>
        Measure(context, name,
            new ProcessCommand(context.CliPath, [command, model, "-o", output, .. extra, .. inputs.CliArguments()]),
            new ProcessCommand(context.CliPath, ["verify", model, model, .. inputs.CliArguments()]),
            run => Failure($"onnxconv {command}", run) ?? (File.Exists(output) ? null : $"onnxconv {command} exited 0 but wrote no {output}"),
            run => Failure("onnxconv verify", run),
            settle: () => BenchmarkContext.Settle(output));

    /// <summary>The header of a whole-process comparison: what runs, on which machine, how, and the load at the start.</summary>
    public static void WriteHeader(BenchmarkContext context, string title)
    {
        var output = context.Out;
        output.WriteLine(title);
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"onnxconv: {context.CliPath}");
        output.WriteLine($"runs:     {context.Runs} timed runs each, alternating, after one warm-up run each; whole processes, start-up included;");
        output.WriteLine("          before each run (untimed) the output is deleted and dirty pages synced");
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
    }

    /// <summary>Why a warm-up run is unusable (it failed), or null.</summary>
    public static string? Failure(string who, ProcessRun run) =>
        run.ExitCode == 0 ? null : $"{who} exited with {run.ExitCode}: {FirstLine(run.Stderr)}";

    public static double MedianSeconds(this IEnumerable<ProcessRun> runs) => Median(runs.Select(r => r.Wall.TotalSeconds));

    public static double MedianCpuSeconds(this IEnumerable<ProcessRun> runs) => Median(runs.Select(r => r.Cpu.TotalSeconds));

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static double MinSeconds(this IEnumerable<ProcessRun> runs) => runs.Min(r => r.Wall.TotalSeconds);

    public static double MaxSeconds(this IEnumerable<ProcessRun> runs) => runs.Max(r => r.Wall.TotalSeconds);

    public static string PeakRss(this IEnumerable<ProcessRun> runs) =>
        string.Create(CultureInfo.InvariantCulture, $"{runs.Max(r => r.PeakRssBytes) / (1024.0 * 1024.0):0.0} MiB");

    private static string FirstLine(string text) => text.Trim().Split('\n')[0];
}
