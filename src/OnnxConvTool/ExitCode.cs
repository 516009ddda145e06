namespace OnnxConvTool;

/// <summary>The one exit-code scheme shared by every command (documented in README.md).</summary>
public enum ExitCode
{
    Ok = 0,
    VerificationFoundDifference = 1,
    UsageError = 2,
    InputRejected = 3,
    Unsupported = 4,
    OutputNotWritten = 5,
    VerificationCouldNotRun = 6,
    Interrupted = 130,
}

/// <summary>An error a user caused or can act on; carries its exit code and a one-line message.</summary>
public class OnnxConvException : Exception
{
    public OnnxConvException(ExitCode exitCode, string message, Exception? inner = null)
        : base(message, inner) => ExitCode = exitCode;

    public ExitCode ExitCode { get; }
}

/// <summary>The input model is malformed or unsafe (exit code 3).</summary>
public sealed class ModelRejectedException : OnnxConvException
{
    public ModelRejectedException(string path, string problem, Exception? inner = null)
        : base(ExitCode.InputRejected, $"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    public string Path { get; }
    public string Problem { get; }
}

/// <summary>The model is valid but uses something the tool does not support (exit code 4).</summary>
public sealed class UnsupportedModelException(string message) : OnnxConvException(ExitCode.Unsupported, message);

/// <summary>The output could not be written (exit code 5).</summary>
public sealed class OutputNotWrittenException(string message, Exception? inner = null)
    : OnnxConvException(ExitCode.OutputNotWritten, message, inner);
