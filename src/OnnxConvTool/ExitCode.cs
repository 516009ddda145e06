namespace OnnxConvTool;

/// <summary>The one exit-code scheme shared by every command (documented in README.md).</summary>
public enum ExitCode
{
    /// <summary>Success; for verify, the models are equivalent.</summary>
    Ok = 0,
    /// <summary>Verification ran and found a difference.</summary>
    VerificationFoundDifference = 1,
    /// <summary>Bad arguments or options.</summary>
    UsageError = 2,
    /// <summary>The input model is malformed or unsafe.</summary>
    InputRejected = 3,
    /// <summary>The model is valid but uses something the tool does not support.</summary>
    Unsupported = 4,
    /// <summary>The output file could not be written; nothing was left behind.</summary>
    OutputNotWritten = 5,
    /// <summary>Verification could not run (ONNX Runtime refused a model or its inputs) or did not gather enough evidence.</summary>
    VerificationCouldNotRun = 6,
    /// <summary>Stopped by Ctrl-C or SIGTERM.</summary>
    Interrupted = 130,
}

/// <summary>An error a user caused or can act on; carries its exit code and a one-line message.</summary>
public class OnnxConvException : Exception
{
    /// <summary>An error with exit code <paramref name="exitCode"/> and the one-line <paramref name="message"/>.</summary>
    public OnnxConvException(ExitCode exitCode, string message, Exception? inner = null)
        : base(message, inner) => ExitCode = exitCode;

    /// <summary>The exit code the CLI returns for this error.</summary>
    public ExitCode ExitCode { get; }
}

/// <summary>The input model is malformed or unsafe (exit code 3).</summary>
public sealed class ModelRejectedException : OnnxConvException
{
    /// <summary>The model at <paramref name="path"/> is rejected because of <paramref name="problem"/> (one sentence).</summary>
    public ModelRejectedException(string path, string problem, Exception? inner = null)
        : base(ExitCode.InputRejected, $"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The rejected model's path.</summary>
    public string Path { get; }
    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}

/// <summary>The model is valid but uses something the tool does not support (exit code 4).</summary>
public sealed class UnsupportedModelException(string message) : OnnxConvException(ExitCode.Unsupported, message);

/// <summary>The output could not be written (exit code 5).</summary>
public sealed class OutputNotWrittenException(string message, Exception? inner = null)
    : OnnxConvException(ExitCode.OutputNotWritten, message, inner);
