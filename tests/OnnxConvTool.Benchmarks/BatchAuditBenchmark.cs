using System.Globalization;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Whole-process <c>onnxconv audit DIR --format jsonl</c> on a folder of the shared and sample models. Speed: one model
/// per core (<c>--jobs</c> default) against <c>--jobs 1</c> on the same folder, CPU and wall time beside (a shared
/// machine disturbs wall time most). Memory (issue 10: bounded by the largest model, not the sum): the folder with
/// every model copied twelve times against the folder with each copied four times, both in parallel and without
/// ranks, target: peak RSS at most 1.25× (three times the models must not take anything like three times the
/// memory). The runtime's heap grows to its collection budget over the first few dozen models and then stays flat,
/// so a folder of the ten models once sits below that plateau and is shown for reference only.
/// </summary>
internal static class BatchAuditBenchmark
{
    public const string Description = "onnxconv audit DIR: parallel vs --jobs 1, and peak RSS of 12× the models vs 4× (target ≤ 1.25×)";
    private const double MemoryTarget = 1.25;
    private const int Copies = 4;
    private const int MoreCopies = 12;

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        if (SharedData.Root is null)
        {
            context.Error.WriteLine("../shared/models not found beside the repository");
            return 2;
        }
        var models = SharedData.RealModelNames.Select(SharedData.RealModel).Concat(SampleModels.All.Select(m => m.CommittedPath)).ToList();
        string once = Folder(context, "batch-audit-x1", models, 1);
        string four = Folder(context, "batch-audit-x4", models, Copies);
        string twelve = Folder(context, "batch-audit-x12", models, MoreCopies);

        ProcessComparison.WriteHeader(context, $"batch audit benchmark: {models.Count} models (../shared/models and models/), {Environment.ProcessorCount} cores");
        var speed = ProcessComparison.Measure(context, "parallel vs --jobs 1",
            new ProcessCommand(context.CliPath, ["audit", once, "--format", "jsonl"]),
            new ProcessCommand(context.CliPath, ["audit", once, "--format", "jsonl", "--jobs", "1"]),
            run => ProcessComparison.Failure("onnxconv audit", run),
            run => ProcessComparison.Failure("onnxconv audit --jobs 1", run),
            settle: () => { });
        if (speed is null) return 1;
        var memory = ProcessComparison.Measure(context, $"{MoreCopies}× vs {Copies}× the models",
            new ProcessCommand(context.CliPath, ["audit", twelve, "--format", "jsonl", "--no-rank"]),
            new ProcessCommand(context.CliPath, ["audit", four, "--format", "jsonl", "--no-rank"]),
            run => ProcessComparison.Failure($"onnxconv audit ({MoreCopies}×)", run),
            run => ProcessComparison.Failure($"onnxconv audit ({Copies}×)", run),
            settle: () => { });
        if (memory is null) return 1;
        var single = ProcessMeasurement.Run(context.CliPath, ["audit", once, "--format", "jsonl", "--no-rank"]);

        output.WriteLine("| run | models | median CPU | median wall | peak RSS |");
        output.WriteLine("|---|---:|---:|---:|---:|");
        Row(output, $"audit DIR (--jobs {Environment.ProcessorCount})", models.Count, speed.Contender);
        Row(output, "audit DIR --jobs 1", models.Count, speed.Baseline);
        Row(output, $"audit DIR --no-rank, each model {MoreCopies}×", models.Count * MoreCopies, memory.Contender);
        Row(output, $"audit DIR --no-rank, each model {Copies}×", models.Count * Copies, memory.Baseline);
        Row(output, "audit DIR --no-rank, each model once (one run, reference)", models.Count, [single]);
        output.WriteLine();
        double rss = (double)memory.Contender.Max(r => r.PeakRssBytes) / memory.Baseline.Max(r => r.PeakRssBytes);
        bool met = rss <= MemoryTarget;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"parallel ÷ --jobs 1: wall {speed.Ratio:0.00}, CPU {speed.Contender.MedianCpuSeconds() / speed.Baseline.MedianCpuSeconds():0.00}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"peak RSS {MoreCopies}× ÷ {Copies}×: {rss:0.00} (target ≤ {MemoryTarget}): {(met ? "met" : "MISSED")}"));
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        return met ? 0 : 1;
    }

    private static void Row(TextWriter output, string label, int count, IReadOnlyList<ProcessRun> runs) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {label} | {count} | {runs.MedianCpuSeconds():0.000} s | {runs.MedianSeconds():0.000} s | {runs.PeakRss()} |"));

    /// <summary>A folder holding <paramref name="copies"/> copies of each model, made once and reused.</summary>
    private static string Folder(BenchmarkContext context, string name, IReadOnlyList<string> models, int copies)
    {
        string folder = Directory.CreateDirectory(Path.Combine(context.WorkDirectory, name)).FullName;
        foreach (string model in models)
            for (int i = 0; i < copies; i++)
            {
                string target = Path.Combine(folder, $"{i}-{Path.GetFileName(model)}");
                if (!File.Exists(target)) File.Copy(model, target);
            }
        return folder;
    }
}
