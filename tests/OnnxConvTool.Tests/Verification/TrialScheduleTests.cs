using System.Runtime.InteropServices;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>The inputs the trials feed: edge values, square sizes with batch 4, independent batch symbols, embedding indices, branch values.</summary>
public sealed class TrialScheduleTests
{
    private static InputPlan Plan(TestModelBuilder builder, VerifyOptions? options = null) =>
        InputPlan.Create(builder.ToIr(), options ?? new VerifyOptions(), "model.onnx");

    [Fact]
    public void IndependentBatchSymbolsGetDifferentValues()
    {
        var b = new TestModelBuilder();
        b.Input("a", "N", 8);
        b.Input("b", "M", 8);
        b.Node("Concat", ["a", "b"], ["y"], Attr.Int("axis", 0));
        b.Output("y", DataType.Float, "K", 8);
        var plan = Plan(b);
        foreach (var trial in plan.Schedule(3).Where(t => t.Source == "random"))
            Assert.NotEqual(trial.Dims["N"], trial.Dims["M"]);
        var report = EquivalenceChecker.Verify(b.ToIr(), b.ToIr(), new VerifyOptions());
        Assert.True(report.Equivalent, report.RenderText());
        Assert.Contains(report.Trials, t => t.FreeDims["N"] != t.FreeDims["M"]);
    }

    [Fact]
    public void TheEdgeTrialFeedsZeroOneAndAHundredWithBatchFourAndASquareMap()
    {
        var b = SmallModels.ConvNet();
        var plan = Plan(b);
        var edge = plan.Schedule(3).Single(t => t.EdgeValues);
        Assert.Equal(4, edge.Dims["N"]);
        Assert.Equal(edge.Dims["H"], edge.Dims["W"]);
        var tensor = plan.MakeFeeds(edge, edge.Dims).Single().Tensor;
        var values = MemoryMarshal.Cast<byte, float>(tensor.Data).ToArray().Distinct().Order().ToArray();
        Assert.Equal([-100f, -1f, 0f, 1f, 100f], values);
    }

    [Fact]
    public void IndicesOfAGatherAreDrawnOverTheWholeIndexedAxis()
    {
        var b = new TestModelBuilder();
        b.Input("ids", DataType.Int64, "N", 16);
        var table = b.Initializer(b.RandomTensor("embedding", [1000, 8]));
        b.Node("Gather", [table, "ids"], ["y"]);
        b.Output("y", DataType.Float, "N", 16, 8);
        var plan = Plan(b);
        Assert.Equal("random indices 0..999", plan.Inputs.Single().Source);
        var ids = MemoryMarshal.Cast<byte, long>(plan.MakeFeeds(0, plan.PlannedDims(0)).Single().Tensor.Data).ToArray();
        Assert.True(ids.Max() > 3 && ids.Max() < 1000 && ids.Min() >= 0, string.Join(",", ids));
        Assert.True(EquivalenceChecker.Verify(b.ToIr(), b.ToIr(), new VerifyOptions()).Equivalent);
    }

    [Fact]
    public void AnIntegerComparedWithAConstantBeforeAnIfGetsBothSidesOfTheComparison()
    {
        var b = new TestModelBuilder(opset: 16);
        b.Input("x", 1, 4);
        b.Input("sr", DataType.Int64);
        string condition = b.Node("Equal", ["sr", b.Initializer(TestModelBuilder.Int64Tensor("rate", [], [16000]))]);
        var then = b.Subgraph("then");
        then.Output(then.Node("Relu", ["x"]), DataType.Float, 1, 4);
        var otherwise = b.Subgraph("else");
        otherwise.Output(otherwise.Node("Neg", ["x"]), DataType.Float, 1, 4);
        b.Output(b.If(condition, then, otherwise)[0], DataType.Float, 1, 4);
        var branch = Assert.Single(Plan(b).BranchInputs);
        Assert.Equal("sr", branch.Name);
        Assert.Equal([16000.0, 16001.0], branch.Values);
        var fixedRate = Plan(b, new VerifyOptions { Values = new Dictionary<string, double> { ["sr"] = 16000 } }).Schedule(1);
        Assert.Equal(["random", "edge values", "branch sr=16001"], fixedRate.Select(t => t.Source));
    }
}
