using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>What "equivalent" rests on, through the real CLI: exact integers, related models, --localize, determinism, coverage of the rewrite.</summary>
public sealed class VerifyVerdictTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static TestModelBuilder AddConstant(long constant)
    {
        var b = new TestModelBuilder();
        b.Input("x", DataType.Int64, 8);
        b.Node("Add", ["x", b.Initializer(TestModelBuilder.Int64Tensor("c", [], [constant]))], ["y"]);
        b.Output("y", DataType.Int64, 8);
        return b;
    }

    [Fact]
    public void IntegerOutputsAreComparedExactlyWhateverTheRtol()
    {
        string reference = AddConstant(1000).Save(_temp.File("ref.onnx"));
        string candidate = AddConstant(1001).Save(_temp.File("cand.onnx"));
        var result = CliInvocation.Run("verify", reference, candidate, "--rtol", "1e-3", "--atol", "1");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("elements differ (int64 is compared exactly", result.Stdout);
    }

    private static TestModelBuilder Relu(string input, string output)
    {
        var b = new TestModelBuilder();
        b.Input(input, 1, 4);
        b.Node("Relu", [input], [output]);
        b.Output(output, DataType.Float, 1, 4);
        return b;
    }

    [Fact]
    public void ModelsWithNothingInCommonAreDifferentNotUnrunnable()
    {
        string a = Relu("x", "y").Save(_temp.File("a.onnx"));
        string unrelated = Relu("p", "q").Save(_temp.File("b.onnx"));
        string renamed = Relu("x", "z").Save(_temp.File("c.onnx"));

        var none = CliInvocation.Run("verify", a, unrelated);
        Assert.True(none.ExitCode == 1, none.ToString());
        Assert.Contains("result: different: the candidate's only output is 'q', the reference's is 'y'", none.Stdout);
        Assert.DoesNotContain("free dims", none.Stdout + none.Stderr);

        var onlyOutputRenamed = CliInvocation.Run("verify", a, renamed);
        Assert.True(onlyOutputRenamed.ExitCode == 1, onlyOutputRenamed.ToString());
        Assert.Contains("the output was renamed or replaced", onlyOutputRenamed.Stdout);
    }

    [Fact]
    public void NoInputInCommonIsDifferent()
    {
        var b = new TestModelBuilder();
        b.Input("p", 1, 4);
        b.Node("Relu", ["p"], ["y"]);
        b.Output("y", DataType.Float, 1, 4);
        var result = CliInvocation.Run("verify", Relu("x", "y").Save(_temp.File("a.onnx")), b.Save(_temp.File("b.onnx")));
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("the models have no input in common (reference: 'x'; candidate: 'p')", result.Stdout);
    }

    /// <summary>y = (x · scale) · 0: the intermediate 'scaled' carries the scale, the output never does.</summary>
    private static TestModelBuilder HiddenScale(double scale, string intermediate = "scaled")
    {
        var b = new TestModelBuilder();
        b.Input("x", 2, 4);
        b.Node("Mul", ["x", b.Initializer(TestModelBuilder.TensorOf("scale", [], [scale]))], [intermediate]);
        b.Node("Mul", [intermediate, b.Initializer(TestModelBuilder.TensorOf("zero", [], [0]))], ["y"]);
        b.Output("y", DataType.Float, 2, 4);
        return b;
    }

    [Fact]
    public void WithLocalizeADivergingIntermediateMakesTheVerdictDifferent()
    {
        string reference = HiddenScale(1).Save(_temp.File("ref.onnx"));
        string candidate = HiddenScale(1.001).Save(_temp.File("cand.onnx"));
        Assert.Equal(0, CliInvocation.Run("verify", reference, candidate).ExitCode);

        var localized = CliInvocation.Run("verify", reference, candidate, "--localize");
        Assert.True(localized.ExitCode == 1, localized.ToString());
        Assert.Contains("result: different: outputs agree, but 'scaled' diverges", localized.Stdout);
    }

    [Fact]
    public void WithLocalizeAnIntermediatePairedThroughTheNameMapCountsToo()
    {
        var report = EquivalenceChecker.Verify(HiddenScale(1).Ir("ref.onnx"), HiddenScale(1.001, "renamed").Ir("cand.onnx"),
            new VerifyOptions { Localize = true, NameMap = new Dictionary<string, string> { ["scaled"] = "renamed" } });
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        Assert.StartsWith("outputs agree, but 'scaled' (candidate 'renamed') diverges", report.Problems[0]);
    }

    [Fact]
    public void AReferenceThatDiffersFromItselfIsNotVerified()
    {
        var b = new TestModelBuilder();
        b.Input("x", 2, 4);
        b.Node("RandomUniformLike", ["x"], ["noise"]);
        b.Node("Add", ["x", "noise"], ["y"]);
        b.Output("y", DataType.Float, 2, 4);
        string path = b.Save(_temp.File("noisy.onnx"));
        var result = CliInvocation.Run("verify", path, path);
        Assert.True(result.ExitCode == 6, result.ToString());
        Assert.Contains("not verified: the reference is not deterministic (output 'y' differs between two runs on the same inputs)", result.Stdout);
    }

    /// <summary>y = If(condition) then Conv1x1(x) else Relu(x), on x [1,4,3,3].</summary>
    internal static TestModelBuilder Branching(Func<TestModelBuilder, string> condition)
    {
        var b = new TestModelBuilder(seed: 4);
        b.Input("x", 1, 4, 3, 3);
        string cond = condition(b);
        var then = b.Subgraph("then");
        string conv = then.Conv("x", 4, 4, [1, 1]);
        then.Output(conv, DataType.Float, 1, 4, 3, 3);
        var otherwise = b.Subgraph("else");
        string relu = otherwise.Node("Relu", ["x"]);
        otherwise.Output(relu, DataType.Float, 1, 4, 3, 3);
        string y = b.If(cond, then, otherwise)[0];
        b.Output(y, DataType.Float, 1, 4, 3, 3);
        return b;
    }

    [Fact]
    public void ABoolInputThatChoosesABranchIsTriedWithBothValuesAndTheRewriteIsCovered()
    {
        string input = Branching(b => b.Input("flag", DataType.Bool)).Save(_temp.File("branching.onnx"));
        var result = CliInvocation.Run("rewrite", input, "-o", _temp.File("out.onnx"), "--to", "matmul", "--format", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("\"source\": \"branch flag=0\"", result.Stdout);
        Assert.Contains("\"source\": \"branch flag=1\"", result.Stdout);
        Assert.Matches("\"tracked\": [1-9]", result.Stdout);
        Assert.Contains("\"neverRan\": []", result.Stdout);
    }

    [Fact]
    public void ARewriteInABranchNoTrialTakesIsNotVerifiedUnlessAllowed()
    {
        // The condition needs Σx > 1e6, which no generated input reaches: the rewritten Conv never runs.
        string input = Branching(b =>
        {
            string sum = b.Node("ReduceSum", ["x"], Attr.Int("keepdims", 0));
            return b.Node("Greater", [sum, b.Initializer(TestModelBuilder.TensorOf("limit", [], [1e6]))]);
        }).Save(_temp.File("branching.onnx"));
        string output = _temp.File("out.onnx");

        var refused = CliInvocation.Run("rewrite", input, "-o", output, "--to", "matmul");
        Assert.True(refused.ExitCode == 6, refused.ToString());
        Assert.Matches(@"not verified: \d+ of \d+ rewritten nodes? never ran in any trial: 'Conv_", refused.Stdout);
        Assert.Contains("--allow-unexecuted", refused.Stderr);
        Assert.False(File.Exists(output));

        var allowed = CliInvocation.Run("rewrite", input, "-o", output, "--to", "matmul", "--allow-unexecuted");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Matches(@"verification: equivalent: .*, 0 of \d+ rewritten nodes ran", allowed.Stdout);
        Assert.True(File.Exists(output));
    }

    [SkippableFact]
    public void SileroRewriteInsideItsUnreachedElseBranchIsNotVerified()
    {
        string model = Shared.RealModel("silero_vad_v5.onnx");
        string output = _temp.File("silero.onnx");
        var result = CliInvocation.Run("rewrite", model, "-o", output, "--to", "matmul",
            "--value", "sr=16000", "--shape", "input=N,512", "--shape", "state=2,N,128");
        Assert.True(result.ExitCode == 6, result.ToString());
        // Profiler events list the nodes run inside the taken then-branch: 2 of the 4 created nodes ran.
        Assert.Contains("not verified: 2 of 4 rewritten nodes never ran in any trial: 'If_0_else_branch__", result.Stdout);
        Assert.Contains("trial 5 (branch sr=16001) skipped", result.Stdout);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void OnnxRuntimesRawTextAppearsOnlyWithVerbose()
    {
        // Reshape to a fixed 21 elements: no [N,5] input fits, so ORT rejects every trial.
        var b = new TestModelBuilder();
        b.Input("x", "N", 5);
        b.Node("Reshape", ["x", b.Initializer(TestModelBuilder.Int64Tensor("shape", [2], [3, 7]))], ["y"]);
        b.Output("y", DataType.Float, 3, 7);
        string path = b.Save(_temp.File("reshape.onnx"));

        var plain = CliInvocation.Run("verify", path, path);
        Assert.True(plain.ExitCode == 6, plain.ToString());
        Assert.DoesNotContain(".cc:", plain.Stdout + plain.Stderr);
        Assert.DoesNotContain("[ErrorCode", plain.Stdout + plain.Stderr);

        var verbose = CliInvocation.Run("verify", path, path, "--verbose");
        Assert.True(verbose.ExitCode == 6, verbose.ToString());
        Assert.Contains("onnxruntime: [ErrorCode", verbose.Stderr);
    }
}

[CollectionDefinition(nameof(ProfileCleanupTests), DisableParallelization = true)]
public sealed class ProfileCleanupCollection;

/// <summary>Runs alone, so no other test's profile folder is counted.</summary>
[Collection(nameof(ProfileCleanupTests))]
public sealed class ProfileCleanupTests
{
    [Fact]
    public void CoverageLeavesNoProfileBehind()
    {
        string before = string.Join(",", Directory.GetDirectories(Path.GetTempPath(), "onnxconv-profile-*"));
        using var temp = new TempDirectory();
        string input = VerifyVerdictTests.Branching(b => b.Input("flag", DataType.Bool)).Save(temp.File("branching.onnx"));
        Assert.Equal(0, CliInvocation.Run("rewrite", input, "-o", temp.File("out.onnx"), "--to", "matmul").ExitCode);
        Assert.Equal(before, string.Join(",", Directory.GetDirectories(Path.GetTempPath(), "onnxconv-profile-*")));
    }
}
