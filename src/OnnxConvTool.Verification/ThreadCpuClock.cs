using System.Runtime.InteropServices;

namespace OnnxConvTool.Verification;

/// <summary>
/// CPU time consumed by the calling thread, which other processes on a busy machine disturb far less than
/// wall time. With one intra-op thread ONNX Runtime runs a session's graph on the thread that calls Run,
/// so this clock sees the whole inference. Linux only (<c>CLOCK_THREAD_CPUTIME_ID</c>).
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    public static bool IsAvailable { get; } = OperatingSystem.IsLinux();

    /// <summary>The calling thread's CPU time in milliseconds, or NaN where the clock is unavailable.</summary>
    public static double NowMilliseconds()
    {
        if (!IsAvailable || ClockGetTime(ClockThreadCpuTimeId, out var time) != 0) return double.NaN;
        return time.Seconds * 1e3 + time.Nanoseconds / 1e6;
    }
}
