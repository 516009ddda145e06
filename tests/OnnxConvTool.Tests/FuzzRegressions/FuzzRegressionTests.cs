using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.FuzzRegressions;

/// <summary>
/// Inputs the fuzz harness (tests/OnnxConvTool.Fuzz) found crashing, replayed through the same
/// <see cref="FuzzPipeline"/>. A file's name starts with its documented outcome: <c>rejected-</c> (refused with exit
/// code 3 or 4) or <c>processed-</c> (loaded, audited, rewritten by every rule set, saved and reloaded). Each bug
/// also has a builder-made test below that names the behaviour the fix gives.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    private static string Folder => Path.Combine(SharedData.RepositoryRoot, "tests", "OnnxConvTool.Tests", "FuzzRegressions");

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(Folder, "*.onnx").Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public async Task FoundInputEndsTheDocumentedWay(string file)
    {
        var expected = file.StartsWith("rejected-", StringComparison.Ordinal) ? FuzzOutcome.Rejected
            : file.StartsWith("processed-", StringComparison.Ordinal) ? FuzzOutcome.Processed
            : throw new InvalidOperationException($"{file}: a regression file's name starts with 'rejected-' or 'processed-'");
        var run = Task.Run(() => FuzzPipeline.RunFile(Path.Combine(Folder, file)));
        Assert.True(await Task.WhenAny(run, Task.Delay(HangLimit)) == run, $"{file} still runs after {HangLimit.TotalSeconds} s");
        var result = await run;
        Assert.True(expected == result.Outcome, $"{file}: expected {expected}, got {result.Outcome} ({result.Detail})");
    }

    /// <summary>Found as a bias Constant reshaped to [-1, 1]: a weight of unknown shape left the channel count unknown.</summary>
    [Fact]
    public void ConstantBiasOfADynamicWeightOfUnknownShapeGivesTheChannelCount()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 3, 2, 2);
        b.Input("w", TensorProto.Types.DataType.Float, "M", "C", 1, 1);
        string bias = b.RandomInitializer("bias", [4]);
        b.Node("Conv", ["x", "w", bias], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y");
        var (_, after, result) = RewriteHarness.ToMatMul(b);
        Assert.Equal(CandidateStatus.Applied, Assert.Single(result.Outcomes).Status);
        var add = after.Graph.Nodes.Single(n => n.OpType == "Add");
        Assert.Equal([4L, 1L], Model.TryGetConstant(add.Input(1)!)!.Dims);
    }

    [Fact]
    public void ConstantBiasWithAnotherLengthThanTheOutputChannelsIsRefused()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 3, 2, 2);
        b.Node("Conv", ["x", b.RandomInitializer("w", [4, 3, 1, 1]), b.RandomInitializer("bias", [3])], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y");
        AssertToMatMulRefuses(b, "the bias 'bias' has shape [3], not [4] (one value per output channel)");
    }

    /// <summary>Found as a MatMul weight reshaped to [-1, -1]: a rank-1 weight passed the kernel_shape check.</summary>
    [Fact]
    public void WeightOfRank1DisagreesWithKernelShape()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 2, 2);
        b.Node("Conv", ["x", b.RandomInitializer("w", [4])], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y");
        AssertToMatMulRefuses(b, "kernel_shape [1,1] disagrees with the rank of the weight 'w'");
    }

    /// <summary>Found as an ArgumentNullException in the audit: a Constant node's 'value' attribute of another type holds no tensor.</summary>
    [Fact]
    public void ConstantNodeWhoseValueAttributeHoldsNoTensorIsNotAConstant()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 2, 2);
        b.Node("Constant", [], ["w"], Attr.Int("value", 3));
        b.Node("Conv", ["x", "w"], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y");
        var model = b.ToIr();
        Assert.Null(Model.TryGetConstant(model.Graph.Find("w")!));
        var row = Assert.Single(Conv1x1Audit.Run(model).Conv1x1);
        Assert.Equal(WeightSource.Dynamic, row.Weight);
    }

    /// <summary>Found as an index error in the audit: a MatMul (or Conv) node that lists no output.</summary>
    [Fact]
    public void NodeWithoutOutputCountsNoWork()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 2, 2);
        b.Input("a", 3, 4);
        string w = b.RandomInitializer("w", [2, 4, 1, 1]);
        b.Node("Conv", ["x", w], outputs: [], Attr.Ints("kernel_shape", 1, 1));
        b.Node("MatMul", ["a", b.RandomInitializer("m", [4, 3])], outputs: []);
        b.Node("Relu", ["x"], ["y"]);
        b.Output("y");
        var audit = Conv1x1Audit.Run(b.ToIr());
        Assert.Empty(audit.Conv1x1);
        Assert.Equal(0, audit.Totals.Conv);
        Assert.Equal(0, audit.Totals.MatMul);
    }

    /// <summary>conv1x1-to-matmul leaves the single Conv of <paramref name="b"/> alone, saying <paramref name="reason"/>.</summary>
    private static void AssertToMatMulRefuses(TestModelBuilder b, string reason)
    {
        var (_, _, result) = RewriteHarness.ToMatMul(b);
        var outcome = Assert.Single(result.Outcomes);
        Assert.Equal(CandidateStatus.NotApplicable, outcome.Status);
        Assert.Equal(reason, outcome.Detail);
    }
}
