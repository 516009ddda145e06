using System.Diagnostics;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Tests.Rewriting;

/// <summary>
/// ONNX's own reference checker (python onnx, <c>check_model(path, full_check=True)</c>) as an independent
/// oracle. One python process serves the whole test run. ONNX 1.12 knows opsets up to 17.
/// </summary>
internal static class OnnxChecker
{
    public const int NewestOpsetKnown = 17;

    private static readonly object Gate = new();
    private static Process? _server;

    private const string Script = """
        import sys, onnx
        for line in sys.stdin:
            path = line.strip()
            try:
                onnx.checker.check_model(path, full_check=True)
                print("OK", flush=True)
            except Exception as e:
                print("FAIL " + str(e).replace("\n", " | "), flush=True)
        """;

    /// <summary>Saves <paramref name="model"/> and asserts the checker accepts it (skipped for opsets the checker does not know).</summary>
    public static void AssertValid(Model model)
    {
        if (model.OnnxOpset > NewestOpsetKnown) return;
        string path = Path.Combine(Path.GetTempPath(), $"onnxconv-check-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, ModelWriter.ToBytes(model));
            string? problem = Check(path);
            Assert.True(problem is null, $"onnx.checker rejects the model: {problem}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Null when the checker accepts <paramref name="model"/> (or cannot judge its opset), else its message.</summary>
    public static string? Problem(Model model)
    {
        if (model.OnnxOpset > NewestOpsetKnown) return null;
        string path = Path.Combine(Path.GetTempPath(), $"onnxconv-check-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, ModelWriter.ToBytes(model));
            return Check(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Null when the checker accepts the file, else its message.</summary>
    public static string? Check(string path)
    {
        lock (Gate)
        {
            _server ??= Start();
            _server.StandardInput.WriteLine(path);
            _server.StandardInput.Flush();
            string line = _server.StandardOutput.ReadLine() ?? throw new InvalidOperationException("python onnx checker exited: " + _server.StandardError.ReadToEnd());
            return line == "OK" ? null : line["FAIL ".Length..];
        }
    }

    private static Process Start()
    {
        foreach (string python in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                var probe = Process.Start(new ProcessStartInfo(python, ["-c", "import onnx"]) { RedirectStandardError = true, RedirectStandardOutput = true });
                if (probe is null) continue;
                probe.WaitForExit();
                if (probe.ExitCode != 0) continue;
                var info = new ProcessStartInfo(python, ["-u", "-c", Script])
                {
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {python}");
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        throw new InvalidOperationException("no python3 with the onnx package is installed (apt-get install python3-onnx); the reference-checker tests need it");
    }
}
