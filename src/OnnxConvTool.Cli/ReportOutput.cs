using OnnxConvTool.Ir;

namespace OnnxConvTool.Cli;

/// <summary>
/// Sends a rendered report to stdout or to the <c>--report</c> file: a regular (or new) file is replaced
/// atomically through a temp file; a character device or named pipe (<c>/dev/stdout</c>, a FIFO) is written into.
/// </summary>
public static class ReportOutput
{
    /// <summary>
    /// Refuses, before any work is done, a report path that is one of the command's models or outputs (the
    /// same path, another spelling, a symbolic or hard link to it) or that cannot take a report (a folder).
    /// </summary>
    /// <exception cref="OnnxConvException">Usage error naming the report path and what it would overwrite.</exception>
    public static void CheckTarget(string? reportPath, params IEnumerable<string?> protectedPaths)
    {
        if (reportPath is null) return;
        foreach (string? path in protectedPaths)
        {
            if (path is not null && FilePaths.SameFile(reportPath, path))
                throw new OnnxConvException(ExitCode.UsageError, $"{reportPath}: --report would overwrite '{path}'; choose another report file");
        }
        var status = FilePaths.Status(reportPath);
        if (status.Kind is FileKind.Directory or FileKind.BlockDevice or FileKind.Socket)
            throw new OnnxConvException(ExitCode.UsageError, $"{reportPath}: is {status.KindText}; a report is written to a file, a character device or a pipe");
    }

    public static void Write(CliContext context, string? reportPath, string text)
    {
        if (reportPath is null)
        {
            context.Out.Write(text);
            context.Out.Flush();
            return;
        }
        CheckTarget(reportPath);
        try
        {
            if (FilePaths.Status(reportPath).Kind is FileKind.CharacterDevice or FileKind.Fifo)
                WriteInto(reportPath, text);
            else
                Replace(reportPath, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputNotWrittenException($"{reportPath}: cannot write report: {TempFiles.Scrub(e.Message)}", e);
        }
    }

    /// <summary>Writes into a device or pipe, which a rename would replace instead of feeding.</summary>
    private static void WriteInto(string path, string text)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 0);
        stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Writes a temp file beside the report's real file (symbolic links followed, so they survive) and renames it into place.</summary>
    private static void Replace(string path, string text)
    {
        string destination = File.Exists(path) ? FilePaths.RealPath(path) : Path.GetFullPath(path);
        TempFiles.ReplaceAtomically(destination, stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(text)));
    }
}
