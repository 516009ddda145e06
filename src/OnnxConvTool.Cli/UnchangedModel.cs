using System.CommandLine;
using OnnxConvTool.Pipeline;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Cli;

/// <summary>
/// What <c>rewrite</c> and <c>optimize</c> say when their transform changed nothing: a line on stderr
/// ("0 of 20 candidates rewritten"), or, with <c>--fail-if-unchanged</c>, exit 4 before anything is written.
/// </summary>
internal static class UnchangedModel
{
    public static Option<bool> FailOption() => new("--fail-if-unchanged")
    {
        Description = "Exit 4 and write nothing when the model would come out unchanged (for scripts).",
    };

    /// <summary>"0 of 20 candidates rewritten".</summary>
    public static string Counts(TransformResult transform, string verb)
    {
        var outcomes = transform.Outcomes.ToList();
        return $"{outcomes.Count(o => o.Status == CandidateStatus.Applied)} of {outcomes.Count} candidates {verb}";
    }

    /// <summary>Stops the job (exit 4, nothing written) when the transform changed nothing and <paramref name="failIfUnchanged"/>.</summary>
    /// <exception cref="OnnxConvException">Unsupported (4): nothing changed and the caller asked for a failure then.</exception>
    public static void ThrowIf(bool failIfUnchanged, TransformResult transform, string inputPath, string verb)
    {
        if (failIfUnchanged && !transform.Modified)
            throw new OnnxConvException(ExitCode.Unsupported, $"{inputPath}: {Counts(transform, verb)}, the model is unchanged; nothing written (--fail-if-unchanged)");
    }

    /// <summary>Says on stderr that the model came out unchanged, unless --quiet.</summary>
    public static void Notice(CliContext context, ParseResult parse, TransformResult transform, string inputPath, string verb, bool written)
    {
        if (transform.Modified || parse.GetValue(CommonOptions.Quiet)) return;
        context.Error.WriteLine($"onnxconv: {inputPath}: {Counts(transform, verb)}, the model is unchanged{(written ? "; wrote it as it was" : "")}");
    }
}
