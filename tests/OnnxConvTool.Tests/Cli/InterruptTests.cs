using System.Diagnostics;
using OnnxConvTool.Cli;
using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

using DataType = OnnxConvTool.Onnx.TensorProto.Types.DataType;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM stop a command with exit code 130 within about a second, wherever it is
/// (ONNX Runtime runs, a session being built, a blocking pipe), and leave no output or temp file behind.
/// </summary>
public sealed class InterruptTests
{
    /// <summary>From the signal to the exit; the grace period is 0.8 s, the rest is slack for a loaded machine.</summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(4);

    [SkippableTheory]
    [InlineData("bench", "INT")]
    [InlineData("rewrite", "INT")]
    [InlineData("rewrite", "TERM")]
    [InlineData("optimize", "INT")]
    [InlineData("optimize", "TERM")]
    public async Task InterruptExitsWith130AndWritesNothing(string command, string signal)
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(opset: 13, seed: 3);
        string x = b.Input("x", 1, 64, 96, 96);
        string y = b.Conv(x, 64, 64, [1, 1]);
        for (int i = 0; i < 3; i++) y = b.Conv(y, 64, 64, [3, 3], attributes: [Attr.Ints("pads", 1, 1, 1, 1)]);
        b.Output(y, DataType.Float, 1, 64, 96, 96);
        string model = b.Save(temp.File("slow.onnx"));
        string output = temp.File("out.onnx");
        string[] args = command switch
        {
            "bench" => ["bench", model, "--runs", "1000000"],
            "optimize" => ["optimize", model, "-o", output, "--to", "matmul", "--trials", "1000000"],
            _ => ["rewrite", model, "-o", output, "--to", "matmul", "--trials", "1000000"],
        };

        var run = await InterruptedRun.Start(args, TimeSpan.FromSeconds(3), signal);

        run.AssertInterrupted(TimeSpan.FromSeconds(30));
        Assert.False(File.Exists(output));
        Assert.Equal([model], Directory.GetFiles(temp.Path));
    }

    /// <summary>Building an ONNX Runtime session is one blocking native call; a long one used to swallow every Ctrl-C.</summary>
    [SkippableTheory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task InterruptDuringALongSessionBuildExitsPromptly(string signal)
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(opset: 13, seed: 4);
        string y = b.Input("x", 1, 4);
        for (int i = 0; i < 100_000; i++)
        {
            b.Node("Relu", [y], [$"r{i}"]);
            y = $"r{i}";
        }
        b.Output(y, DataType.Float, 1, 4);
        // About 8 s of session build on an idle 2-core machine with every optimisation on (4 s on a fast CI machine).
        string model = b.Save(temp.File("long-build.onnx"));

        var run = await InterruptedRun.Start(["bench", model, "--opt", "all", "--runs", "1", "--warmup", "0"], TimeSpan.FromSeconds(2), signal);

        run.AssertInterrupted(Prompt);
        Assert.Equal([model], Directory.GetFiles(temp.Path));
    }

    /// <summary>Opening a named pipe for writing blocks until someone reads it.</summary>
    [SkippableTheory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task InterruptWhileAReportPipeHasNoReaderExitsPromptly(string signal)
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(opset: 13, seed: 4);
        b.Output(b.Conv(b.Input("x", 1, 8, 4, 4), 8, 8, [1, 1]), DataType.Float, 1, 8, 4, 4);
        string model = b.Save(temp.File("model.onnx"));
        string fifo = SpecialFiles.Fifo(temp.File("pipe"));

        var run = await InterruptedRun.Start(["inspect", model, "--report", fifo], TimeSpan.FromSeconds(3), signal);

        run.AssertInterrupted(Prompt);
        Assert.True(SpecialFiles.IsFifo(fifo));
        Assert.Equal(["model.onnx", "pipe"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ACommandThatStopsAtTheSignalEndsWithoutWaitingForTheGracePeriod()
    {
        using var interrupts = new Interrupts(TimeSpan.FromMinutes(5));
        var clock = Stopwatch.StartNew();

        int code = interrupts.Run(() =>
        {
            interrupts.Signal();
            return interrupts.Token.WaitHandle.WaitOne(TimeSpan.FromMinutes(5)) ? 130 : 0;
        }, TextWriter.Null);

        Assert.Equal(130, code);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), $"took {clock.Elapsed}");
    }

    [Fact]
    public void ACommandThatFinishedItsWorkWhenTheSignalCameIsNotReportedInterrupted()
    {
        using var interrupts = new Interrupts(TimeSpan.FromSeconds(30));

        int code = interrupts.Run(() =>
        {
            interrupts.Signal();
            return 0;
        }, TextWriter.Null);

        Assert.Equal(0, code);
    }

    [Fact]
    public void AStuckCommandIsAbandonedAfterTheGracePeriodAndItsTempFilesAndFoldersAreDeleted()
    {
        using var temp = new TempDirectory();
        using var interrupts = new Interrupts(TimeSpan.FromMilliseconds(500));
        var stderr = new StringWriter();
        string? tempPath = null;
        using var release = new ManualResetEventSlim();

        string runtimeFolder = Directory.CreateDirectory(temp.File("runtime-copy")).FullName;
        File.WriteAllBytes(Path.Combine(runtimeFolder, "model.onnx.data"), new byte[1000]);

        int code = interrupts.Run(() =>
        {
            using var stream = TempFiles.CreateBeside(temp.File("out.onnx"));
            tempPath = stream.Name;
            TempFiles.TrackFolder(runtimeFolder);
            interrupts.Signal();
            release.Wait();
            return 0;
        }, stderr);
        release.Set();

        Assert.Equal(130, code);
        Assert.Equal("onnxconv: interrupted\n", stderr.ToString().ReplaceLineEndings("\n"));
        Assert.NotNull(tempPath);
        Assert.False(File.Exists(tempPath));
        Assert.False(Directory.Exists(runtimeFolder));
    }

    [Fact]
    public void ASecondSignalAbandonsAStuckCommandAtOnce()
    {
        using var interrupts = new Interrupts(TimeSpan.FromMinutes(5));
        using var release = new ManualResetEventSlim();
        var clock = Stopwatch.StartNew();

        int code = interrupts.Run(() =>
        {
            interrupts.Signal();
            interrupts.Signal();
            release.Wait();
            return 0;
        }, TextWriter.Null);
        release.Set();

        Assert.Equal(130, code);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), $"took {clock.Elapsed}");
    }

    /// <summary>The model is in place when the signal comes (while the report is printed): the run succeeded.</summary>
    [Fact]
    public void ACancellationAfterTheModelWasWrittenDoesNotFailTheRewrite()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(opset: 13, seed: 4);
        b.Output(b.Conv(b.Input("x", 1, 8, 4, 4), 8, 8, [1, 1]), DataType.Float, 1, 8, 4, 4);
        string model = b.Save(temp.File("model.onnx"));
        string output = temp.File("out.onnx");
        using var cancellation = new CancellationTokenSource();
        var stdout = new CancellingWriter(cancellation);
        var context = new CliContext(stdout, new StringWriter(), cancellation.Token);

        int code = OnnxConvCli.BuildRoot(context).Parse(["rewrite", model, "-o", output, "--to", "matmul"]).Invoke();

        Assert.True(cancellation.IsCancellationRequested);
        Assert.Equal(0, code);
        Assert.True(File.Exists(output));
        Assert.Contains($"wrote {output}", stdout.ToString());
    }

    private sealed class CancellingWriter(CancellationTokenSource cancellation) : StringWriter
    {
        public override void Write(string? value)
        {
            cancellation.Cancel();
            base.Write(value);
        }
    }

    /// <summary>A child <c>onnxconv</c> process sent a signal after a delay: its exit code, output and timing.</summary>
    private sealed class InterruptedRun
    {
        private Process _process = null!;
        private Task<string> _stderr = null!;
        private Stopwatch _sinceSignal = null!;
        private bool _endedEarly;
        private string _earlyStderr = "";

        public static async Task<InterruptedRun> Start(string[] args, TimeSpan delay, string signal)
        {
            var start = CliInvocation.ProcessStart(null, args);
            if (signal == "INT" && IsIgnoredHere(signal: 2)) start = WithDefaultInterrupt(start);
            var run = new InterruptedRun { _process = Process.Start(start)! };
            _ = run._process.StandardOutput.ReadToEndAsync();
            run._stderr = run._process.StandardError.ReadToEndAsync();
            await Task.Delay(delay);
            if (run._process.HasExited)
            {
                run._endedEarly = true;
                run._earlyStderr = await run._stderr;
                return run;
            }
            using (var kill = Process.Start("kill", [$"-{signal}", run._process.Id.ToString()])) await kill.WaitForExitAsync();
            run._sinceSignal = Stopwatch.StartNew();
            return run;
        }

        /// <summary>Whether this process ignores the signal (a child starts with the same disposition).</summary>
        private static bool IsIgnoredHere(int signal)
        {
            if (!OperatingSystem.IsLinux()) return false;
            string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (signal - 1))) != 0;
        }

        /// <summary>
        /// Starts <paramref name="start"/> through perl, which sets SIGINT back to its default action and execs it
        /// (same PID). A test run started without job control (a CI script, <c>cmd &amp;</c>) ignores SIGINT, every child
        /// inherits that, and a program rightly keeps ignoring a SIGINT ignored at entry. .NET's Process has no option to
        /// change it, <c>setsid</c> and <c>env</c> keep it, and a POSIX shell may not trap a signal ignored at entry.
        /// </summary>
        private static ProcessStartInfo WithDefaultInterrupt(ProcessStartInfo start)
        {
            Skip.If(!File.Exists("/usr/bin/perl"),
                "SIGINT is ignored in this test run (started without job control), a child inherits that, and /usr/bin/perl is not here to reset it");
            var wrapped = new ProcessStartInfo("/usr/bin/perl")
            {
                RedirectStandardOutput = start.RedirectStandardOutput,
                RedirectStandardError = start.RedirectStandardError,
                UseShellExecute = false,
                WorkingDirectory = start.WorkingDirectory,
            };
            foreach (string arg in new[] { "-e", "$SIG{INT} = 'DEFAULT'; exec { $ARGV[0] } @ARGV or die \"exec $ARGV[0]: $!\\n\";", "--", start.FileName }
                .Concat(start.ArgumentList))
                wrapped.ArgumentList.Add(arg);
            return wrapped;
        }

        public void AssertInterrupted(TimeSpan within)
        {
            using var process = _process;
            Assert.False(_endedEarly, $"the command ended before it could be interrupted: {_earlyStderr}");
            bool exited = process.WaitForExit(within + TimeSpan.FromSeconds(30));
            var elapsed = _sinceSignal.Elapsed;
            if (!exited) process.Kill(entireProcessTree: true);
            Assert.True(exited, "the command did not stop after the signal");
            Assert.True(elapsed < within, $"the command took {elapsed.TotalSeconds:F1} s to stop after the signal");
            Assert.Equal(130, process.ExitCode);
            Assert.Contains("interrupted", _stderr.Result);
        }
    }
}
