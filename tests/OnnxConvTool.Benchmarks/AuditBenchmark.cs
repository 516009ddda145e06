using System.Globalization;
using System.Text.Json;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Whole-process <c>onnxconv audit MODEL --format json</c> on every model in ../shared/models and models/, against
/// what a user would otherwise run to get the shapes: python3 with onnx doing <c>onnx.load(p)</c> and
/// <c>onnx.shape_inference.infer_shapes(m)</c> on the same file. Start-up included on both sides. Target (issue 2):
/// the audit of every model completes in well under a second; the check is median ≤ 1 s per model.
/// </summary>
internal static class AuditBenchmark
{
    public const string Description = "onnxconv audit --format json vs python3 onnx.load + shape_inference.infer_shapes, on ../shared/models and models/ (target ≤ 1 s median each)";
    private const double TargetSeconds = 1.0;
    private const string PythonShapes = "import sys, onnx; m = onnx.load(sys.argv[1]); onnx.shape_inference.infer_shapes(m)";

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        if (SharedData.Root is null)
        {
            context.Error.WriteLine("../shared/models not found beside the repository");
            return 2;
        }
        var models = SharedData.RealModelNames.Select(SharedData.RealModel)
            .Concat(SampleModels.All.Select(m => m.CommittedPath))
            .ToList();

        output.WriteLine($"audit benchmark: onnxconv audit MODEL --format json vs python -c \"{PythonShapes}\" MODEL");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"onnxconv: {context.CliPath}");
        output.WriteLine($"runs:     {context.Runs} timed runs each, alternating, after one warm-up run each; whole processes, start-up included");
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
        output.WriteLine("| model | 1x1 convs | audit median | audit min | audit max | audit peak RSS | python median | python min | python peak RSS | audit ÷ python | ≤ 1 s |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");

        bool met = true;
        foreach (string model in models)
        {
            string name = Path.GetFileName(model);
            int conv1x1 = -1;
            var runs = ProcessComparison.Measure(context, name,
                new ProcessCommand(context.CliPath, ["audit", model, "--format", "json"]),
                new ProcessCommand(context.PythonPath, ["-c", PythonShapes, model]),
                ours => ProcessComparison.Failure("onnxconv", ours) ?? CountConv1x1(ours.Stdout, out conv1x1),
                python => ProcessComparison.Failure("python", python),
                settle: () => { });
            if (runs is null) return 1;

            bool modelMet = runs.Contender.MedianSeconds() <= TargetSeconds;
            met &= modelMet;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {conv1x1} | {runs.Contender.MedianSeconds():0.000} s | {runs.Contender.MinSeconds():0.000} s | {runs.Contender.MaxSeconds():0.000} s | {runs.Contender.PeakRss()} | {runs.Baseline.MedianSeconds():0.000} s | {runs.Baseline.MinSeconds():0.000} s | {runs.Baseline.PeakRss()} | {runs.Ratio:0.00} | {(modelMet ? "pass" : "FAIL")} |"));
        }
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine("audit ÷ python: ratio of median wall times (below 1: onnxconv audit is faster than python's load + shape inference)");
        output.WriteLine(met
            ? $"target met: the audit of every model completes in at most {TargetSeconds} s (median)"
            : $"target missed: the audit of some model takes more than {TargetSeconds} s (median)");
        return met ? 0 : 1;
    }

    /// <summary>Reads the number of 1x1 convs from the audit's JSON; returns why the output is unusable, or null.</summary>
    private static string? CountConv1x1(string json, out int count)
    {
        count = -1;
        try
        {
            using var document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("conv1x1", out var rows) || rows.ValueKind != JsonValueKind.Array)
                return "the audit's JSON has no conv1x1 array";
            count = rows.GetArrayLength();
            return null;
        }
        catch (JsonException e)
        {
            return $"the audit's stdout is not JSON: {e.Message}";
        }
    }
}
