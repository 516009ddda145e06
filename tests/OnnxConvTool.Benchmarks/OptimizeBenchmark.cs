using System.Globalization;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Whole-process <c>onnxconv optimize MODEL -o OUT</c> (verification included) on every model in ../shared/models,
/// against <c>onnxconv verify MODEL MODEL</c> with the same input options, measured alternately. The goal
/// (issue 6) is stated in CPU time (user + system of the process), which the shared machine disturbs less than
/// wall time: optimize ÷ verify ≤ 1.3 on every model, missed only when the whole 95 % interval of the paired
/// ratio lies above it.
/// </summary>
internal static class OptimizeBenchmark
{
    public const string Description = "onnxconv optimize (verified) vs onnxconv verify MODEL MODEL, whole-process CPU time, on ../shared/models (target ≤ 1.3×)";
    private const double Target = 1.3;

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        if (SharedData.Root is null)
        {
            context.Error.WriteLine("../shared/models not found beside the repository");
            return 2;
        }
        string optimized = Path.Combine(context.WorkDirectory, "out-optimize.onnx");

        ProcessComparison.WriteHeader(context, "optimize benchmark: onnxconv optimize MODEL -o OUT [inputs] vs onnxconv verify MODEL MODEL [inputs]");
        output.WriteLine("| model | inputs | optimize CPU median | verify CPU median | optimize ÷ verify, CPU [95% CI] | optimize wall median | verify wall median | wall ratio of medians | ≤ 1.3 |");
        output.WriteLine("|---|---|---:|---:|---|---:|---:|---:|---|");

        bool met = true;
        foreach (string name in SharedData.RealModelNames)
        {
            string model = SharedData.RealModel(name);
            var inputs = ModelInputs.ForSharedModel(name);
            var runs = ProcessComparison.MeasureAgainstVerify(context, name, "optimize", model, optimized, inputs);
            if (runs is null) return 1;
            if (runs.Contender.Any(r => r.Cpu == TimeSpan.Zero))
            {
                context.Error.WriteLine("CPU time needs GNU time at /usr/bin/time");
                return 2;
            }

            var ratio = PairedRatio.Of(runs.Contender.Select(r => r.Cpu.TotalSeconds).ToList(), runs.Baseline.Select(r => r.Cpu.TotalSeconds).ToList());
            met &= !ratio.Misses(Target);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {inputs.Describe()} | {runs.Contender.MedianCpuSeconds():0.000} s | {runs.Baseline.MedianCpuSeconds():0.000} s | {ratio} | {runs.Contender.MedianSeconds():0.000} s | {runs.Baseline.MedianSeconds():0.000} s | {runs.Ratio:0.00} | {ratio.Verdict(Target)} |"));
        }
        if (!context.KeepFiles) BenchmarkContext.Settle(optimized);
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine("CPU: user + system time of the whole process (GNU time); ratio: geometric mean of the per-pair ratios, 95 % t interval");
        output.WriteLine(met
            ? $"target met (within the measured noise): optimize costs at most {Target}× verify on every model"
            : $"target missed: optimize costs more than {Target}× verify on some model (whole interval above)");
        return met ? 0 : 1;
    }
}
