using System.Text.Json;
using OnnxConvTool.Tests.Cli;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules;

using DataType = TensorProto.Types.DataType;

public sealed class RewriteCommandTests
{
    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var run = CliInvocation.Run(args);
        return (run.ExitCode, run.Stdout, run.Stderr);
    }

    private static string SmallModel(TempDirectory temp, int channels = 8)
    {
        var b = new TestModelBuilder(13, seed: 4);
        b.Input("x", "N", channels, "H", "W");
        var c1 = b.Conv("x", channels, channels, [1, 1]);
        var c2 = b.Conv(b.Node("Relu", [c1]), channels, channels, [3, 3], attributes: Attr.Ints("pads", 1, 1, 1, 1));
        b.Node("Conv", [c2, b.RandomInitializer("w_last", [4, channels, 1, 1])], ["y"], Attr.Ints("kernel_shape", 1, 1), Attr.Ints("strides", 2, 2));
        b.Output("y", DataType.Float, "N", 4, "H2", "W2");
        return b.Save(temp.File("small.onnx"));
    }

    [SkippableFact]
    public void RewritesVerifiesAndWritesWithAReportOfEveryCandidate()
    {
        using var temp = new TempDirectory();
        string input = SmallModel(temp);
        string output = temp.File("out.onnx");
        var (code, stdout, stderr) = Run("rewrite", input, "-o", output, "--to", "matmul");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("3 candidates: 2 rewritten, 1 not applicable", stdout);
        Assert.Matches(@"\n  kept      Conv_\d+: the kernel is 3x3, not 1x1\n", stdout);
        Assert.Equal(2, stdout.Split('\n').Count(l => l.StartsWith("  rewritten Conv_", StringComparison.Ordinal) && l.Contains("MatMul with a [")));
        Assert.Contains("verification: equivalent", stdout);
        var written = ModelReader.Load(output);
        Assert.Equal(0, RewriteHarness.PointwiseConvCount(written));
        PythonOracle.AssertValid(written);
    }

    [Fact]
    public void JsonReportParsesAndSaysWhetherEachRewriteApplies()
    {
        using var temp = new TempDirectory();
        string input = SmallModel(temp);
        var (code, stdout, _) = Run("rewrite", input, "-o", temp.File("out.onnx"), "--to", "gemm", "--format", "json");
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout);
        var candidates = json.RootElement.GetProperty("candidates").EnumerateArray().ToArray();
        Assert.Equal(3, candidates.Length);
        Assert.False(candidates[1].GetProperty("applies").GetBoolean());
        Assert.Equal("the kernel is 3x3, not 1x1", candidates[1].GetProperty("reason").GetString());
        Assert.True(json.RootElement.GetProperty("written").GetBoolean());
    }

    [Fact]
    public void NoVerifySkipsTheCheck()
    {
        using var temp = new TempDirectory();
        var (code, stdout, _) = Run("rewrite", SmallModel(temp), "-o", temp.File("out.onnx"), "--to", "matmul", "--no-verify");
        Assert.Equal(0, code);
        Assert.Contains("verification: skipped (--no-verify)", stdout);
        Assert.True(File.Exists(temp.File("out.onnx")));
    }

    [Fact]
    public void AnOnlyThatNamesNoCandidateIsAUsageErrorAndWritesNothing()
    {
        using var temp = new TempDirectory();
        var (code, _, stderr) = Run("rewrite", SmallModel(temp), "-o", temp.File("out.onnx"), "--to", "matmul", "--only", "no_such_node");
        Assert.Equal(2, code);
        Assert.Contains("--only/--exclude name no candidate node: no_such_node", stderr);
        Assert.False(File.Exists(temp.File("out.onnx")));
    }

    [Fact]
    public void AFailedVerificationWritesNothingAndExits1()
    {
        // Folding Gemm's alpha = 0.1 into the weight rounds differently; with zero tolerance that is a difference.
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(13, seed: 9);
        b.Input("x", "N", 32);
        b.Node("Gemm", ["x", b.RandomInitializer("w", [32, 16]), b.RandomInitializer("c", [16])], ["y"], Attr.Float("alpha", 0.1f), Attr.Float("beta", 0.3f));
        b.Output("y", DataType.Float, "N", 16);
        string input = b.Save(temp.File("gemm.onnx"));
        var (code, stdout, stderr) = Run("rewrite", input, "-o", temp.File("out.onnx"), "--to", "conv", "--rtol", "0", "--atol", "0");
        Assert.True(code == 1, $"exit {code}: {stderr}{stdout}");
        Assert.Contains("nothing written", stdout);
        Assert.Contains("the rewritten model is not equivalent; nothing written", stderr);
        Assert.False(File.Exists(temp.File("out.onnx")));

        var (tolerant, _, _) = Run("rewrite", input, "-o", temp.File("out.onnx"), "--to", "conv");
        Assert.Equal(0, tolerant);
        Assert.True(File.Exists(temp.File("out.onnx")));
    }

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void RewritesEveryRealModelAndVerifiesIt(string name)
    {
        using var temp = new TempDirectory();
        string output = temp.File(name);
        var args = new List<string> { "rewrite", Shared.RealModel(name), "-o", output, "--to", "matmul" };
        args.AddRange(name switch
        {
            // The 8 kHz else-branch needs other input sizes than the 16 kHz one: its rewritten nodes cannot be reached in the same run.
            "silero_vad_v5.onnx" => ["--value", "sr=16000", "--shape", "input=1,512", "--shape", "state=2,1,128", "--allow-unexecuted"],
            "ch_PP-OCRv4_det_infer.onnx" => ["--shape", "x=N,3,96,64"],
            _ => [],
        });
        var (code, stdout, stderr) = Run([.. args]);
        Assert.True(code == 0, stderr + stdout);
        Assert.Matches(@"verification: equivalent: .*, (\d+) of \1 rewritten nodes ran|verification: equivalent: .*, 2 of 4 rewritten nodes ran", stdout);
        var written = ModelReader.Load(output);
        Assert.Equal(0, RewriteHarness.PointwiseConvCount(written));
        PythonOracle.AssertValid(written);
    }
}
