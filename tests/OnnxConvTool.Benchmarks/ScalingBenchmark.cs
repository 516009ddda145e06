using System.Globalization;
using Google.Protobuf;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Whether rewriting stays linear in graph size: <c>onnxconv rewrite --to matmul --no-verify</c> and
/// <c>onnxconv optimize --no-verify</c> on chains of 1,000 and 10,000 small 1x1 convs (4→4 channels on a 4×4 map),
/// against Debian's python3-onnx doing <c>onnx.save(onnx.load(p), q)</c> on the same file. Whole processes, start-up
/// included. Targets (issue 6): on 10k convs each command within 10× Python's load+save, and 10× the nodes costs
/// at most 12× the time. Targets are judged on CPU time (user + system, median), which the other jobs of a shared
/// machine disturb less than wall time; wall times are shown beside.
/// </summary>
internal static class ScalingBenchmark
{
    public const string Description = "onnxconv rewrite/optimize --no-verify on chains of 1k and 10k 1x1 convs vs python3 onnx load+save (targets: ≤ 10× python at 10k, 10k ≤ 12× 1k)";
    private const double PythonTarget = 10.0;
    private const double ScalingTarget = 12.0;
    private const string PythonRoundTrip = "import sys, onnx; onnx.save(onnx.load(sys.argv[1]), sys.argv[2])";
    private static readonly int[] Sizes = [1_000, 10_000];

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        string result = Path.Combine(context.WorkDirectory, "out-scaling.onnx");
        output.WriteLine("scaling benchmark: chains of N 4->4 1x1 convs on a 1x4x4x4 input");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"onnxconv: {context.CliPath}");
        output.WriteLine($"python:   {context.PythonPath} -c \"{PythonRoundTrip}\"");
        output.WriteLine($"runs:     {context.Runs} timed runs each, alternating with python, after one warm-up run each; whole processes, start-up included");
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
        output.WriteLine("| command | convs | onnxconv CPU | onnxconv wall | python load+save CPU | python wall | CPU ÷ python | ≤ 10× |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|:---:|");

        var medians = new Dictionary<(string, int), double>();
        bool met = true;
        foreach (var (label, arguments) in Commands(result))
            foreach (int size in Sizes)
            {
                string model = GenerateChain(context, size);
                var runs = ProcessComparison.Measure(context, $"{label} {size}",
                    new ProcessCommand(context.CliPath, [.. arguments(model)]),
                    new ProcessCommand(context.PythonPath, ["-c", PythonRoundTrip, model, result + ".py.onnx"]),
                    run => ProcessComparison.Failure($"onnxconv {label}", run) ?? (File.Exists(result) ? null : $"onnxconv {label} wrote no {result}"),
                    run => ProcessComparison.Failure("python", run),
                    settle: () => BenchmarkContext.Settle(result, result + ".py.onnx"));
                if (runs is null) return 1;
                double cpu = runs.Contender.MedianCpuSeconds(), pythonCpu = runs.Baseline.MedianCpuSeconds();
                medians[(label, size)] = cpu;
                double ratio = cpu / pythonCpu;
                bool withinPython = size < Sizes[^1] || ratio <= PythonTarget;
                met &= withinPython;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {label} | {size:N0} | {cpu:0.000} s | {runs.Contender.MedianSeconds():0.000} s | {pythonCpu:0.000} s | {runs.Baseline.MedianSeconds():0.000} s | {ratio:0.00} | {(size < Sizes[^1] ? "-" : withinPython ? "pass" : "FAIL")} |"));
            }
        output.WriteLine();
        foreach (var (label, _) in Commands(result))
        {
            double growth = medians[(label, Sizes[1])] / medians[(label, Sizes[0])];
            bool linear = growth <= ScalingTarget;
            met &= linear;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label}: 10× the convs costs {growth:0.00}× the CPU time (target ≤ {ScalingTarget}×): {(linear ? "met" : "NOT met")}"));
        }
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        if (!context.KeepFiles) BenchmarkContext.Settle(result, result + ".py.onnx");
        return met ? 0 : 1;
    }

    private static IEnumerable<(string Label, Func<string, string[]> Arguments)> Commands(string result) =>
    [
        ("rewrite --to matmul --no-verify", model => ["rewrite", model, "-o", result, "--to", "matmul", "--no-verify"]),
        ("optimize --no-verify", model => ["optimize", model, "-o", result, "--no-verify"]),
    ];

    /// <summary>A chain of <paramref name="convs"/> 1x1 convs with bias, generated once per work folder (seeded).</summary>
    private static string GenerateChain(BenchmarkContext context, int convs)
    {
        string path = Path.Combine(context.WorkDirectory, $"conv1x1-chain-{convs}-seed1.onnx");
        if (File.Exists(path)) return path;
        context.Error.WriteLine($"generating {path} ...");
        var builder = new TestModelBuilder(opset: 13, seed: 1);
        string x = builder.Input("x", 1, 4, 4, 4);
        for (int i = 0; i < convs; i++) x = builder.Conv(x, 4, 4, [1, 1]);
        builder.Output(x, OnnxConvTool.Onnx.TensorProto.Types.DataType.Float, 1, 4, 4, 4);
        string temp = path + ".partial";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            builder.Build().WriteTo(stream);
        File.Move(temp, path, overwrite: true);
        return path;
    }
}
