using System.Text.Json;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Verification;

public sealed class BenchCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void OneModelGivesLatencyStatistics()
    {
        string model = SmallModels.ConvNet().Save(_temp.File("model.onnx"));
        var result = CliInvocation.Run("bench", model, "--runs", "5", "--warmup", "1", "--shape", "x=1,3,32,32");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("median ms", result.Stdout);
        Assert.Contains("x float32[1,3,32,32]", result.Stdout);
        Assert.DoesNotContain("ratio", result.Stdout);
    }

    [Fact]
    public void TwoModelsGiveARatioAndAConclusionThatFollowsTheNumbers()
    {
        // The second model does the same convolution and then a much larger one, so it cannot be faster.
        string small = SmallModels.ConvNet().Save(_temp.File("small.onnx"));
        var big = SmallModels.ConvNet();
        big.Graph.Node[^1].Output[0] = "relu";
        var w = big.Initializer(big.RandomTensor("big.weight", [4, 4, 7, 7]));
        big.Node("Conv", ["relu", w], ["wide"], Attr.Ints("kernel_shape", 7, 7), Attr.Ints("pads", 3, 3, 3, 3));
        big.Node("Relu", ["wide"], ["y"]);
        string slow = big.Save(_temp.File("slow.onnx"));

        var result = CliInvocation.Run("bench", small, slow, "--runs", "7", "--warmup", "2", "--opt", "none", "--format", "json", "--shape", "x=1,3,64,64");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        var models = root.GetProperty("models");
        double ratio = root.GetProperty("medianRatio").GetDouble();
        Assert.Equal(models[1].GetProperty("medianMs").GetDouble() / models[0].GetProperty("medianMs").GetDouble(), ratio, 9);
        string conclusion = root.GetProperty("conclusion").GetString()!;
        string expected = ratio < 0.98 ? "is faster" : ratio > 1.02 ? "is slower" : "no clear difference";
        Assert.Contains(expected, conclusion);
        Assert.Contains("slow.onnx is slower", conclusion);
        Assert.All(models.EnumerateArray(), m => Assert.Equal(7, m.GetProperty("runs").GetInt32()));
        Assert.All(models.EnumerateArray(), m => Assert.True(m.GetProperty("minMs").GetDouble() <= m.GetProperty("medianMs").GetDouble()));
        Assert.All(models.EnumerateArray(), m => Assert.True(m.GetProperty("medianMs").GetDouble() <= m.GetProperty("p90Ms").GetDouble()));
    }

    [Fact]
    public void BadBenchArgumentsExit2()
    {
        string model = SmallModels.ConvNet().Save(_temp.File("model.onnx"));
        Assert.Equal(2, CliInvocation.Run("bench", model, "--runs", "0").ExitCode);
        Assert.Equal(2, CliInvocation.Run("bench", model, "--opt", "turbo").ExitCode);
        Assert.Equal(2, CliInvocation.Run("bench", model, "--shape", "y=1,2").ExitCode);
    }
}
