using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OnnxConvTool.Benchmarks;

/// <summary>The machine and tool versions a benchmark ran on, for the report.</summary>
internal static class MachineInfo
{
    public static string Describe(string pythonPath)
    {
        string cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";
        string memory = File.Exists("/proc/meminfo")
            ? File.ReadLines("/proc/meminfo").First().Split(':', 2)[1].Trim()
            : "unknown";
        string python = Capture(pythonPath, "-c", "import sys, onnx, google.protobuf as p; from google.protobuf.internal import api_implementation as a; print(sys.version.split()[0], 'onnx', onnx.__version__, 'protobuf', p.__version__, a.Type())");
        return $"""
            machine: {Environment.ProcessorCount} CPUs (nproc), {cpu}, {memory} RAM, {RuntimeInformation.OSDescription}
            .NET:    {RuntimeInformation.FrameworkDescription}
            python:  {python}

            """;
    }

    /// <summary>The 1, 5 and 15 minute load averages, to show how busy the shared machine was during a run.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static string Capture(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in args) start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : $"unavailable ({process.StandardError.ReadToEnd().Trim().Split('\n')[^1]})";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"unavailable ({e.Message})";
        }
    }
}
