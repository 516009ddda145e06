using System.Globalization;
using OnnxConvTool.Ir;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Why the merge blocks gain what they gain: ONNX Runtime's profiler on each builder block of the merge benchmark,
/// original and <c>optimize</c> output, at full optimisation with one intra-op thread — kernel time per op type as ORT
/// ran it (after its own fusions), per run.
/// </summary>
internal static class MergeProfileBenchmark
{
    public const string Description = "ONNX Runtime's profiler on the merge benchmark's builder blocks, original vs optimize output: kernel time per op type";

    private const int Runs = 200;

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        output.WriteLine($"merge profile: {Description}");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        var options = new BenchOptions { Runs = Math.Max(Runs, context.Runs), Warmup = 10 };
        foreach (var c in LatencyCases.MergeTargets(context.WorkDirectory))
        {
            string optimized = Path.Combine(context.WorkDirectory, $"profile-{c.Name}-optimized.onnx");
            BenchmarkContext.Settle(optimized);
            var optimize = ProcessMeasurement.Run(context.CliPath, ["optimize", c.ModelPath, "-o", optimized, .. c.Inputs.CliArguments()]);
            if (ProcessComparison.Failure("onnxconv optimize", optimize) is { } problem)
            {
                context.Error.WriteLine($"{c.Name}: {problem}");
                return 1;
            }
            var before = KernelProfile.Measure(ModelReader.Load(c.ModelPath), options with { Inputs = c.Inputs.ToVerifyOptions() });
            var after = KernelProfile.Measure(ModelReader.Load(optimized), options with { Inputs = c.Inputs.ToVerifyOptions() });
            output.WriteLine();
            output.WriteLine($"{c.Name} (µs per run, kernels as ORT ran them)");
            output.WriteLine("| op (ORT kernel) | original: nodes | original µs | optimised: nodes | optimised µs |");
            output.WriteLine("|---|---:|---:|---:|---:|");
            foreach (string op in before.Select(k => k.OpType).Union(after.Select(k => k.OpType)))
            {
                var b = before.FirstOrDefault(k => k.OpType == op);
                var a = after.FirstOrDefault(k => k.OpType == op);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {op} | {b?.Nodes ?? 0} | {b?.MicrosecondsPerRun ?? 0:0.0} | {a?.Nodes ?? 0} | {a?.MicrosecondsPerRun ?? 0:0.0} |"));
            }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| **total** | {before.Sum(k => k.Nodes)} | {before.Sum(k => k.MicrosecondsPerRun):0.0} | {after.Sum(k => k.Nodes)} | {after.Sum(k => k.MicrosecondsPerRun):0.0} |"));
            if (!context.KeepFiles) BenchmarkContext.Settle(optimized);
        }
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        return 0;
    }
}
