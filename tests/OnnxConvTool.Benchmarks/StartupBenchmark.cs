using System.Globalization;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Start-up of the shipped executable (NativeAOT: what <c>dotnet publish -r RID</c> and the dotnet tool package give)
/// against the JIT build the README gave before (<c>dotnet publish -c Release -o out</c>, framework-dependent), on
/// <c>onnxconv --help</c> and <c>onnxconv inspect models/mnist_1x1.onnx</c>, and the rank of one 2048×2048 weight
/// (<c>audit</c>) to show the AOT build's numeric code is not slower than the JIT's. Whole processes, alternating,
/// CPU time (user + system) of each child from getrusage in microseconds (GNU time's 10 ms steps are coarser than an
/// AOT start-up). Targets (issue 9): start-up ≤ 0.1× the JIT build's CPU; the rank at parity (≤ 1.05×).
/// </summary>
internal static class StartupBenchmark
{
    public const string Description = "the shipped NativeAOT onnxconv vs the JIT dotnet publish build: --help, inspect mnist_1x1 (target CPU ≤ 0.1×), audit rank of a 2048×2048 weight (parity ≤ 1.05×)";
    private const double StartupTarget = 0.1;
    private const double ParityTarget = 1.05;

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        string jit = PublishJit(context);
        string mnist = SampleModels.Get("mnist_1x1.onnx").CommittedPath;
        // one Conv with a seeded 2048×2048 weight (the audit-rank benchmark's model): its audit is load, shape inference and one rank
        string rankModel = ConvChainModels.Inline(context, 1);
        var cases = new (string Label, string[] Arguments, double Target)[]
        {
            ("onnxconv --help", ["--help"], StartupTarget),
            ("onnxconv inspect models/mnist_1x1.onnx", ["inspect", mnist], StartupTarget),
            ($"onnxconv audit (rank of one {ConvChainModels.Channels}×{ConvChainModels.Channels} weight)", ["audit", rankModel, "--format", "json"], ParityTarget),
        };

        output.WriteLine("start-up benchmark: the shipped executable (contender) vs the JIT build (baseline)");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"contender: {context.CliPath} (folder {FolderSize(context.CliPath)})");
        output.WriteLine($"baseline:  {jit}, from dotnet publish -c Release -p:PublishAot=false (folder {FolderSize(jit)})");
        output.WriteLine($"runs:      {context.Runs} timed runs each, alternating, after one warm-up run each; CPU = user + system of the child (getrusage)");
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
        output.WriteLine("| command | contender CPU (median) | baseline CPU (median) | contender wall | baseline wall | CPU ratio [95 % CI] | target | verdict |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|:---:|");

        bool met = true;
        foreach (var (label, arguments, target) in cases)
        {
            var runs = ProcessComparison.Measure(context, label, new ProcessCommand(context.CliPath, arguments), new ProcessCommand(jit, arguments),
                r => ProcessComparison.Failure(context.CliPath, r), r => ProcessComparison.Failure(jit, r),
                settle: () => { }, run: ProcessMeasurement.RunWithChildrenCpu);
            if (runs is null) return 1;
            var (contender, baseline) = runs;
            var ratio = PairedRatio.Of(contender.Select(r => r.Cpu.TotalSeconds).ToList(), baseline.Select(r => r.Cpu.TotalSeconds).ToList());
            met &= !ratio.Misses(target);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {Milliseconds(contender.MedianCpuSeconds())} | {Milliseconds(baseline.MedianCpuSeconds())} | {Milliseconds(contender.MedianSeconds())} | {Milliseconds(baseline.MedianSeconds())} | {ratio} | ≤ {target} | {ratio.Verdict(target)} |"));
        }
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine("CPU ratio: geometric mean of contender ÷ baseline over the run pairs, 95 % confidence interval; missed only when the whole interval is above the target");
        return met ? 0 : 1;
    }

    /// <summary>Publishes the JIT build (framework-dependent, no runtime identifier, as <c>dotnet publish</c> gave before NativeAOT) into WORK/publish-jit.</summary>
    private static string PublishJit(BenchmarkContext context)
    {
        string folder = Path.Combine(context.WorkDirectory, "publish-jit");
        BenchmarkContext.Publish(folder, context.Error, "JIT, framework-dependent", "-p:PublishAot=false");
        return Path.Combine(folder, "onnxconv");
    }

    private static string Milliseconds(double seconds) => string.Create(CultureInfo.InvariantCulture, $"{seconds * 1000:0.0} ms");

    /// <summary>The size of the folder that holds <paramref name="executable"/> (after links: an installed tool's command is one).</summary>
    private static string FolderSize(string executable)
    {
        var file = new FileInfo(executable);
        string folder = Path.GetDirectoryName((file.ResolveLinkTarget(returnFinalTarget: true) ?? file).FullName)!;
        long bytes = new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        return string.Create(CultureInfo.InvariantCulture, $"{folder}: {bytes / 1e6:0} MB");
    }
}
