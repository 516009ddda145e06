namespace OnnxConvTool.Cli;

/// <summary>Sends a rendered report to stdout, or atomically to the <c>--report</c> file.</summary>
public static class ReportOutput
{
    public static void Write(CliContext context, string? reportPath, string text)
    {
        if (reportPath is null)
        {
            context.Out.Write(text);
            context.Out.Flush();
            return;
        }
        string fullPath = Path.GetFullPath(reportPath);
        string temp = Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temp, text);
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temp)) File.Delete(temp);
            throw new OutputNotWrittenException($"{reportPath}: cannot write report: {e.Message}", e);
        }
    }
}
