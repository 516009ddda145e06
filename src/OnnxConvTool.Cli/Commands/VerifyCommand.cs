using System.CommandLine;
using OnnxConvTool.Ir;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv verify REFERENCE CANDIDATE</c>: runs both models with ONNX Runtime (optimisations off) on
/// the same inputs and compares every output. Exit 0 equivalent, 1 different, 2 usage, 3 a model is
/// rejected, 6 ONNX Runtime cannot run a model on the inputs, or the reference is not deterministic.
/// </summary>
public static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var reference = CommonOptions.Model("reference", "The model taken as correct.");
        var candidate = new Argument<string?>("candidate")
        {
            Description = "The model checked against it (e.g. a rewritten copy); without it, --test-data checks the reference alone against the stored outputs.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var inputs = new VerifyCliOptions();
        var localize = new Option<bool>("--localize")
        {
            Description = "Also compare the intermediate tensors both models share and name the first that diverges.",
        };
        var format = CommonOptions.Format(ReportFormats.Verify);
        var report = CommonOptions.Report();
        var command = new Command("verify", CommonOptions.Described("Check that two models compute the same outputs (or one model the outputs stored in an ONNX test-data folder), with ONNX Runtime and every graph optimisation off.",
            "onnxconv verify models/resnet_bottleneck.onnx matmul.onnx --localize"))
        {
            reference, candidate, localize, format, report, CommonOptions.Quiet, CommonOptions.Verbose,
        };
        inputs.AddTo(command);
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string referencePath = parse.GetValue(reference)!;
            // With one model and --test-data, the model is its own candidate: the stored outputs are the check.
            string candidatePath = parse.GetValue(candidate)
                ?? (parse.GetValue(inputs.TestData) is not null ? referencePath
                    : throw new OnnxConvException(ExitCode.UsageError, $"{referencePath}: verify needs a candidate model to compare with, or --test-data DIR to check this one against its stored outputs"));
            var options = inputs.ToVerifyOptions(parse) with { Localize = parse.GetValue(localize) };
            if (parse.GetValue(candidate) is null) options = options with { CandidateLabel = $"{referencePath} (second session)" };
            ReportOutput.CheckTarget(parse.GetValue(report), [referencePath, candidatePath, .. options.FilesRead()]);
            VerificationReport result;
            using (var progress = ProgressDisplay.For(context, parse))
            {
                progress.Report(new WorkProgress("loading the models", 0, 0));
                var (referenceModel, candidateModel) = LoadBoth(referencePath, candidatePath);
                result = EquivalenceChecker.Verify(referenceModel, candidateModel, options with { Progress = progress }, context.Cancellation);
            }
            string text = parse.GetValue(format) switch
            {
                OutputFormat.Json => JsonReports.Versioned(result.RenderJson()),
                OutputFormat.Markdown => result.RenderMarkdown(),
                _ => result.RenderText(),
            };
            ReportOutput.Write(context, parse.GetValue(report), text);
            if (result.ExitCode == ExitCode.VerificationCouldNotRun) VerdictMessages.Problem(context, result, parse.GetValue(CommonOptions.Verbose), $"onnxconv: {result.Problems.FirstOrDefault()}");
            return (int)result.ExitCode;
        }));
        return command;
    }

    /// <summary>Loads the two models concurrently; when both are rejected, the reference's error is reported.</summary>
    internal static (Model Reference, Model Candidate) LoadBoth(string referencePath, string candidatePath)
    {
        var referenceTask = Task.Run(() => ModelReader.Load(referencePath));
        Model? candidate = null;
        Exception? candidateError = null;
        try
        {
            candidate = ModelReader.Load(candidatePath);
        }
        catch (Exception e)
        {
            candidateError = e;
        }
        var reference = referenceTask.GetAwaiter().GetResult();
        if (candidateError is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(candidateError);
        return (reference, candidate!);
    }
}
