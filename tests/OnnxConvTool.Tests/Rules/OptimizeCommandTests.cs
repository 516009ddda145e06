using System.Text.Json;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Pipeline;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;
using OnnxConvTool.Tests.Verification;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Rules;

using DataType = TensorProto.Types.DataType;

public sealed class OptimizeCommandTests
{
    private static CliInvocation Run(params string[] args) => CliInvocation.Run(args);

    /// <summary>Conv → Identity → Relu → 1x1 Conv, plus a dead Sigmoid branch and an unused initializer.</summary>
    private static string ModelWithClutter(TempDirectory temp)
    {
        var b = new TestModelBuilder(13, seed: 6);
        b.Input("x", 1, 4, 6, 6);
        string c = b.Conv("x", 4, 4, [3, 3], attributes: Attr.Ints("pads", 1, 1, 1, 1));
        string i = b.Node("Identity", [c]);
        b.Node("Sigmoid", [c]);
        b.RandomInitializer("orphan", [3]);
        string r = b.Node("Relu", [i]);
        b.Node("Conv", [r, b.RandomInitializer("w_last", [2, 4, 1, 1])], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y", DataType.Float, 1, 2, 6, 6);
        return b.Save(temp.File("clutter.onnx"));
    }

    [SkippableFact]
    public void CleansUpVerifiesAndWritesWithBeforeAndAfterCounts()
    {
        using var temp = new TempDirectory();
        string input = ModelWithClutter(temp);
        string output = temp.File("out.onnx");
        var run = Run("optimize", input, "-o", output);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("clean-up: identity 1, dead-nodes 1, unused-initializers 1\n", run.Stdout);
        Assert.Contains("nodes: 5 -> 3\n", run.Stdout);
        Assert.Matches(@"\n  Identity +1 -> 0\n", run.Stdout);
        Assert.Matches(@"\n  Sigmoid +1 -> 0\n", run.Stdout);
        Assert.Contains("float64 deviation of folded values: n/a\n", run.Stdout);
        Assert.Contains("verification: equivalent", run.Stdout);
        var written = ModelReader.Load(output);
        Assert.Equal(["Conv", "Relu", "Conv"], written.Graph.Nodes.Select(n => n.OpType));
        Assert.DoesNotContain(written.Graph.Initializers, v => v.Name == "orphan");
        PythonOracle.AssertValid(written);
    }

    [Fact]
    public void MacsOfAModelWithFreeSpatialDimsAreCountedAtTheGivenShape()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(13, seed: 4);
        b.Input("x", "N", 4, "H", "W");
        b.Node("Conv", [b.Conv("x", 4, 8, [1, 1]), b.RandomInitializer("w2", [2, 8, 1, 1])], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y", DataType.Float, "N", 2, "H", "W");
        string input = b.Save(temp.File("free.onnx"));

        var free = Run("optimize", input, "-o", temp.File("a.onnx"), "--no-verify");
        Assert.True(free.ExitCode == 0, free.ToString());
        Assert.Contains("MACs: ? -> ? (input dims are free: fix them with --shape)\n", free.Stdout);

        var fixedShape = Run("optimize", input, "-o", temp.File("b.onnx"), "--no-verify", "--shape", "x=1,4,10,10");
        Assert.True(fixedShape.ExitCode == 0, fixedShape.ToString());
        // 4→8 then 8→2 over 10×10 pixels, which merge-conv-chain merges into one 4→2 Conv
        Assert.Contains($"MACs: {100 * (4 * 8 + 8 * 2):N0} -> {100 * 4 * 2:N0}\n", fixedShape.Stdout);
    }

    [Fact]
    public void AnUnchangedModelIsStillVerifiedAndWritten()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(13, seed: 9);
        b.Input("x", 1, 4, 6, 6);
        b.Node("Relu", [b.Conv("x", 4, 2, [1, 1])], ["y"]);
        b.Output("y", DataType.Float, 1, 2, 6, 6);
        string input = b.Save(temp.File("plain.onnx"));
        string output = temp.File("out.onnx");
        var run = Run("optimize", input, "-o", output, "--format", "json");

        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.True(json.RootElement.GetProperty("verification").GetProperty("equivalent").GetBoolean());
        Assert.True(json.RootElement.GetProperty("written").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("maxDeviationUlps").ValueKind);
        Assert.Equal(json.RootElement.GetProperty("nodes").GetProperty("before").GetInt32(), json.RootElement.GetProperty("nodes").GetProperty("after").GetInt32());
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void ToMatMulRunsAfterTheFoldsAsOneSweep()
    {
        using var temp = new TempDirectory();
        string input = ModelWithClutter(temp);
        string output = temp.File("out.onnx");
        var run = Run("optimize", input, "-o", output, "--to", "matmul", "--format", "json");

        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        var convert = json.RootElement.GetProperty("convert");
        Assert.Equal("matmul", convert.GetProperty("to").GetString());
        Assert.Equal(1, convert.GetProperty("applied").GetInt32());
        Assert.Equal(1, convert.GetProperty("kept").GetInt32());
        Assert.Equal(1, RewriteHarness.OpCounts(ModelReader.Load(output))["Conv"]);
    }

    [Fact]
    public void UnknownRuleIdsAreAUsageErrorThatListsTheValidIdsAndWriteNothing()
    {
        using var temp = new TempDirectory();
        string input = ModelWithClutter(temp);
        string output = temp.File("out.onnx");
        var run = Run("optimize", input, "-o", output, "--rules", "fuse-everything,conv1x1-to-matmul", "--skip", "fuse-everything");

        Assert.Equal(2, run.ExitCode);
        string valid = string.Join(", ", new[] { RuleCatalog.FoldSet, RuleCatalog.MergeSet }.SelectMany(RuleCatalog.Set).Select(e => e.Id).DefaultIfEmpty("none yet"));
        Assert.Equal($"onnxconv: {input}: --rules names unknown rules fuse-everything, conv1x1-to-matmul; valid ids: {valid}; conversions are chosen with --to", run.StderrLines.Single());
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void ToConvIsRefused()
    {
        using var temp = new TempDirectory();
        var run = Run("optimize", ModelWithClutter(temp), "-o", temp.File("out.onnx"), "--to", "conv");
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("onnxconv: --to conv: not one of matmul, gemm", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void ExplainListsTheCandidatesThatWereNotFusedAndTheReportCanGoToAFile()
    {
        using var temp = new TempDirectory();
        string report = temp.File("report.md");
        var run = Run("optimize", ModelWithClutter(temp), "-o", temp.File("out.onnx"), "--explain", "--no-verify", "--format", "markdown", "--report", report);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stdout);
        string text = File.ReadAllText(report);
        Assert.Contains("### not fused (", text);
        Assert.Contains("verification: skipped (--no-verify)", text);
    }

    [Fact]
    public void APipelineWhoseResultDiffersWritesNothingAndSaysSo()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(13);
        b.Input("x", 2, 3);
        b.Node("Sigmoid", ["x"], ["y"]);
        b.Output("y", DataType.Float, 2, 3);
        string input = b.Save(temp.File("sigmoid.onnx"));
        string output = temp.File("out.onnx");

        var result = ModelPipeline.Run(new PipelineRequest
        {
            InputPath = input,
            OutputPath = output,
            Plan = new TransformPlan([new RuleStage("test", [new TestRules.Retype("Sigmoid", "Tanh")], Fixpoint: true)]),
            Verify = new VerifyOptions(),
        });

        Assert.False(result.Written);
        Assert.Equal(ExitCode.VerificationFoundDifference, result.ExitCode);
        Assert.False(File.Exists(output));
        Assert.Equal("Tanh", Assert.Single(result.Transform.CreatedNodes).OpType);
    }

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void EverySharedModelIsOptimizedVerifiedAndAcceptedByTheChecker(string name)
    {
        string input = Shared.RealModel(name);
        using var temp = new TempDirectory();
        string output = temp.File("out.onnx");
        var run = Run(["optimize", input, "-o", output, "--trials", "2", "--format", "json", .. RealModelTests.InputOptions(name)]);

        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.True(json.RootElement.GetProperty("verification").GetProperty("equivalent").GetBoolean());
        Assert.True(File.Exists(output));
        var written = ModelReader.Load(output);
        Assert.Empty(GraphValidator.Validate(written));
        PythonOracle.AssertValid(written);
    }
}
