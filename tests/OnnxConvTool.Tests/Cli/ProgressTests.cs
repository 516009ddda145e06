using System.Diagnostics;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// Progress on stderr through the real CLI process: drawn when stderr is a pseudo-terminal (util-linux <c>script</c>
/// gives the command one, stdout goes to a file), absent with <c>--quiet</c> and when stderr is not a terminal.
/// ONNXCONV_PROGRESS_DELAY_MS=0 draws from the start instead of after a second, so short test runs show it.
/// </summary>
public sealed class ProgressTests : IDisposable
{
    private const string NoDelay = "ONNXCONV_PROGRESS_DELAY_MS";
    private static readonly string? Script = new[] { "/usr/bin/script", "/bin/script" }.FirstOrDefault(File.Exists);

    private readonly TempDirectory _temp = new();
    private readonly string _resnet;

    public ProgressTests()
    {
        _resnet = SampleModels.ResNetBottleneck().Save(_temp.File("resnet.onnx"));
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>Runs onnxconv with stderr (and stdin) on a pseudo-terminal and stdout into a file; returns the exit code, what the terminal showed, and stdout.</summary>
    private (int ExitCode, string Terminal, string Stdout) RunOnTerminal(params string[] args)
    {
        Skip.If(Script is null, "util-linux 'script' is not installed (apt-get install bsdutils)");
        string stdoutFile = _temp.File($"stdout-{Guid.NewGuid():N}.txt");
        string command = CliInvocation.ShellCommand(args) + $" > {CliInvocation.ShellQuote(stdoutFile)} < /dev/null";
        var start = new ProcessStartInfo(Script!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { "--quiet", "--return", "--command", command, "/dev/null" }) start.ArgumentList.Add(arg);
        start.Environment[NoDelay] = "0";
        start.Environment["TERM"] = "xterm-256color";
        var run = CliInvocation.RunProcess(start);
        return (run.ExitCode, run.Stdout, File.Exists(stdoutFile) ? File.ReadAllText(stdoutFile) : "");
    }

    [SkippableFact]
    public void BenchShowsItsRunsOnATerminalAndStdoutStaysTheReport()
    {
        var (exitCode, terminal, stdout) = RunOnTerminal("bench", _resnet, "--runs", "100", "--warmup", "2");

        Assert.True(exitCode == 0, terminal);
        Assert.Contains("timed runs", terminal);
        Assert.Contains("\u001b[", terminal);
        Assert.StartsWith("bench: ", stdout);
        Assert.DoesNotContain('\u001b', stdout);
    }

    [SkippableFact]
    public void QuietShowsNothingOnTheTerminal()
    {
        var (exitCode, terminal, stdout) = RunOnTerminal("bench", _resnet, "--runs", "100", "--warmup", "2", "--quiet");

        Assert.Equal(0, exitCode);
        Assert.Equal("", terminal);
        Assert.StartsWith("bench: ", stdout);
    }

    [SkippableFact]
    public void OptimizeShowsItsStepsOnATerminal()
    {
        var (exitCode, terminal, _) = RunOnTerminal("optimize", _resnet, "-o", _temp.File("optimized.onnx"));

        Assert.True(exitCode == 0, terminal);
        Assert.Matches("loading resnet.onnx|fold stage|merge stage|clean-up stage|verification trials|writing optimized.onnx", terminal);
    }

    [SkippableFact]
    public void BatchAuditShowsModelsDoneOnATerminalAndWritesTheSameLines()
    {
        string folder = Directory.CreateDirectory(_temp.File("models")).FullName;
        foreach (var sample in SampleModels.All) File.Copy(Path.Combine(SampleModels.Directory, sample.FileName), Path.Combine(folder, sample.FileName));
        string bad = Path.Combine(folder, "zz-bad.onnx");
        File.WriteAllText(bad, "not a model");

        var (exitCode, terminal, stdout) = RunOnTerminal("audit", folder, "--format", "jsonl", "--jobs", "1");
        var redirected = CliInvocation.RunProcess("audit", folder, "--format", "jsonl", "--jobs", "1");

        Assert.True(exitCode == (int)ExitCode.InputRejected, terminal);
        Assert.Contains("auditing models", terminal);
        Assert.Contains($"onnxconv: {bad}: ", terminal);
        Assert.Equal(redirected.Stdout, stdout);
    }

    [Fact]
    public void NothingReachesARedirectedStderr()
    {
        var start = CliInvocation.ProcessStart(null, "bench", _resnet, "--runs", "100", "--warmup", "2");
        start.Environment[NoDelay] = "0";

        var run = CliInvocation.RunProcess(start);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);
        Assert.StartsWith("bench: ", run.Stdout);
    }
}
