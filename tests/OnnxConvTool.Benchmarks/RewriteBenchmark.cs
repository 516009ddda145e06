using System.Globalization;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Whole-process <c>onnxconv rewrite MODEL -o OUT --to matmul</c> (verification included) on every model in
/// ../shared/models, against <c>onnxconv verify MODEL MODEL</c> with the same input options, so the ratio shows
/// what rewriting and writing add on top of verifying. Target (issue 3): every rewrite finishes in a few seconds
/// on this 2-core machine; the check is median ≤ 5 s per model.
/// </summary>
internal static class RewriteBenchmark
{
    public const string Description = "onnxconv rewrite --to matmul (verified) vs onnxconv verify MODEL MODEL, on ../shared/models (target ≤ 5 s median each)";
    private const double TargetSeconds = 5.0;

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        if (SharedData.Root is null)
        {
            context.Error.WriteLine("../shared/models not found beside the repository");
            return 2;
        }
        string rewritten = Path.Combine(context.WorkDirectory, "out-rewrite.onnx");

        ProcessComparison.WriteHeader(context, "rewrite benchmark: onnxconv rewrite MODEL -o OUT --to matmul [inputs] vs onnxconv verify MODEL MODEL [inputs]");
        output.WriteLine("| model | inputs | rewrite median | rewrite min | rewrite max | rewrite peak RSS | verify median | verify min | verify peak RSS | rewrite ÷ verify | ≤ 5 s |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");

        bool met = true;
        foreach (string name in SharedData.RealModelNames)
        {
            string model = SharedData.RealModel(name);
            var modelInputs = ModelInputs.ForSharedModel(name);
            var runs = ProcessComparison.MeasureAgainstVerify(context, name, "rewrite", model, rewritten, modelInputs, "--to", "matmul");
            if (runs is null) return 1;

            bool modelMet = runs.Contender.MedianSeconds() <= TargetSeconds;
            met &= modelMet;
            string shown = modelInputs.Describe();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {shown} | {runs.Contender.MedianSeconds():0.000} s | {runs.Contender.MinSeconds():0.000} s | {runs.Contender.MaxSeconds():0.000} s | {runs.Contender.PeakRss()} | {runs.Baseline.MedianSeconds():0.000} s | {runs.Baseline.MinSeconds():0.000} s | {runs.Baseline.PeakRss()} | {runs.Ratio:0.00} | {(modelMet ? "pass" : "FAIL")} |"));
        }
        if (!context.KeepFiles) BenchmarkContext.Settle(rewritten);
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        output.WriteLine("rewrite ÷ verify: ratio of median wall times (what rewriting and writing the model add on top of verifying it)");
        output.WriteLine(met
            ? $"target met: rewrite (verification included) finishes in at most {TargetSeconds} s (median) on every model"
            : $"target missed: rewrite takes more than {TargetSeconds} s (median) on some model");
        return met ? 0 : 1;
    }
}
