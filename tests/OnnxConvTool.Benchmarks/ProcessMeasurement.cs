using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// One whole-process run: wall-clock time from spawn to exit (start-up included), peak resident memory, and the CPU
/// time (user + system) the process used, which a busy shared machine disturbs less than wall time (zero when
/// GNU time is missing).
/// </summary>
internal sealed record ProcessRun(TimeSpan Wall, long PeakRssBytes, int ExitCode, string Stdout, string Stderr, TimeSpan Cpu = default);

internal static class ProcessMeasurement
{
    private const string GnuTime = "/usr/bin/time";

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/>. Peak RSS and CPU time come from GNU time's %M,
    /// %U and %S (the kernel's rusage of the child) when /usr/bin/time exists, else peak RSS from polling VmHWM in /proc.
    /// </summary>
    public static ProcessRun Run(string file, IReadOnlyList<string> arguments)
    {
        string? timeFile = File.Exists(GnuTime) ? Path.GetTempFileName() : null;
        var start = new ProcessStartInfo(timeFile is null ? file : GnuTime)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (timeFile is not null)
        {
            foreach (string a in new[] { "-f", "%M %U %S", "-o", timeFile, file }) start.ArgumentList.Add(a);
        }
        foreach (string a in arguments) start.ArgumentList.Add(a);

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long polledPeak = 0;
        if (timeFile is null)
        {
            while (!process.WaitForExit(5)) polledPeak = Math.Max(polledPeak, ReadHighWaterMark(process.Id));
        }
        process.WaitForExit();
        clock.Stop();
        long peak = polledPeak;
        var cpu = TimeSpan.Zero;
        if (timeFile is not null)
        {
            string[] fields = File.ReadAllText(timeFile).Trim().Split('\n')[^1].Split(' ');
            File.Delete(timeFile);
            peak = long.TryParse(fields[0], out long kib) ? kib * 1024 : -1;
            if (fields.Length == 3 && double.TryParse(fields[1], CultureInfo.InvariantCulture, out double user)
                && double.TryParse(fields[2], CultureInfo.InvariantCulture, out double system))
                cpu = TimeSpan.FromSeconds(user + system);
        }
        return new ProcessRun(clock.Elapsed, peak, process.ExitCode, stdout.Result, stderr.Result, cpu);
    }

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/> without GNU time: CPU time from the growth of this
    /// process's RUSAGE_CHILDREN, in microseconds (GNU time's 10 ms steps are coarser than a NativeAOT start-up); no peak RSS (0).
    /// </summary>
    public static ProcessRun RunWithChildrenCpu(string file, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        var before = ChildrenCpu();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        clock.Stop();
        return new ProcessRun(clock.Elapsed, 0, process.ExitCode, stdout.Result, stderr.Result, ChildrenCpu() - before);
    }

    /// <summary>User + system time of every child this process has waited for (Linux, microsecond resolution).</summary>
    private static TimeSpan ChildrenCpu()
    {
        if (getrusage(RusageChildren, out var usage) != 0) throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        return TimeSpan.FromTicks((usage.UserSeconds + usage.SystemSeconds) * TimeSpan.TicksPerSecond
            + (usage.UserMicroseconds + usage.SystemMicroseconds) * TimeSpan.TicksPerMicrosecond);
    }

    private const int RusageChildren = -1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        private unsafe fixed long _rest[14];
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out Rusage usage);

    private static long ReadHighWaterMark(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}
