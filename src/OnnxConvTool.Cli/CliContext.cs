using System.CommandLine;

namespace OnnxConvTool.Cli;

/// <summary>Where a command writes (reports to <see cref="Out"/>, diagnostics to <see cref="Error"/>) and its cancellation.</summary>
public sealed record CliContext(TextWriter Out, TextWriter Error, CancellationToken Cancellation)
{
    /// <summary>stdout is the process's own and a terminal (a person reads it; tables may be drawn).</summary>
    public bool OutIsTerminal { get; init; }

    /// <summary>stderr is the process's own and a terminal (progress may be shown there).</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>
    /// Runs a command body and maps failures to the shared exit codes: an <see cref="OnnxConvException"/>
    /// prints its one-line message, cancellation gives 130, anything else is reported as an internal error.
    /// </summary>
    public int Execute(ParseResult parse, Func<int> body)
    {
        bool verbose = parse.GetValue(CommonOptions.Verbose);
        try
        {
            Cancellation.ThrowIfCancellationRequested();
            return body();
        }
        catch (OnnxConvException e)
        {
            Error.WriteLine($"onnxconv: {e.Message.ReplaceLineEndings(" ")}");
            if (verbose) Error.WriteLine(e);
            return (int)e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Error.WriteLine("onnxconv: interrupted");
            return (int)ExitCode.Interrupted;
        }
        catch (Exception e)
        {
            Error.WriteLine($"onnxconv: internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            if (verbose) Error.WriteLine(e);
            return (int)ExitCode.Unsupported;
        }
    }
}
