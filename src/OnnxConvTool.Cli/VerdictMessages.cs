using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli;

/// <summary>The stderr line and exit code of a command that writes only a verified model.</summary>
internal static class VerdictMessages
{
    /// <summary>Says on stderr why nothing was written (when so) and returns the exit code.</summary>
    public static int Report(CliContext context, string inputPath, VerificationReport? verification, string what)
    {
        if (verification is not { Equivalent: false }) return (int)ExitCode.Ok;
        context.Error.WriteLine(verification.ExitCode == ExitCode.VerificationCouldNotRun
            ? $"onnxconv: {inputPath}: verification could not run ({verification.Problems.FirstOrDefault()}); nothing written"
            : $"onnxconv: {inputPath}: the {what} model is not equivalent; nothing written");
        return (int)verification.ExitCode;
    }
}
