using System.Text.Json;
using OnnxConvTool.Cli;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Verification;

public sealed class VerifyCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _model;
    private readonly string _perturbed;

    public VerifyCommandTests()
    {
        _model = SmallModels.ConvNet().Save(_temp.File("model.onnx"));
        _perturbed = SmallModels.ConvNet().Perturb("conv.weight", 1e-3).Save(_temp.File("perturbed.onnx"));
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void EquivalentModelsExit0WithTheReportOnStdoutAndNothingOnStderr()
    {
        var result = CliInvocation.Run("verify", _model, _model, "--trials", "2");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("result: equivalent: 3 trials, 1 output", result.Stdout);   // 2 random + the edge-value trial
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void DifferentModelsExit1()
    {
        var result = CliInvocation.Run("verify", _model, _perturbed, "--trials", "1");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("result: different: trial 1: output 'y'", result.Stdout);
    }

    [Fact]
    public void JsonGoesToStdoutOrToTheReportFile()
    {
        var result = CliInvocation.Run("verify", _model, _perturbed, "--trials", "1", "--format", "json");
        using (var json = JsonDocument.Parse(result.Stdout))
            Assert.Equal(1, json.RootElement.GetProperty("exitCode").GetInt32());

        string reportPath = _temp.File("report.md");
        var toFile = CliInvocation.Run("verify", _model, _model, "--trials", "1", "--format", "markdown", "--report", reportPath);
        Assert.Equal(0, toFile.ExitCode);
        Assert.Equal("", toFile.Stdout);
        Assert.StartsWith("## verify:", File.ReadAllText(reportPath));
    }

    [Theory]
    [InlineData("--trials", "0")]
    [InlineData("--trials", "many")]
    [InlineData("--shape", "x")]
    [InlineData("--shape", "x=1,3,,4")]
    [InlineData("--value", "x=abc")]
    [InlineData("--value", "nope=1")]
    [InlineData("--input", "x")]
    [InlineData("--format", "table")]
    [InlineData("--rtol", "-1")]
    [InlineData("--test-data", "/nonexistent/folder")]
    public void BadArgumentsExit2WithAMessage(string option, string value)
    {
        var result = CliInvocation.Run("verify", _model, _model, option, value);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("onnxconv: ", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void MissingArgumentsExit2()
    {
        Assert.Equal(2, CliInvocation.Run("verify", _model).ExitCode);
        Assert.Equal(2, CliInvocation.Run("bench").ExitCode);
    }

    [Fact]
    public void ARejectedModelFileExits3WithOneLineNamingIt()
    {
        string garbage = _temp.File("garbage.onnx");
        File.WriteAllBytes(garbage, [0x08, 0xFF, 0xFF, 0x12, 0x99, 0x01, 0x02]);
        var result = CliInvocation.Run("verify", _model, garbage);
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("garbage.onnx", result.Stderr);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.Equal(3, CliInvocation.Run("verify", _temp.File("missing.onnx"), _model).ExitCode);
    }

    [Fact]
    public void AModelOnnxRuntimeCannotRunExits6WithOneLine()
    {
        var b = new TestModelBuilder();
        b.Input("x", "N", 3);
        var shape = b.Initializer(TestModelBuilder.Int64Tensor("shape", [2], [5, 7]));
        b.Node("Reshape", ["x", shape], ["y"]);
        b.Output("y");
        string path = b.Save(_temp.File("broken.onnx"));
        var result = CliInvocation.Run("verify", path, path);
        Assert.True(result.ExitCode == 6, result.ToString());
        Assert.StartsWith("onnxconv: ONNX Runtime cannot run", result.Stderr);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.Contains("result: could not run", result.Stdout);
    }

    [Fact]
    public void OnnxRuntimeWritesNothingToStdoutOfARealProcess()
    {
        // An unused initializer makes ORT log a warning at its default level; the report must stay pure JSON.
        var b = SmallModels.ConvNet();
        b.Initializer(TestModelBuilder.TensorOf("unused", [2], [1, 2]));
        string path = b.Save(_temp.File("unused.onnx"));
        var result = CliInvocation.RunProcess("verify", path, path, "--trials", "1", "--format", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("equivalent", json.RootElement.GetProperty("verdict").GetString());
        Assert.DoesNotContain("onnxruntime", result.Stderr);
    }

    [Fact]
    public void InputOptionsParseNamesWithColonsAndFilesWithEquals()
    {
        var options = new VerifyCliOptions();
        var command = new System.CommandLine.Command("test");
        options.AddTo(command);
        var parse = command.Parse(["--shape", "input_image_with_alpha:0=1,320,320,4", "--value", "sr=16000", "--input", "x=a=b.npy", "--seed", "4"]);
        var verify = options.ToVerifyOptions(parse);
        Assert.Equal([Dim.Known(1), Dim.Known(320), Dim.Known(320), Dim.Known(4)], verify.Shapes["input_image_with_alpha:0"]);
        Assert.Equal(16000, verify.Values["sr"]);
        Assert.Equal("a=b.npy", verify.InputFiles["x"]);
        Assert.Equal(4, verify.Seed);
        Assert.Equal(3, verify.Trials);
    }
}
