using System.Diagnostics;
using OnnxConvTool.Cli;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// One run of <c>onnxconv</c>, in-process or as a child process: its exit code and what it wrote to stdout and stderr.
/// With <c>ONNXCONV_CLI_EXE</c> set to an executable (the NativeAOT one from <c>dotnet publish -r RID</c>, or the
/// installed tool), every run, in-process ones included, is a child process of that executable instead, so the CLI
/// tests check the build users get (<c>.ci/run</c> does this).
/// </summary>
public sealed record CliInvocation(int ExitCode, string Stdout, string Stderr)
{
    private const string ExecutableVariable = "ONNXCONV_CLI_EXE";

    /// <summary>The executable named by <c>ONNXCONV_CLI_EXE</c>, or null for the onnxconv.dll built beside the tests.</summary>
    public static string? PublishedExecutable { get; } =
        Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } path ? Path.GetFullPath(path) : null;

    /// <summary>Runs <see cref="OnnxConvCli.Run"/> in-process (a child process of <see cref="PublishedExecutable"/> when it is set).</summary>
    public static CliInvocation Run(params string[] args)
    {
        if (PublishedExecutable is not null) return RunProcess(args);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = OnnxConvCli.Run(args, stdout, stderr);
        return new CliInvocation(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the built onnxconv.dll in a child process, so native writes to stdout would be seen too.</summary>
    public static CliInvocation RunProcess(params string[] args) => RunProcessIn(null, args);

    /// <summary>Runs the built onnxconv.dll in a child process started in <paramref name="workingDirectory"/>.</summary>
    public static CliInvocation RunProcessIn(string? workingDirectory, params string[] args) => RunProcess(ProcessStart(workingDirectory, args), null);

    /// <summary>
    /// Runs the built onnxconv.dll in a child process and fails when it has not ended within <paramref name="limit"/>
    /// (it is killed then), for runs that could otherwise hang the test run.
    /// </summary>
    public static CliInvocation RunProcessWithin(TimeSpan limit, params string[] args) => RunProcess(ProcessStart(null, args), limit);

    /// <summary>Runs a process made by <see cref="ProcessStart"/> (e.g. with environment variables added).</summary>
    public static CliInvocation RunProcess(ProcessStartInfo start) => RunProcess(start, null);

    /// <summary>Runs <paramref name="start"/> (output redirected) to its end, or kills it and fails after <paramref name="limit"/>.</summary>
    internal static CliInvocation RunProcess(ProcessStartInfo start, TimeSpan? limit)
    {
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(limit ?? Timeout.InfiniteTimeSpan))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{Path.GetFileName(start.FileName)} {string.Join(' ', start.ArgumentList)} did not end within {limit!.Value.TotalSeconds} s");
        }
        process.WaitForExit();
        return new CliInvocation(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The same start as a POSIX shell command line (each word single-quoted), for scripts that run onnxconv.</summary>
    public static string ShellCommand(params string[] args)
    {
        var start = ProcessStart(null, args);
        return string.Join(' ', start.ArgumentList.Prepend(start.FileName).Select(ShellQuote));
    }

    /// <summary><paramref name="text"/> as one single-quoted POSIX shell word.</summary>
    public static string ShellQuote(string text) => "'" + text.Replace("'", "'\\''") + "'";

    /// <summary>How to start the built onnxconv.dll (or <see cref="PublishedExecutable"/>) as a child process, stdout and stderr redirected.</summary>
    public static ProcessStartInfo ProcessStart(string? workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(PublishedExecutable ?? Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        if (PublishedExecutable is null) start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "onnxconv.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        return start;
    }

    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}
