using System.Diagnostics;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;

namespace OnnxConvTool.Tests.Analysis;

/// <summary>
/// Runs a script (from stdin) under the interpreter <see cref="PythonOnnx"/> found, with onnx and numpy as the
/// reference implementation; skips or fails like the other oracle tests when there is none.
/// </summary>
internal static class NumpyScript
{
    public static string Run(string script, params string[] arguments)
    {
        PythonOracle.Require();
        var start = new ProcessStartInfo(PythonOnnx.Interpreter!) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add("-");
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.StandardInput.Write(script);
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"reference script failed ({process.ExitCode}): {stderr.Result}");
        return stdout;
    }
}
