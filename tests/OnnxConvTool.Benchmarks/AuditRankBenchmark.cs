using System.Globalization;
using System.Text.Json;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// What the rank of one 2048×2048 float32 weight costs: <c>onnxconv audit</c> minus <c>onnxconv audit --no-rank</c>,
/// against numpy's <c>matrix_rank</c> with OpenBLAS on one thread (python3 loading the weight with onnx, minus the
/// same script without the rank), whole processes, CPU time (user + system), alternating. Target (issue 9): onnxconv's
/// rank costs at most 1.2× numpy's, and both find the same rank.
/// </summary>
internal static class AuditRankBenchmark
{
    public const string Description = "rank of one 2048×2048 weight: onnxconv audit (with − without rank) vs numpy matrix_rank on one OpenBLAS thread (with − without), CPU time (target ≤ 1.2×)";
    private const double Target = 1.2;

    private const string PythonWeight = "import os, sys; os.environ['OPENBLAS_NUM_THREADS'] = '1'; import numpy as np, onnx; from onnx import numpy_helper; "
        + "w = [numpy_helper.to_array(t) for t in onnx.load(sys.argv[1]).graph.initializer if len(t.dims) == 4][0]; m = w.reshape(w.shape[0], -1); ";
    private const string PythonRank = PythonWeight + "print(np.linalg.matrix_rank(m))";
    private const string PythonLoadOnly = PythonWeight + "print(m.shape[0])";

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        string model = ConvChainModels.Inline(context, 1);
        ProcessComparison.WriteHeader(context, $"audit rank benchmark: one {ConvChainModels.Channels}×{ConvChainModels.Channels} float32 weight ({Path.GetFileName(model)})");
        output.WriteLine($"python:   {context.PythonPath} -c \"{PythonRank}\" (numpy {PythonVersion(context)}, OPENBLAS_NUM_THREADS=1)");
        output.WriteLine();

        int ourRank = -1, numpyRank = -1;
        var withRank = ProcessComparison.Measure(context, "rank",
            new ProcessCommand(context.CliPath, ["audit", model, "--format", "json"]),
            new ProcessCommand(context.PythonPath, ["-c", PythonRank, model]),
            run => ProcessComparison.Failure("onnxconv audit", run) ?? ReadWeightRank(run.Stdout, out ourRank),
            run => ProcessComparison.Failure("python", run) ?? (int.TryParse(run.Stdout.Trim(), out numpyRank) ? null : $"python printed '{run.Stdout.Trim()}'"),
            settle: () => { });
        var withoutRank = ProcessComparison.Measure(context, "no rank",
            new ProcessCommand(context.CliPath, ["audit", model, "--format", "json", "--no-rank"]),
            new ProcessCommand(context.PythonPath, ["-c", PythonLoadOnly, model]),
            run => ProcessComparison.Failure("onnxconv audit --no-rank", run),
            run => ProcessComparison.Failure("python", run),
            settle: () => { });
        if (withRank is null || withoutRank is null) return 1;
        if (withRank.Contender.Any(r => r.Cpu == TimeSpan.Zero))
        {
            context.Error.WriteLine("CPU time needs GNU time at /usr/bin/time");
            return 2;
        }

        double ours = withRank.Contender.MedianCpuSeconds(), oursBase = withoutRank.Contender.MedianCpuSeconds();
        double numpy = withRank.Baseline.MedianCpuSeconds(), numpyBase = withoutRank.Baseline.MedianCpuSeconds();
        double ourCost = ours - oursBase, numpyCost = numpy - numpyBase, ratio = ourCost / numpyCost;
        bool sameRank = ourRank == numpyRank;
        bool met = ratio <= Target && sameRank;
        output.WriteLine("| process | CPU median with rank | CPU median without | rank cost | peak RSS with rank | rank found |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|");
        output.WriteLine(F($"| onnxconv audit | {ours:0.000} s | {oursBase:0.000} s | {ourCost:0.000} s | {withRank.Contender.PeakRss()} | {ourRank} |"));
        output.WriteLine(F($"| python numpy matrix_rank | {numpy:0.000} s | {numpyBase:0.000} s | {numpyCost:0.000} s | {withRank.Baseline.PeakRss()} | {numpyRank} |"));
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine(F($"rank cost ratio onnxconv ÷ numpy: {ratio:0.00} (target ≤ {Target}); ranks {(sameRank ? "equal" : "DIFFER")}: {(met ? "met" : "NOT met")}"));
        return met ? 0 : 1;
    }

    private static string? ReadWeightRank(string json, out int rank)
    {
        rank = -1;
        try
        {
            using var document = JsonDocument.Parse(json);
            var rows = document.RootElement.GetProperty("conv1x1");
            if (rows.GetArrayLength() != 1 || !rows[0].TryGetProperty("weightRank", out var value) || value.ValueKind != JsonValueKind.Number)
                return "the audit's JSON has no single conv with a weightRank";
            rank = value.GetInt32();
            return null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException)
        {
            return $"the audit's stdout is not the expected JSON: {e.Message}";
        }
    }

    private static string PythonVersion(BenchmarkContext context)
    {
        var run = ProcessMeasurement.Run(context.PythonPath, ["-c", "import numpy; print(numpy.__version__)"]);
        return run.ExitCode == 0 ? run.Stdout.Trim() : "unavailable";
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
