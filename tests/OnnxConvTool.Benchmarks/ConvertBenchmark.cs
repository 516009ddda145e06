using System.Globalization;
using Google.Protobuf;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// <c>onnxconv convert</c> against Debian's python3-onnx doing <c>onnx.save(onnx.load(p), q)</c> on the same
/// 0.5 GB model (32 chained 2048→2048 1x1 convs), whole processes, start-up included. Targets: onnxconv at
/// least 3× faster (ratio of medians) and its peak RSS at most 1.3× the model's size.
/// </summary>
internal static class ConvertBenchmark
{
    private const int Layers = 32;
    private const int Channels = ConvChainModels.Channels;
    private const double SpeedTarget = 3.0;
    private const double MemoryTarget = 1.3;
    private const string PythonRoundTrip = "import sys, onnx; onnx.save(onnx.load(sys.argv[1]), sys.argv[2])";

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        string model = ConvChainModels.Inline(context, Layers);
        long modelBytes = new FileInfo(model).Length;
        string ours = Path.Combine(context.WorkDirectory, "out-onnxconv.onnx");
        string theirs = Path.Combine(context.WorkDirectory, "out-python.onnx");
        string[] ourArguments = ["convert", model, "-o", ours];
        string[] pythonArguments = ["-c", PythonRoundTrip, model, theirs];

        output.WriteLine($"convert benchmark: {Layers} chained {Channels}->{Channels} 1x1 convs, model {modelBytes:N0} bytes ({Mib(modelBytes)})");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"onnxconv: {context.CliPath}");
        output.WriteLine($"python:   {context.PythonPath} -c \"{PythonRoundTrip}\"");
        output.WriteLine($"runs:     {context.Runs} timed runs each, alternating, after one warm-up run each; whole processes;");
        output.WriteLine("          before each run (untimed) outputs are deleted and dirty pages synced, so each writes a new file");
        output.WriteLine();

        if (!WarmUp(context, ourArguments, pythonArguments, model, ours)) return 1;
        var ourRuns = new List<ProcessRun>();
        var pythonRuns = new List<ProcessRun>();
        for (int i = 0; i < context.Runs; i++)
        {
            BenchmarkContext.Settle(ours, theirs);
            ourRuns.Add(Checked(context, "onnxconv", ProcessMeasurement.Run(context.CliPath, ourArguments)));
            BenchmarkContext.Settle(ours, theirs);
            pythonRuns.Add(Checked(context, "python", ProcessMeasurement.Run(context.PythonPath, pythonArguments)));
        }

        double ourMedian = Median(ourRuns), pythonMedian = Median(pythonRuns);
        double speedup = pythonMedian / ourMedian;
        long ourPeak = ourRuns.Max(r => r.PeakRssBytes);
        double memoryRatio = (double)ourPeak / modelBytes;
        output.WriteLine($"{"",-18} {"median",8} {"min",8} {"max",8}  {"peak RSS",-24}");
        Row(output, "onnxconv convert", ourRuns, modelBytes);
        Row(output, "python3 onnx", pythonRuns, modelBytes);
        output.WriteLine();
        bool speedMet = speedup >= SpeedTarget, memoryMet = memoryRatio <= MemoryTarget;
        output.WriteLine(F($"speed:  onnxconv is {speedup:0.00}x faster than python (ratio of medians; target >= {SpeedTarget}x): {(speedMet ? "met" : "NOT met")}"));
        output.WriteLine(F($"memory: onnxconv peak RSS is {memoryRatio:0.00}x the model size (target <= {MemoryTarget}x): {(memoryMet ? "met" : "NOT met")}"));

        if (!context.KeepFiles) BenchmarkContext.Settle(ours, theirs);
        return speedMet && memoryMet ? 0 : 1;
    }

    /// <summary>One untimed run each, so both read the model from the page cache; also checks onnxconv's copy is exact.</summary>
    private static bool WarmUp(BenchmarkContext context, string[] ourArguments, string[] pythonArguments, string model, string ours)
    {
        var ourRun = ProcessMeasurement.Run(context.CliPath, ourArguments);
        var pythonRun = ProcessMeasurement.Run(context.PythonPath, pythonArguments);
        if (ourRun.ExitCode != 0 || pythonRun.ExitCode != 0)
        {
            context.Error.WriteLine($"warm-up failed: onnxconv exit {ourRun.ExitCode} {ourRun.Stderr.Trim()}; python exit {pythonRun.ExitCode} {pythonRun.Stderr.Trim()}");
            return false;
        }
        if (!FilesEqual(model, ours))
        {
            context.Error.WriteLine($"onnxconv's output {ours} differs from its input; the benchmark would not compare like with like");
            return false;
        }
        return true;
    }

    private static ProcessRun Checked(BenchmarkContext context, string who, ProcessRun run)
    {
        if (run.ExitCode != 0) context.Error.WriteLine($"{who} exited with {run.ExitCode}: {run.Stderr.Trim()}");
        return run;
    }

    private static bool FilesEqual(string a, string b)
    {
        using var fa = new FileStream(a, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        using var fb = new FileStream(b, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        if (fa.Length != fb.Length) return false;
        var ba = new byte[1 << 20];
        var bb = new byte[1 << 20];
        int read;
        while ((read = fa.Read(ba)) > 0)
        {
            fb.ReadExactly(bb.AsSpan(0, read));
            if (!ba.AsSpan(0, read).SequenceEqual(bb.AsSpan(0, read))) return false;
        }
        return true;
    }

    private static double Median(List<ProcessRun> runs)
    {
        var sorted = runs.Select(r => r.Wall.TotalSeconds).Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static void Row(TextWriter output, string name, List<ProcessRun> runs, long modelBytes)
    {
        long peak = runs.Max(r => r.PeakRssBytes);
        output.WriteLine(F($"{name,-18} {Median(runs),7:0.000}s {runs.Min(r => r.Wall.TotalSeconds),7:0.000}s {runs.Max(r => r.Wall.TotalSeconds),7:0.000}s  {Mib(peak)} ({(double)peak / modelBytes:0.00}x model)"));
    }

    private static string Mib(long bytes) => F($"{bytes / (1024.0 * 1024.0):0.0} MiB");

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
