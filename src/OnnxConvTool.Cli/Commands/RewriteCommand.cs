using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxConvTool.Pipeline;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv rewrite MODEL -o OUT --to matmul|gemm|conv</c>: rewrites 1x1 convolutions (or back), verifies the
/// result with ONNX Runtime unless <c>--no-verify</c>, and writes it only when verification passes. Exit 0 done,
/// 1 the rewritten model differs (nothing written), 2 usage, 3 input rejected, 5 output not written, 6 ONNX
/// Runtime could not run a model.
/// </summary>
public static class RewriteCommand
{
    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var output = new ModelOutputOptions();
        var to = CommonOptions.Choice<RewriteTarget>("--to", [RewriteTarget.MatMul, RewriteTarget.Gemm, RewriteTarget.Conv],
            "Target form (matmul: every 1x1 Conv becomes MatMul; gemm: Gemm on 1x1 maps, MatMul elsewhere; conv: MatMul/Gemm with a constant weight becomes a 1x1 Conv)");
        to.Required = true;
        var only = new Option<string[]>("--only")
        {
            Description = "Rewrite only this node (node name or output name; repeatable).",
            AllowMultipleArgumentsPerToken = false,
        };
        var exclude = new Option<string[]>("--exclude")
        {
            Description = "Leave this node alone (node name or output name; repeatable).",
            AllowMultipleArgumentsPerToken = false,
        };
        var noVerify = new Option<bool>("--no-verify")
        {
            Description = "Skip the ONNX Runtime equivalence check of the result.",
        };
        var failIfUnchanged = UnchangedModel.FailOption();
        var inputs = new VerifyCliOptions();
        var format = CommonOptions.Format(ReportFormats.Rewrite);
        var report = CommonOptions.Report();
        var command = new Command("rewrite", CommonOptions.Described("Rewrite 1x1 Convs into MatMul/Gemm (or MatMul/Gemm into 1x1 Convs) and verify the result with ONNX Runtime.",
            "onnxconv rewrite models/resnet_bottleneck.onnx --to matmul -o matmul.onnx"))
        {
            model, to, only, exclude, noVerify, failIfUnchanged, format, report, CommonOptions.Quiet, CommonOptions.Verbose,
        };
        output.AddTo(command);
        inputs.AddTo(command, coverage: true);
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string inputPath = parse.GetValue(model)!;
            var target = output.Resolve(parse, inputPath);
            var verifyOptions = inputs.ToVerifyOptions(parse);
            var rewriteTarget = parse.GetValue(to);
            ReportOutput.CheckTarget(parse.GetValue(report), [inputPath, target.Path, target.Path + ".data", .. verifyOptions.FilesRead()]);
            var plan = TransformPlans.Rewrite(rewriteTarget, new RewriteOptions { Only = parse.GetValue(only) ?? [], Exclude = parse.GetValue(exclude) ?? [] });
            using var progress = ProgressDisplay.For(context, parse);
            var run = ModelPipeline.Run(new PipelineRequest
            {
                InputPath = inputPath,
                OutputPath = target.Path,
                SaveOptions = target.SaveOptions,
                Plan = plan,
                Verify = parse.GetValue(noVerify) ? null : verifyOptions,
                InspectShapes = verifyOptions.Shapes,
                AfterTransform = transform =>
                {
                    var rewrite = transform.Stages[0].Rewrite!;
                    if (rewrite.UnmatchedSelectors.Count > 0)
                        throw new OnnxConvException(ExitCode.UsageError, $"{inputPath}: --only/--exclude name no candidate node: {string.Join(", ", rewrite.UnmatchedSelectors)}"
                            + Suggestions.DidYouMean(rewrite.UnmatchedSelectors[0], rewrite.Outcomes.Select(o => o.NodeName)));
                    UnchangedModel.ThrowIf(parse.GetValue(failIfUnchanged), transform, inputPath, "rewritten");
                },
                Progress = progress,
            }, context.Cancellation);
            progress.Dispose();
            var summary = new RewriteSummary(inputPath, target.Path, rewriteTarget, run.Transform.Stages[0].Rewrite!, run.Verification,
                parse.GetValue(noVerify), run.Written, run.TransformTime, run.VerifyTime);
            string text = parse.GetValue(format) switch
            {
                OutputFormat.Json => JsonReports.Versioned(summary.RenderJson()),
                OutputFormat.Markdown => summary.RenderMarkdown(),
                _ => summary.RenderText(),
            };
            ReportOutput.Write(context, parse.GetValue(report), text);
            UnchangedModel.Notice(context, parse, run.Transform, inputPath, "rewritten", run.Written);
            return VerdictMessages.Report(context, inputPath, run.Verification, "rewritten", parse.GetValue(CommonOptions.Verbose));
        }));
        return command;
    }
}

/// <summary>What <c>rewrite</c> did: every candidate's outcome, the verification verdict and the timings.</summary>
internal sealed record RewriteSummary(
    string Input,
    string Output,
    RewriteTarget Target,
    RewriteResult Result,
    VerificationReport? Verification,
    bool VerificationSkipped,
    bool Written,
    TimeSpan RewriteTime,
    TimeSpan VerifyTime)
{
    private string VerificationLine => Verification is not null ? Verification.Summary
        : VerificationSkipped ? "skipped (--no-verify)"
        : "not needed: nothing was rewritten";

    private string Counts
    {
        get
        {
            int applied = Result.AppliedCount;
            int notApplicable = Result.Outcomes.Count(o => o.Status == CandidateStatus.NotApplicable);
            int excluded = Result.Outcomes.Count(o => o.Status == CandidateStatus.Excluded);
            return $"{Result.Outcomes.Count} candidates: {applied} rewritten, {notApplicable} not applicable" + (excluded > 0 ? $", {excluded} excluded" : "");
        }
    }

    public string RenderText()
    {
        var text = new StringBuilder();
        text.Append("rewrite --to ").Append(Target.ToString().ToLowerInvariant()).Append(": ").Append(Input).Append('\n');
        text.Append(Counts).Append('\n');
        foreach (var o in Result.Outcomes)
        {
            string status = o.Status switch { CandidateStatus.Applied => "rewritten", CandidateStatus.Excluded => "excluded", _ => "kept" };
            text.Append("  ").Append(status.PadRight(10)).Append(Where(o)).Append(": ").Append(o.Detail).Append('\n');
        }
        text.Append("verification: ").Append(VerificationLine).Append('\n');
        text.Append(Written ? $"wrote {Output}\n" : "nothing written\n");
        text.Append($"time: rewrite {RewriteTime.TotalSeconds:F2} s, verify {VerifyTime.TotalSeconds:F2} s\n");
        if (Verification is { Equivalent: false }) text.Append('\n').Append(Verification.RenderText());
        return text.ToString();
    }

    public string RenderMarkdown()
    {
        var text = new StringBuilder();
        text.Append($"## rewrite --to {Target.ToString().ToLowerInvariant()}: `{Input}`\n\n{Counts}\n\n| status | graph | node | op | detail |\n|---|---|---|---|---|\n");
        foreach (var o in Result.Outcomes)
            text.Append($"| {o.Status} | {o.GraphPath} | `{o.NodeName}` | {o.OpType} | {o.Detail.Replace("|", "\\|")} |\n");
        text.Append($"\nverification: {VerificationLine}\n\n{(Written ? $"wrote `{Output}`" : "nothing written")}\n");
        return text.ToString();
    }

    public string RenderJson()
    {
        var candidates = new JsonArray();
        foreach (var o in Result.Outcomes)
            candidates.Add((JsonNode)new JsonObject
            {
                ["rule"] = o.RuleId,
                ["graph"] = o.GraphPath,
                ["node"] = o.NodeName,
                ["op"] = o.OpType,
                ["status"] = o.Status switch { CandidateStatus.Applied => "applied", CandidateStatus.Excluded => "excluded", _ => "not-applicable" },
                ["applies"] = o.Status == CandidateStatus.Applied,
                [o.Status == CandidateStatus.Applied ? "done" : "reason"] = o.Detail,
            });
        var root = new JsonObject
        {
            ["input"] = Input,
            ["output"] = Output,
            ["to"] = Target.ToString().ToLowerInvariant(),
            ["applied"] = Result.AppliedCount,
            ["candidates"] = candidates,
            ["written"] = Written,
            ["verification"] = Verification is not null ? JsonNode.Parse(Verification.RenderJson())
                : new JsonObject { ["skipped"] = true, ["why"] = VerificationLine },
            ["seconds"] = new JsonObject { ["rewrite"] = Math.Round(RewriteTime.TotalSeconds, 3), ["verify"] = Math.Round(VerifyTime.TotalSeconds, 3) },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string Where(CandidateOutcome o) => (o.GraphPath == "main" ? "" : o.GraphPath + " ") + o.NodeName;
}
