using System.Globalization;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Peak resident memory (GNU time's %M, the kernel's high-water mark, file-backed pages included) of whole
/// <c>onnxconv</c> processes on the large conv-chain models. Peak RSS hardly varies between runs, so each command
/// runs once. Targets (issue 9):
/// <list type="bullet">
/// <item><c>audit-memory</c>: <c>audit</c> with ranks peaks at ≤ 3 × one weight's float64 copy + 100 MB on the
/// 32-weight inline model and on a 160-weight model with external data (2.7 GB, generated into a temporary folder
/// and deleted afterwards): memory independent of the number of weights.</item>
/// <item><c>pipeline-memory</c>: <c>rewrite --to matmul</c> and <c>optimize</c> on the 537 MB model peak at ≤ 2.5×
/// the model's size with verification (ONNX Runtime's two sessions hold about 2×) and ≤ 0.3× with
/// <c>--no-verify</c>.</item>
/// </list>
/// </summary>
internal static class MemoryBenchmark
{
    public const string AuditDescription = "onnxconv audit peak RSS on the 32-weight (inline) and 160-weight (external data) 2048² chains (target ≤ 3 × float64 weight + 100 MB)";
    public const string PipelineDescription = "onnxconv rewrite/optimize peak RSS on the 537 MB chain, verified and --no-verify (targets ≤ 2.5× and ≤ 0.3× the model)";
    private const double AuditOverheadBytes = 100e6;
    private const double VerifiedTarget = 2.5;
    private const double UnverifiedTarget = 0.3;

    public static int RunAudit(BenchmarkContext context)
    {
        var output = context.Out;
        double limit = 3 * ConvChainModels.Float64WeightBytes + AuditOverheadBytes;
        WriteHeader(context, "audit memory benchmark: onnxconv audit MODEL --format json, one run each");
        output.WriteLine(F($"limit: 3 × {Mib(ConvChainModels.Float64WeightBytes)} (one 2048×2048 weight as float64) + 100 MB = {Mib((long)limit)}"));
        output.WriteLine();
        output.WriteLine("| model | weights | model + data size | audit peak RSS | audit CPU | audit wall | --no-rank peak RSS | ≤ limit |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|:---:|");

        bool met = true;
        string folder = Directory.CreateTempSubdirectory("onnxconv-audit-memory-").FullName;
        try
        {
            foreach (var (layers, external) in new[] { (32, false), (160, true) })
            {
                string model = external ? ConvChainModels.External(folder, layers) : ConvChainModels.Inline(context, layers);
                long size = external ? Directory.GetFiles(folder).Sum(f => new FileInfo(f).Length) : new FileInfo(model).Length;
                var ranked = RunOnce(context, ["audit", model, "--format", "json"]);
                var unranked = RunOnce(context, ["audit", model, "--format", "json", "--no-rank"]);
                if (ranked is null || unranked is null) return 1;
                int ranks = ranked.Stdout.Split("\"weightRank\"").Length - 1;
                bool modelMet = ranked.PeakRssBytes <= limit && ranks == layers;
                met &= modelMet;
                output.WriteLine(F($"| {Path.GetFileName(model)} | {ranks} ranked | {Mib(size)} | {Mib(ranked.PeakRssBytes)} | {ranked.Cpu.TotalSeconds:0.0} s | {ranked.Wall.TotalSeconds:0.0} s | {Mib(unranked.PeakRssBytes)} | {(modelMet ? "pass" : "FAIL")} |"));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine(met ? "target met: audit memory stays within the limit on both models" : "target missed on some model");
        return met ? 0 : 1;
    }

    public static int RunPipeline(BenchmarkContext context)
    {
        var output = context.Out;
        string model = ConvChainModels.Inline(context, 32);
        long size = new FileInfo(model).Length;
        string written = Path.Combine(context.WorkDirectory, "out-pipeline-memory.onnx");
        WriteHeader(context, $"pipeline memory benchmark: {Path.GetFileName(model)} ({Mib(size)}), one run each");
        output.WriteLine("| command | peak RSS | ÷ model size | target | CPU | wall | |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|:---:|");

        bool met = true;
        foreach (string command in new[] { "rewrite", "optimize" })
            foreach (bool verify in new[] { true, false })
            {
                string[] arguments = [command, model, "-o", written, .. command == "rewrite" ? new[] { "--to", "matmul" } : [], .. verify ? [] : new[] { "--no-verify" }];
                BenchmarkContext.Settle(written);
                var run = RunOnce(context, arguments);
                if (run is null) return 1;
                if (!File.Exists(written))
                {
                    context.Error.WriteLine($"{string.Join(' ', arguments)} wrote no {written}");
                    return 1;
                }
                double ratio = (double)run.PeakRssBytes / size, target = verify ? VerifiedTarget : UnverifiedTarget;
                met &= ratio <= target;
                output.WriteLine(F($"| {string.Join(' ', arguments.Where(a => a != model && a != written && a != "-o"))} | {Mib(run.PeakRssBytes)} | {ratio:0.00} | ≤ {target} | {run.Cpu.TotalSeconds:0.0} s | {run.Wall.TotalSeconds:0.0} s | {(ratio <= target ? "pass" : "FAIL")} |"));
            }
        if (!context.KeepFiles) BenchmarkContext.Settle(written);
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine(met ? "targets met: verified ≤ 2.5× and unverified ≤ 0.3× the model size for both commands" : "target missed for some command");
        return met ? 0 : 1;
    }

    private static void WriteHeader(BenchmarkContext context, string title)
    {
        context.Out.WriteLine(title);
        context.Out.Write(MachineInfo.Describe(context.PythonPath));
        context.Out.WriteLine($"onnxconv: {context.CliPath}");
        context.Out.WriteLine("peak RSS: GNU time's %M (the kernel's high-water mark of the process, file-backed pages included)");
        context.Out.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        context.Out.WriteLine();
    }

    /// <summary>Runs onnxconv once and returns the measured run, or null after saying why it failed.</summary>
    private static ProcessRun? RunOnce(BenchmarkContext context, string[] arguments)
    {
        var run = ProcessMeasurement.Run(context.CliPath, arguments);
        if (run.ExitCode == 0) return run;
        context.Error.WriteLine($"onnxconv {string.Join(' ', arguments)} exited with {run.ExitCode}: {run.Stderr.Trim()}");
        return null;
    }

    private static string Mib(long bytes) => F($"{bytes / (1024.0 * 1024.0):0.0} MiB");

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
