using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
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
            var contender = new List<TimedRun>();
            var baseline = new List<TimedRun>();
            foreach (string exe in new[] { context.CliPath, jit })
            {
                var warmUp = TimedRun.Of(exe, arguments);
                if (warmUp.ExitCode != 0)
                {
                    context.Error.WriteLine($"{label}: warm-up of {exe} exited with {warmUp.ExitCode}: {warmUp.Stderr.Trim()}");
                    return 1;
                }
            }
            for (int i = 0; i < context.Runs; i++)
            {
                contender.Add(TimedRun.Of(context.CliPath, arguments));
                baseline.Add(TimedRun.Of(jit, arguments));
            }
            if (contender.Concat(baseline).FirstOrDefault(r => r.ExitCode != 0) is { } failed)
            {
                context.Error.WriteLine($"{label}: a timed run exited with {failed.ExitCode}: {failed.Stderr.Trim()}");
                return 1;
            }
            var ratio = PairedRatio.Of(contender.Select(r => r.Cpu).ToList(), baseline.Select(r => r.Cpu).ToList());
            met &= !ratio.Misses(target);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {Milliseconds(contender.Select(r => r.Cpu))} | {Milliseconds(baseline.Select(r => r.Cpu))} | {Milliseconds(contender.Select(r => r.Wall))} | {Milliseconds(baseline.Select(r => r.Wall))} | {ratio} | ≤ {target} | {ratio.Verdict(target)} |"));
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

    private static string Milliseconds(IEnumerable<double> seconds) =>
        string.Create(CultureInfo.InvariantCulture, $"{ProcessComparison.Median(seconds) * 1000:0.0} ms");

    /// <summary>The size of the folder that holds <paramref name="executable"/> (after links: an installed tool's command is one).</summary>
    private static string FolderSize(string executable)
    {
        var file = new FileInfo(executable);
        string folder = Path.GetDirectoryName((file.ResolveLinkTarget(returnFinalTarget: true) ?? file).FullName)!;
        long bytes = new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        return string.Create(CultureInfo.InvariantCulture, $"{folder}: {bytes / 1e6:0} MB");
    }

    /// <summary>One run of a child process: wall time, and its CPU time from the growth of this process's RUSAGE_CHILDREN.</summary>
    private sealed record TimedRun(int ExitCode, double Wall, double Cpu, string Stderr)
    {
        public static TimedRun Of(string file, IReadOnlyList<string> arguments)
        {
            var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in arguments) start.ArgumentList.Add(a);
            double before = ChildrenCpuSeconds();
            var clock = Stopwatch.StartNew();
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            clock.Stop();
            _ = stdout.Result;
            return new TimedRun(process.ExitCode, clock.Elapsed.TotalSeconds, ChildrenCpuSeconds() - before, stderr.Result);
        }

        /// <summary>User + system time of every child this process has waited for, in seconds (Linux, microsecond resolution).</summary>
        private static double ChildrenCpuSeconds()
        {
            if (getrusage(RusageChildren, out var usage) != 0) throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
            return usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6;
        }

        private const int RusageChildren = -1;

        [StructLayout(LayoutKind.Sequential)]
        private struct Rusage
        {
            public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
            private unsafe fixed long _rest[14];
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int getrusage(int who, out Rusage usage);
    }
}
