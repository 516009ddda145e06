using System.Diagnostics;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

/// <summary>
/// A python3 that can <c>import onnx</c> (the reference implementation), found once. Tests that need it
/// skip when there is none, and fail instead when ONNXCONV_REQUIRE_SHARED=1.
/// </summary>
internal static class PythonOnnx
{
    private static readonly Lazy<string?> Interpreter = new(Find);

    public static string Require()
    {
        if (Interpreter.Value is { } python) return python;
        if (SharedData.Required) throw new InvalidOperationException("ONNXCONV_REQUIRE_SHARED=1 but no python3 with the onnx package was found");
        Skip.If(true, "no python3 with the onnx package (apt-get install python3-onnx)");
        return "";
    }

    /// <summary>Runs <paramref name="script"/> with <paramref name="arguments"/>; returns stdout, throws with stderr on failure.</summary>
    public static string Run(string python, string script, params string[] arguments)
    {
        using var temp = new TempDirectory();
        string scriptPath = temp.File("script.py");
        File.WriteAllText(scriptPath, script);
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(scriptPath);
        foreach (string a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"python failed ({process.ExitCode}): {stderr}");
        return stdout.Result;
    }

    private static string? Find()
    {
        foreach (string candidate in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                var start = new ProcessStartInfo(candidate, ["-c", "import onnx"]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
                using var process = Process.Start(start);
                if (process is null) continue;
                process.WaitForExit();
                if (process.ExitCode == 0) return candidate;
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        return null;
    }
}
