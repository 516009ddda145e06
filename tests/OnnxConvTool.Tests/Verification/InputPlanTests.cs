using System.Runtime.InteropServices;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

public sealed class InputPlanTests
{
    /// <summary>Turns the input's zero sizes into unknown dims (no value, no name), as exporters write them.</summary>
    internal static void ClearSizes(TestModelBuilder builder, string input)
    {
        foreach (var dim in builder.Graph.Input.Single(i => i.Name == input).Type.TensorType.Shape.Dim)
            if (dim.DimValue == 0) dim.ClearDimValue();
    }

    private static InputPlan Plan(TestModelBuilder builder, VerifyOptions? options = null) =>
        InputPlan.Create(builder.ToIr(), options ?? new VerifyOptions(), "model.onnx");

    [Fact]
    public void FreeDimsCoverBatchAboveOneNonSquareAndOddSizes()
    {
        var plan = Plan(SmallModels.ConvNet());
        var trials = Enumerable.Range(0, 3).Select(plan.PlannedDims).ToList();
        Assert.All(trials, t => Assert.Equal(["N", "H", "W"], t.Keys));
        Assert.Contains(trials, t => t["N"] > 1);
        Assert.Contains(trials, t => t["H"] != t["W"]);
        Assert.Contains(trials, t => t["H"] % 2 == 1 && t["W"] % 2 == 1);
        Assert.Equal(3, trials.Select(t => (t["N"], t["H"], t["W"])).Distinct().Count());
        Assert.True(plan.FreeDims.Single(f => f.Key == "N").IsBatch);
        Assert.False(plan.FreeDims.Single(f => f.Key == "H").IsBatch);
    }

    [Fact]
    public void ADimSymbolTakesOneValueAcrossInputsAndUnnamedDimsAreIndependent()
    {
        var b = new TestModelBuilder();
        b.Input("a", "N", 8);
        b.Input("b", "N", 5);
        b.Input("c", DataType.Float, 0, 0);
        ClearSizes(b, "c");
        b.Node("Identity", ["a"], ["y"]);
        b.Output("y");
        var plan = Plan(b);
        var feeds = plan.MakeFeeds(0, plan.PlannedDims(0));
        Assert.Equal(feeds[0].Tensor.Shape[0], feeds[1].Tensor.Shape[0]);
        Assert.Equal(["N", "c[0]", "c[1]"], plan.FreeDims.Select(f => f.Key));
        Assert.True(plan.FreeDims[1].IsBatch);
        Assert.NotEqual(feeds[2].Tensor.Shape[0], feeds[2].Tensor.Shape[1]);
    }

    [Fact]
    public void ShapeOverridesFixDimsAndNamesTieDimsTogether()
    {
        var b = new TestModelBuilder();
        b.Input("input", DataType.Float, 0, 0);
        b.Input("state", DataType.Float, 2, 0, 128);
        ClearSizes(b, "input");
        ClearSizes(b, "state");
        b.Node("Identity", ["input"], ["y"]);
        b.Output("y");
        var options = new VerifyOptions
        {
            Shapes = new Dictionary<string, IReadOnlyList<Dim>>
            {
                ["input"] = [Dim.Symbolic("B"), Dim.Known(512)],
                ["state"] = [Dim.Known(2), Dim.Symbolic("B"), Dim.Known(128)],
            },
        };
        var plan = Plan(b, options);
        Assert.Equal(["B"], plan.FreeDims.Select(f => f.Key));
        for (int trial = 0; trial < 3; trial++)
        {
            var feeds = plan.MakeFeeds(trial, plan.PlannedDims(trial));
            Assert.Equal(512, feeds[0].Tensor.Shape[1]);
            Assert.Equal(feeds[0].Tensor.Shape[0], feeds[1].Tensor.Shape[1]);
        }
    }

    [Fact]
    public void InitializerBackedInputsAreNotFedUnlessAsked()
    {
        var b = new TestModelBuilder(opset: 8, irVersion: 3);
        b.Input("x", 2, 3);
        b.Store(b.RandomTensor("w", [2, 3]), WeightStorage.GraphInput);
        b.Node("Add", ["x", "w"], ["y"]);
        b.Output("y");
        Assert.Equal(["x"], Plan(b).Inputs.Select(i => i.Name));
        var withValue = Plan(b, new VerifyOptions { Values = new Dictionary<string, double> { ["w"] = 0.5 } });
        Assert.Equal(["x", "w"], withValue.Inputs.Select(i => i.Name));
        var feeds = withValue.MakeFeeds(0, withValue.PlannedDims(0));
        Assert.All(MemoryMarshal.Cast<byte, float>(feeds[1].Tensor.Data).ToArray(), v => Assert.Equal(0.5f, v));
        Assert.Equal("constant 0.5", feeds[1].Info.Source);
    }

    [Fact]
    public void RandomDataIsSeededSignedAndSmallForIntegers()
    {
        var b = new TestModelBuilder();
        b.Input("f", 64, 64);
        b.Input("i", DataType.Int64, 1000);
        b.Input("m", DataType.Bool, 1000);
        b.Node("Identity", ["f"], ["y"]);
        b.Output("y");
        var plan = Plan(b);
        var first = plan.MakeFeeds(0, plan.PlannedDims(0));
        var again = plan.MakeFeeds(0, plan.PlannedDims(0));
        var nextTrial = plan.MakeFeeds(1, plan.PlannedDims(1));
        var otherSeed = Plan(b, new VerifyOptions { Seed = 5 }).MakeFeeds(0, plan.PlannedDims(0));
        Assert.Equal(first[0].Tensor.Data, again[0].Tensor.Data);
        Assert.NotEqual(first[0].Tensor.Data, nextTrial[0].Tensor.Data);
        Assert.NotEqual(first[0].Tensor.Data, otherSeed[0].Tensor.Data);

        var floats = MemoryMarshal.Cast<byte, float>(first[0].Tensor.Data).ToArray();
        Assert.All(floats, v => Assert.InRange(v, -1f, 1f));
        Assert.True(floats.Min() < -0.9f && floats.Max() > 0.9f);
        var ints = MemoryMarshal.Cast<byte, long>(first[1].Tensor.Data).ToArray();
        Assert.Equal([0L, 1L, 2L, 3L], ints.Distinct().Order());
        Assert.Equal(new byte[] { 0, 1 }, first[2].Tensor.Data.Distinct().Order());
    }

    [Fact]
    public void FallbacksRoundUpToMultiplesOf32ThenTryBatchOne()
    {
        var plan = Plan(SmallModels.ConvNet());
        var odd = plan.PlannedDims(2);
        var fallbacks = plan.Fallbacks(odd, firstThatRan: null).ToList();
        Assert.All(fallbacks[0].Dims.Where(d => d.Key != "N"), d => Assert.Equal(0, d.Value % 32));
        Assert.Equal(odd["N"], fallbacks[0].Dims["N"]);
        Assert.Equal(1, fallbacks[1].Dims["N"]);
        Assert.Contains("multiples of 32", fallbacks[0].Why);
    }

    [Theory]
    [InlineData("nope", "has no input named 'nope' (its inputs: x)")]
    public void UnknownInputNamesAreUsageErrors(string name, string message)
    {
        var error = Assert.Throws<OnnxConvException>(() => Plan(SmallModels.ConvNet(), new VerifyOptions { Values = new Dictionary<string, double> { [name] = 1 } }));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void ShapeOverridesMustMatchRankAndFixedDims()
    {
        var rank = Assert.Throws<OnnxConvException>(() => Plan(SmallModels.ConvNet(), new VerifyOptions
        {
            Shapes = new Dictionary<string, IReadOnlyList<Dim>> { ["x"] = [Dim.Known(1), Dim.Known(3)] },
        }));
        Assert.Equal(ExitCode.UsageError, rank.ExitCode);
        Assert.Contains("rank 4", rank.Message);
        var fixedDim = Assert.Throws<OnnxConvException>(() => Plan(SmallModels.ConvNet(), new VerifyOptions
        {
            Shapes = new Dictionary<string, IReadOnlyList<Dim>> { ["x"] = [Dim.Known(1), Dim.Known(5), Dim.Known(8), Dim.Known(8)] },
        }));
        Assert.Contains("axis 1 is fixed to 3", fixedDim.Message);
    }
}
