using System.Diagnostics;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

/// <summary>
/// Runs a script under a python3 that has onnx and numpy (the reference implementation the tests compare
/// with). Skips when there is none, and fails instead when ONNXCONV_REQUIRE_SHARED=1 (CI installs python3-onnx).
/// </summary>
internal static class PythonOracle
{
    private static readonly Lazy<string?> Interpreter = new(FindInterpreter);

    public static string Run(string script, params string[] arguments)
    {
        string python = Interpreter.Value ?? Unavailable();
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add("-");
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.StandardInput.Write(script);
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"python oracle failed ({process.ExitCode}): {stderr.Result}");
        return stdout;
    }

    private static string Unavailable()
    {
        const string message = "no python3 with onnx and numpy (apt-get install python3-onnx)";
        if (SharedData.Required) throw new InvalidOperationException($"ONNXCONV_REQUIRE_SHARED=1 but there is {message}");
        Skip.If(true, message);
        return "";
    }

    private static string? FindInterpreter()
    {
        string[] candidates = [Environment.GetEnvironmentVariable("ONNXCONV_PYTHON") ?? "", "python3", "/usr/bin/python3"];
        foreach (var candidate in candidates.Where(c => c.Length > 0))
        {
            try
            {
                var start = new ProcessStartInfo(candidate, ["-c", "import onnx, numpy"]) { RedirectStandardError = true, RedirectStandardOutput = true };
                using var process = Process.Start(start)!;
                process.StandardError.ReadToEnd();
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
