using System.CommandLine;
using OnnxConvTool.Pipeline;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv optimize MODEL -o OUT</c>: folds constants into convolutions (the catalogue's fold set, then its merge
/// set, each to a fixpoint; merges that increase MACs only with <c>--allow-more-macs</c>), cleans up (Identity, dead nodes, unused initializers), optionally converts with
/// <c>--to</c> (one sweep), verifies against the input with ONNX Runtime unless <c>--no-verify</c>, and writes only
/// when verification passes. Exit 0 done, 1 not equivalent (nothing written), 2 usage (an unknown rule id lists the
/// valid ones), 3 input rejected, 5 output not written, 6 ONNX Runtime could not run a model.
/// </summary>
public static class OptimizeCommand
{
    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var output = new ModelOutputOptions();
        var rules = new Option<string[]>("--rules")
        {
            Description = "Run only these rules (ids, comma-separated or repeated). Default: every fold and merge rule.",
            HelpName = "ID,...",
        };
        var skip = new Option<string[]>("--skip")
        {
            Description = "Leave these rules out (ids, comma-separated or repeated).",
            HelpName = "ID,...",
        };
        var to = CommonOptions.Choice<RewriteTarget?>("--to", [RewriteTarget.MatMul, RewriteTarget.Gemm],
            "After folding, convert 1x1 Convs (matmul: every one becomes MatMul; gemm: Gemm on 1x1 maps, MatMul elsewhere; rewrite --to conv goes the other way)");
        var explain = new Option<bool>("--explain")
        {
            Description = "List every candidate that was not fused, with the reason.",
        };
        var allowMoreMacs = new Option<bool>("--allow-more-macs")
        {
            Description = "Apply merges that increase MACs too (by default they are kept, and --explain gives the figures).",
        };
        var foldOverridable = new Option<bool>("--fold-overridable-initializers")
        {
            Description = "Also fold initializers that are listed as graph inputs (IR < 4 lists every initializer as one), promising never to feed those inputs.",
        };
        var noVerify = new Option<bool>("--no-verify")
        {
            Description = "Skip the ONNX Runtime equivalence check of the result.",
        };
        var failIfUnchanged = UnchangedModel.FailOption();
        var inputs = new VerifyCliOptions();
        var format = CommonOptions.Format(ReportFormats.Optimize);
        var report = CommonOptions.Report();
        var command = new Command("optimize", CommonOptions.Described("Fold BatchNormalization, constant scales/shifts and zero Pads into convolutions, clean up, optionally convert, and verify the result with ONNX Runtime.",
            "onnxconv optimize models/mobilenetv2_block.onnx -o optimized.onnx --explain"))
        {
            model, rules, skip, to, explain, allowMoreMacs, foldOverridable, noVerify, failIfUnchanged, format, report, CommonOptions.Quiet, CommonOptions.Verbose,
        };
        output.AddTo(command);
        inputs.AddTo(command, coverage: true);
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string inputPath = parse.GetValue(model)!;
            var chosen = Ids(parse.GetValue(rules));
            var skipped = Ids(parse.GetValue(skip));
            CheckIds(inputPath, chosen, "--rules");
            CheckIds(inputPath, skipped, "--skip");
            var target = output.Resolve(parse, inputPath);
            var verifyOptions = parse.GetValue(noVerify) ? null : inputs.ToVerifyOptions(parse);
            var convert = parse.GetValue(to);
            ReportOutput.CheckTarget(parse.GetValue(report), [inputPath, target.Path, target.Path + ".data", .. inputs.ToVerifyOptions(parse).FilesRead()]);

            using var progress = ProgressDisplay.For(context, parse);
            var run = ModelPipeline.Run(new PipelineRequest
            {
                InputPath = inputPath,
                OutputPath = target.Path,
                SaveOptions = target.SaveOptions,
                Plan = TransformPlans.Optimize(convert, chosen, skipped, new RewriteOptions
                {
                    AllowMoreMacs = parse.GetValue(allowMoreMacs),
                    FoldOverridableInitializers = parse.GetValue(foldOverridable),
                }),
                Verify = verifyOptions,
                VerifyUnchanged = true,
                Inspect = true,
                InspectShapes = inputs.ToVerifyOptions(parse).Shapes,
                AfterTransform = transform => UnchangedModel.ThrowIf(parse.GetValue(failIfUnchanged), transform, inputPath, "rewritten"),
                Progress = progress,
            }, context.Cancellation);
            progress.Dispose();

            var rulesRun = TransformPlans.OptimizeSets.SelectMany(RuleCatalog.Set).Select(e => e.Id)
                .Where(id => (chosen.Count == 0 || chosen.Contains(id)) && !skipped.Contains(id)).ToArray();
            var summary = new OptimizeSummary(inputPath, target.Path, rulesRun, convert, run, parse.GetValue(noVerify), parse.GetValue(explain));
            string text = parse.GetValue(format) switch
            {
                OutputFormat.Json => JsonReports.Versioned(summary.RenderJson()),
                OutputFormat.Markdown => summary.RenderMarkdown(),
                OutputFormat.Html => summary.RenderHtml(),
                _ => summary.RenderText(),
            };
            ReportOutput.Write(context, parse.GetValue(report), text);
            if (run.Transform.CappedStage is { } capped)
                context.Error.WriteLine($"onnxconv: {inputPath}: warning: the {capped.Name} rules stopped after {capped.Rewrite!.Visits} node visits with work left; some rules may be undoing each other");
            UnchangedModel.Notice(context, parse, run.Transform, inputPath, "rewritten", run.Written);
            return VerdictMessages.Report(context, inputPath, run.Verification, "optimized", parse.GetValue(CommonOptions.Verbose));
        }));
        return command;
    }

    /// <summary>Ids from repeated and comma-separated values, trimmed, empty entries dropped.</summary>
    private static HashSet<string> Ids(string[]? values) =>
        (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);

    private static void CheckIds(string inputPath, IReadOnlyCollection<string> ids, string option)
    {
        var valid = TransformPlans.OptimizeSets.SelectMany(RuleCatalog.Set).Select(e => e.Id).ToArray();
        var unknown = ids.Where(id => !valid.Contains(id)).ToArray();
        if (unknown.Length == 0) return;
        string known = valid.Length > 0 ? string.Join(", ", valid) : "none yet";
        string hint = unknown.Any(id => RuleCatalog.Set(RuleCatalog.ConvertSet).Any(e => e.Id == id)) ? "; conversions are chosen with --to" : "";
        string closest = Suggestions.DidYouMean(unknown[0], valid);
        throw new OnnxConvException(ExitCode.UsageError,
            $"{inputPath}: {option} names unknown rule{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown)}{closest}{(closest.Length > 0 ? " " : "; ")}valid ids: {known}{hint}");
    }
}
