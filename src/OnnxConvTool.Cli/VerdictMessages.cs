using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli;

/// <summary>The stderr line and exit code of a command that writes only a verified model.</summary>
internal static class VerdictMessages
{
    /// <summary>Says on stderr why nothing was written (when so) and returns the exit code.</summary>
    public static int Report(CliContext context, string inputPath, VerificationReport? verification, string what, bool verbose = false)
    {
        if (verification is not { Equivalent: false }) return (int)ExitCode.Ok;
        Problem(context, verification, verbose, verification switch
        {
            { NotVerified: true } => $"onnxconv: {inputPath}: {verification.Problems.FirstOrDefault()}; nothing written",
            { ExitCode: ExitCode.VerificationCouldNotRun } => $"onnxconv: {inputPath}: verification could not run ({verification.Problems.FirstOrDefault()}); nothing written",
            _ => $"onnxconv: {inputPath}: the {what} model is not equivalent; nothing written",
        });
        return (int)verification.ExitCode;
    }

    /// <summary>
    /// Writes <paramref name="line"/>, plus how to accept created nodes no trial ran, and with --verbose
    /// ONNX Runtime's messages in full (the report quotes only their first line).
    /// </summary>
    public static void Problem(CliContext context, VerificationReport report, bool verbose, string line)
    {
        context.Error.WriteLine(report is { NotVerified: true, Coverage.NeverRan.Count: > 0 }
            ? $"{line}; drive them with --value/--input, or accept with --allow-unexecuted"
            : line);
        if (verbose)
            foreach (string message in report.RuntimeMessages.Distinct()) context.Error.WriteLine($"onnxruntime: {message}");
    }
}
