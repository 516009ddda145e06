using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

/// <summary>rewrite and optimize through the real CLI process when nothing applies: a line on stderr, or exit 4 with --fail-if-unchanged.</summary>
public sealed class UnchangedModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _mnist;
    private readonly string _resnet;

    public UnchangedModelTests()
    {
        _mnist = SampleModels.Mnist1x1().Save(_temp.File("mnist.onnx"));
        _resnet = SampleModels.ResNetBottleneck().Save(_temp.File("resnet.onnx"));
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void RewriteThatChangesNothingSaysSoAndStillWritesTheCopy()
    {
        string output = _temp.File("out.onnx");
        var run = CliInvocation.RunProcess("rewrite", _mnist, "--to", "conv", "-o", output);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal($"onnxconv: {_mnist}: 0 of 3 candidates rewritten, the model is unchanged; wrote it as it was", Assert.Single(run.StderrLines));
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void FailIfUnchangedExits4AndWritesNothing()
    {
        string output = _temp.File("out.onnx");
        var rewrite = CliInvocation.RunProcess("rewrite", _mnist, "--to", "conv", "-o", output, "--fail-if-unchanged");
        var optimize = CliInvocation.RunProcess("optimize", _mnist, "-o", output, "--fail-if-unchanged", "--quiet");

        Assert.Equal((int)ExitCode.Unsupported, rewrite.ExitCode);
        Assert.Equal($"onnxconv: {_mnist}: 0 of 3 candidates rewritten, the model is unchanged; nothing written (--fail-if-unchanged)", Assert.Single(rewrite.StderrLines));
        Assert.Equal((int)ExitCode.Unsupported, optimize.ExitCode);
        Assert.Matches(@"^onnxconv: .*mnist\.onnx: 0 of \d+ candidates rewritten, the model is unchanged; nothing written \(--fail-if-unchanged\)$", Assert.Single(optimize.StderrLines));
        Assert.Empty(rewrite.Stdout + optimize.Stdout);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void QuietLeavesOutTheNoticeButNotTheFailure()
    {
        var quiet = CliInvocation.RunProcess("optimize", _mnist, "-o", _temp.File("out.onnx"), "--no-verify", "--quiet");

        Assert.Equal(0, quiet.ExitCode);
        Assert.Empty(quiet.Stderr);
    }

    [Fact]
    public void FailIfUnchangedLetsAChangingOptimizeThrough()
    {
        string output = _temp.File("folded.onnx");
        var run = CliInvocation.RunProcess("optimize", _resnet, "-o", output, "--fail-if-unchanged");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(run.Stderr);
        Assert.True(File.Exists(output));
    }
}
