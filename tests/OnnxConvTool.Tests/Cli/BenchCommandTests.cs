using System.Text.Json;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Verification;

namespace OnnxConvTool.Tests.Cli;

using DataType = OnnxConvTool.Onnx.TensorProto.Types.DataType;

/// <summary>
/// <c>onnxconv bench</c> through the real process: batch-1 inputs at the model's own sizes, the usage error for
/// free spatial dims, the report's spread, interval and verdict fields, and <c>--profile</c>.
/// </summary>
public sealed class BenchCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>x [N,3,32,32] → 1x1 Conv → Relu: a free batch and fixed spatial sizes.</summary>
    private string FreeBatchModel(string name = "model.onnx")
    {
        var b = new TestModelBuilder(opset: 13, seed: 2);
        string x = b.Input("x", DataType.Float, "N", 3, 32, 32);
        string y = b.Conv(x, 3, 8, [1, 1]);
        b.Node("Relu", [y], ["y"]);
        b.Output("y", DataType.Float, "N", 8, 32, 32);
        return b.Save(_temp.File(name));
    }

    [Fact]
    public void DefaultInputsAreBatchOneAtTheModelsOwnSizes()
    {
        var result = CliInvocation.RunProcess("bench", FreeBatchModel(), "--runs", "5", "--warmup", "1");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("inputs: x float32[1,3,32,32]", result.Stdout);
        Assert.Contains("thread CPU min", result.Stdout);
        Assert.DoesNotContain("ratio", result.Stdout);
        Assert.DoesNotContain("result:", result.Stdout);
    }

    [Fact]
    public void FreeSpatialDimsMustBeGivenWithShape()
    {
        string model = SmallModels.ConvNet().Save(_temp.File("free.onnx"));
        var result = CliInvocation.RunProcess("bench", model, "--runs", "2");
        Assert.True(result.ExitCode == 2, result.ToString());
        string line = Assert.Single(result.StderrLines);
        Assert.Contains("free dims besides the batch (H, W)", line);
        Assert.Contains("--shape x=1,3,H,W", line);
        Assert.Empty(result.Stdout);

        var given = CliInvocation.RunProcess("bench", model, "--runs", "2", "--warmup", "0", "--shape", "x=N,3,24,40");
        Assert.True(given.ExitCode == 0, given.ToString());
        Assert.Contains("inputs: x float32[1,3,24,40]", given.Stdout);
    }

    [Fact]
    public void UnnamedFreeDimsAreShownAsQuestionMarks()
    {
        var b = new TestModelBuilder(opset: 13, seed: 2);
        b.Input("x", 1, 4, "L");
        b.Graph.Input[0].Type.TensorType.Shape.Dim[2] = new Onnx.TensorShapeProto.Types.Dimension();
        b.Node("Relu", ["x"], ["y"]);
        b.Output("y");
        var result = CliInvocation.RunProcess("bench", b.Save(_temp.File("unnamed.onnx")), "--runs", "2");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("(x[2])", result.Stderr);
        Assert.Contains("--shape x=1,4,?", result.Stderr);
    }

    [Fact]
    public void JsonReportCarriesSpreadIntervalsAndAVerdictThatFollowsThem()
    {
        // The second model does the same convolution and then a much larger one, so it cannot be faster.
        string small = SmallModels.ConvNet().Save(_temp.File("small.onnx"));
        var big = SmallModels.ConvNet();
        big.Graph.Node[^1].Output[0] = "relu";
        var w = big.Initializer(big.RandomTensor("big.weight", [4, 4, 7, 7]));
        big.Node("Conv", ["relu", w], ["wide"], Attr.Ints("kernel_shape", 7, 7), Attr.Ints("pads", 3, 3, 3, 3));
        big.Node("Relu", ["wide"], ["y"]);
        string slow = big.Save(_temp.File("slow.onnx"));

        var result = CliInvocation.RunProcess("bench", small, slow, "--runs", "9", "--warmup", "2", "--opt", "none", "--format", "json", "--shape", "x=1,3,64,64");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        var models = root.GetProperty("models");
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        foreach (var m in models.EnumerateArray())
        {
            Assert.Equal(9, m.GetProperty("runs").GetInt32());
            Assert.True(m.GetProperty("minMs").GetDouble() <= m.GetProperty("medianMs").GetDouble());
            Assert.True(m.GetProperty("medianMs").GetDouble() <= m.GetProperty("p90Ms").GetDouble());
            Assert.Equal(JsonValueKind.Null, m.GetProperty("profile").ValueKind);
            if (!OperatingSystem.IsLinux()) continue;
            var cpu = m.GetProperty("threadCpu");
            Assert.True(cpu.GetProperty("minMs").GetDouble() > 0);
            Assert.True(cpu.GetProperty("minMs").GetDouble() <= cpu.GetProperty("medianMs").GetDouble());
            Assert.True(cpu.GetProperty("medianMs").GetDouble() <= cpu.GetProperty("p90Ms").GetDouble());
        }
        Assert.Equal(models[1].GetProperty("medianMs").GetDouble() / models[0].GetProperty("medianMs").GetDouble(), root.GetProperty("medianRatio").GetDouble(), 9);

        string basis = root.GetProperty("basis").GetString()!;
        Assert.Equal(OperatingSystem.IsLinux() ? "thread CPU" : "wall", basis);
        var ratio = root.GetProperty(basis == "wall" ? "wallRatio" : "threadCpuRatio");
        double lower = ratio.GetProperty("lower").GetDouble(), upper = ratio.GetProperty("upper").GetDouble();
        Assert.Equal(9, ratio.GetProperty("pairs").GetInt32());
        Assert.InRange(ratio.GetProperty("ratio").GetDouble(), lower, upper);
        string expected = upper < 1 ? "faster" : lower > 1 ? "slower" : "no clear difference";
        Assert.Equal(expected, root.GetProperty("verdict").GetString());
        // A 7x7 convolution over 4 channels on top of the same work is many times slower: no noise hides that.
        Assert.Equal("slower", expected);
        Assert.StartsWith("slow.onnx is slower", root.GetProperty("conclusion").GetString());
        Assert.Equal(JsonValueKind.Array, root.GetProperty("warnings").ValueKind);
    }

    [Fact]
    public void ProfileShowsTheOperatorsThatTakeTheTime()
    {
        string model = FreeBatchModel();
        string workingDirectory = Directory.CreateDirectory(_temp.File("cwd")).FullName;
        var text = CliInvocation.RunProcessIn(workingDirectory, "bench", model, "--runs", "3", "--warmup", "0", "--opt", "none", "--profile");
        Assert.True(text.ExitCode == 0, text.ToString());
        // ONNX Runtime's profile files go to a temporary folder that is removed, never to the working directory.
        Assert.Empty(Directory.GetFileSystemEntries(workingDirectory));
        Assert.Contains($"profile of {model}: ", text.Stdout);
        Assert.Contains("over 3 profiled runs", text.Stdout);
        var rows = text.Stdout[text.Stdout.IndexOf("operator", StringComparison.Ordinal)..].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["Conv", "Relu"], rows.Skip(1).Select(r => r.Split(' ')[0]).Order());

        var json = CliInvocation.RunProcess("bench", model, "--runs", "3", "--warmup", "0", "--opt", "none", "--profile", "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        var profile = document.RootElement.GetProperty("models")[0].GetProperty("profile");
        Assert.Equal(3, profile.GetProperty("runs").GetInt32());
        var operators = profile.GetProperty("operators").EnumerateArray().ToList();
        Assert.Equal(["Conv", "Relu"], operators.Select(o => o.GetProperty("opType").GetString()!).Order());
        Assert.All(operators, o => Assert.Equal(1, o.GetProperty("nodes").GetInt32()));
        Assert.Equal(1.0, operators.Sum(o => o.GetProperty("share").GetDouble()), 6);
        Assert.Equal(profile.GetProperty("kernelMsPerRun").GetDouble(), operators.Sum(o => o.GetProperty("msPerRun").GetDouble()), 6);
        var sorted = operators.Select(o => o.GetProperty("msPerRun").GetDouble()).ToList();
        Assert.Equal(sorted.OrderDescending(), sorted);
    }

    [Fact]
    public void BadBenchArgumentsExit2()
    {
        string model = FreeBatchModel();
        Assert.Equal(2, CliInvocation.Run("bench", model, "--runs", "0").ExitCode);
        Assert.Equal(2, CliInvocation.Run("bench", model, "--opt", "turbo").ExitCode);
        Assert.Equal(2, CliInvocation.Run("bench", model, "--shape", "y=1,2").ExitCode);
    }
}
