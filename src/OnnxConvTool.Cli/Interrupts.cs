using System.Runtime.InteropServices;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM handling. The command runs on a worker thread so this thread can always
/// react: the first signal cancels the command's token and gives it a grace period (0.8 s) to stop
/// cleanly; a command stuck where no token reaches (a native ONNX Runtime call, a blocking open or read)
/// is abandoned after that, its temp files deleted. A second signal abandons it at once. Either way the
/// exit code is 130 — unless the command finished first, in which case its own exit code stands.
/// </summary>
internal sealed class Interrupts : IDisposable
{
    public static readonly TimeSpan DefaultGracePeriod = TimeSpan.FromMilliseconds(800);

    /// <summary>The parser recurses per nesting level; give the worker the room a main thread would have.</summary>
    private const int WorkerStackBytes = 16 << 20;

    private readonly CancellationTokenSource _cancellation = new();
    private readonly ManualResetEventSlim _first = new();
    private readonly ManualResetEventSlim _second = new();
    private readonly PosixSignalRegistration[] _registrations;
    private readonly TimeSpan _gracePeriod;
    private int _signals;

    public Interrupts() : this(DefaultGracePeriod)
    {
    }

    internal Interrupts(TimeSpan gracePeriod)
    {
        _gracePeriod = gracePeriod;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];
    }

    public CancellationToken Token => _cancellation.Token;

    /// <summary>Whether <see cref="Run"/> gave up on a command that was still running (its thread may be inside native code).</summary>
    public bool AbandonedCommand { get; private set; }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Signal();
    }

    /// <summary>What SIGINT or SIGTERM does: the first cancels, the second abandons the command.</summary>
    internal void Signal()
    {
        if (Interlocked.Increment(ref _signals) == 1)
        {
            _cancellation.Cancel();
            _first.Set();
        }
        else
        {
            _second.Set();
        }
    }

    /// <summary>Runs <paramref name="command"/> on a worker thread; returns its exit code, or 130 when a signal made this thread give up on it.</summary>
    public int Run(Func<int> command, TextWriter stderr)
    {
        int code = 0;
        Exception? failure = null;
        using var done = new ManualResetEventSlim();
        var worker = new Thread(() =>
        {
            try { code = command(); }
            catch (Exception e) { failure = e; }
            finally { done.Set(); }
        }, WorkerStackBytes) { IsBackground = true, Name = "onnxconv command" };
        worker.Start();

        WaitHandle.WaitAny([done.WaitHandle, _first.WaitHandle]);
        if (!done.IsSet) WaitHandle.WaitAny([done.WaitHandle, _second.WaitHandle], _gracePeriod);
        if (!done.IsSet)
        {
            AbandonedCommand = true;
            TempFiles.DeleteAllOfThisProcess();
            stderr.WriteLine("onnxconv: interrupted");
            stderr.Flush();
            return (int)ExitCode.Interrupted;
        }
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        return code;
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _cancellation.Dispose();
        _first.Dispose();
        _second.Dispose();
    }
}
