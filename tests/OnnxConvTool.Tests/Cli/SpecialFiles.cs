using System.Diagnostics;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Tests.Cli;

/// <summary>Named pipes, device nodes and hard links made inside a test's temp folder, so no test ever points the tool at the real /dev.</summary>
internal static class SpecialFiles
{
    public static string Fifo(string path)
    {
        RunTool("mkfifo", path);
        return path;
    }

    /// <summary>A character device node with the numbers of /dev/null (1,3) or /dev/full (1,7); null when not allowed (not root).</summary>
    public static string? CharacterDevice(string path, int major, int minor) =>
        RunTool("mknod", path, "c", major.ToString(), minor.ToString()) ? path : null;

    /// <summary>A second name for <paramref name="target"/>.</summary>
    public static string HardLink(string target, string link)
    {
        if (!RunTool("ln", target, link)) throw new IOException($"ln {target} {link} failed");
        return link;
    }

    public static bool IsCharacterDevice(string path) => FilePaths.Status(path).Kind == FileKind.CharacterDevice;

    public static bool IsFifo(string path) => FilePaths.Status(path).Kind == FileKind.Fifo;

    private static bool RunTool(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0;
    }
}
