using OnnxConvTool.Cli;

namespace OnnxConvTool.Tests.Cli;

/// <summary>One in-process run of <c>onnxconv</c>: its exit code and what it wrote to stdout and stderr.</summary>
public sealed record CliInvocation(int ExitCode, string Stdout, string Stderr)
{
    public static CliInvocation Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = OnnxConvCli.Run(args, stdout, stderr);
        return new CliInvocation(code, stdout.ToString(), stderr.ToString());
    }

    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
