using System.CommandLine;
using OnnxConvTool.Ir;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv bench MODEL [MODEL2]</c>: latency (min/median/p90, wall and calling-thread CPU time) of one or two
/// models under chosen ORT settings on the same inputs (batch 1, the model's own sizes), and which of the two is
/// faster when the 95 % interval of their paired ratio says so.
/// </summary>
public static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model("model", "The model to time (MODEL1).");
        var second = new Argument<string?>("model2")
        {
            Description = "A second model (e.g. the rewritten copy) timed on the same inputs; the report gives MODEL2/MODEL1.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var optimization = CommonOptions.Choice<OptimizationLevel>("--opt", Enum.GetValues<OptimizationLevel>(), "ONNX Runtime graph optimisation level");
        optimization.DefaultValueFactory = _ => OptimizationLevel.All;
        var threads = new Option<int>("--threads")
        {
            Description = "Intra-op threads (0 lets ONNX Runtime choose).",
            DefaultValueFactory = _ => 1,
        };
        var runs = new Option<int>("--runs")
        {
            Description = "Timed runs per model.",
            DefaultValueFactory = _ => 50,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Untimed warm-up runs per model.",
            DefaultValueFactory = _ => 5,
        };
        var profile = new Option<bool>("--profile")
        {
            Description = "Also run each model under ONNX Runtime's profiler (untimed) and show the operators that take the most time.",
        };
        var inputs = new VerifyCliOptions();
        var format = CommonOptions.Format(ReportFormats.Bench);
        var report = CommonOptions.Report();
        var command = new Command("bench", CommonOptions.Described("Time one or two models with ONNX Runtime on the same inputs and say which is faster.",
            "onnxconv bench models/resnet_bottleneck.onnx matmul.onnx --runs 20"))
        {
            model, second, optimization, threads, runs, warmup, profile, format, report, CommonOptions.Quiet, CommonOptions.Verbose,
        };
        inputs.AddTo(command, inputsOnly: true);
        command.SetAction(parse => context.Execute(parse, () =>
        {
            var options = new BenchOptions
            {
                Optimization = parse.GetValue(optimization),
                Threads = parse.GetValue(threads),
                Runs = parse.GetValue(runs),
                Warmup = parse.GetValue(warmup),
                Profile = parse.GetValue(profile),
                Inputs = inputs.ToVerifyOptions(parse),
            };
            ReportOutput.CheckTarget(parse.GetValue(report), [parse.GetValue(model), parse.GetValue(second), .. options.Inputs.FilesRead()]);
            BenchReport result;
            using (var progress = ProgressDisplay.For(context, parse))
            {
                progress.Report(new WorkProgress("loading the models", 0, 0));
                var models = new List<Model> { ModelReader.Load(parse.GetValue(model)!) };
                if (parse.GetValue(second) is { } secondPath) models.Add(ModelReader.Load(secondPath));
                result = LatencyBenchmark.Run(models, options with { Progress = progress }, context.Cancellation);
            }
            string text = parse.GetValue(format) switch
            {
                OutputFormat.Json => JsonReports.Versioned(result.RenderJson()),
                OutputFormat.Markdown => result.RenderMarkdown(),
                _ => result.RenderText(),
            };
            ReportOutput.Write(context, parse.GetValue(report), text);
            return (int)ExitCode.Ok;
        }));
        return command;
    }
}
