using System.Runtime.InteropServices;

namespace OnnxConvTool.Cli;

/// <summary>Ends the process without the runtime's shutdown or the native libraries' exit handlers.</summary>
internal static partial class ProcessExit
{
    /// <summary>
    /// Flushes the console and ends the process with <paramref name="code"/> through <c>_exit</c> on Unix; elsewhere
    /// returns, leaving the exit to the caller.
    /// </summary>
    public static void Immediately(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (!OperatingSystem.IsWindows()) ExitWithoutCleanup(code);
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ExitWithoutCleanup(int status);
}
