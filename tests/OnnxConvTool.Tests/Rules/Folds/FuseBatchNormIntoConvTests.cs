using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;

public sealed class FuseBatchNormIntoConvTests(ITestOutputHelper output)
{
    /// <summary>Group layouts: dense (C=4 → M=6), two groups, depthwise (4 → 4), depthwise with multiplier 2 (4 → 8).</summary>
    public enum Groups { Dense, Two, Depthwise, DepthwiseMultiplier }

    private static (long In, long Out, long Group) Channels(Groups groups) => groups switch
    {
        Groups.Dense => (4, 6, 1),
        Groups.Two => (4, 6, 2),
        Groups.Depthwise => (4, 4, 4),
        _ => (4, 8, 4),
    };

    private static TestModelBuilder ConvThenBatchNorm(int opset, int rank, Groups groups, bool bias, DataType type, bool transposed, int seed = 11)
    {
        var b = new TestModelBuilder(opset, seed);
        var (c, m, g) = Channels(groups);
        b.Input("x", type, FoldHarness.InputDims(c, rank));
        var conv = FoldHarness.Conv(b, "x", c, m, rank, g, bias, type, transposed);
        var bn = b.BatchNormalization(conv, m, "bn", type: type);
        b.Node("Relu", [bn], ["y"]);
        FoldHarness.Output(b, "y", rank + 2, type);
        return b;
    }

    public static TheoryData<int, int, Groups, bool, DataType, bool> Cases()
    {
        var data = new TheoryData<int, int, Groups, bool, DataType, bool>();
        foreach (int opset in new[] { 7, 8, 9, 11, 13, 14, 15, 17, 18, 21 }) data.Add(opset, 2, Groups.Dense, true, DataType.Float, false);
        foreach (int rank in new[] { 1, 2, 3 })
            foreach (var groups in Enum.GetValues<Groups>())
                data.Add(13, rank, groups, rank != 2, DataType.Float, false);
        data.Add(13, 2, Groups.Dense, false, DataType.Float16, false);
        data.Add(17, 2, Groups.Depthwise, true, DataType.Float16, false);
        data.Add(21, 1, Groups.Two, true, DataType.Float16, false);
        foreach (int rank in new[] { 1, 2, 3 })
        {
            data.Add(13, rank, Groups.Dense, rank == 2, DataType.Float, true);
            data.Add(11, rank, Groups.Two, rank != 2, DataType.Float, true);
        }
        data.Add(17, 2, Groups.Depthwise, true, DataType.Float, true);
        data.Add(7, 2, Groups.Dense, true, DataType.Float, true);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void FoldsIntoAnEquivalentConvWithoutBatchNormalization(int opset, int rank, Groups groups, bool bias, DataType type, bool transposed)
    {
        var builder = ConvThenBatchNorm(opset, rank, groups, bias, type, transposed);
        var (after, result, ulps) = FoldHarness.AssertFolds(builder, [new FuseBatchNormIntoConv()], applied: 1);
        output.WriteLine($"{result.Outcomes[0].Detail}; max deviation {ulps} ULP");
        Assert.Equal(0, FoldHarness.Count(after, "BatchNormalization"));
        var conv = Assert.Single(after.Graph.Nodes, n => n.OpType == (transposed ? "ConvTranspose" : "Conv"));
        Assert.Equal("bn", conv.Outputs[0].Name);
        Assert.Equal(3, conv.Inputs.Count);
        Assert.Contains("folded into", result.Outcomes[0].Detail);
    }

    /// <summary>
    /// BatchNormalization of opsets 5 and 6 (is_test = 1; consumed_inputs in 5), which ONNX Runtime no longer runs:
    /// checked structurally and by the checker.
    /// </summary>
    [SkippableTheory]
    [InlineData(5)]
    [InlineData(6)]
    public void FoldsTheOldOpsetTestForm(int opset)
    {
        var (after, _, _) = FoldHarness.AssertFolds(ConvThenBatchNorm(opset, 2, Groups.Two, true, DataType.Float, false), [new FuseBatchNormIntoConv()], applied: 1,
            runsInOnnxRuntime: false);
        Assert.Equal(0, FoldHarness.Count(after, "BatchNormalization"));
    }

    [SkippableTheory]
    [InlineData(Groups.Dense)]
    [InlineData(Groups.Two)]
    [InlineData(Groups.Depthwise)]
    public void FoldsFloat64AndStaysCloseToTheFloat32Original(Groups groups)
    {
        var builder = ConvThenBatchNorm(13, 2, groups, bias: true, DataType.Double, transposed: false);
        var twin = ConvThenBatchNorm(13, 2, groups, bias: true, DataType.Float, transposed: false);
        var (after, _, _) = FoldHarness.AssertFolds(builder, [new FuseBatchNormIntoConv()], applied: 1, floatTwin: twin);
        Assert.Equal(DataType.Double, Model.TryGetConstant(after.Graph.Nodes.Single(n => n.OpType == "Conv").Inputs[1]!)!.ElementType);
    }

    [Fact]
    public void KeepsEveryConvAttributeAndTheNodeItself()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = b.Conv("x", 4, 6, [3, 3], group: 2, attributes: [Attr.Ints("pads", 1, 0, 2, 1), Attr.Ints("strides", 2, 1), Attr.Ints("dilations", 1, 2)]);
        b.Node("Relu", [b.BatchNormalization(conv, 6, "bn")], ["y"]);
        FoldHarness.Output(b, "y", 4);
        var model = b.ToIr();
        var original = model.Graph.Nodes.Single(n => n.OpType == "Conv");
        var attributes = original.Proto.Attribute.Clone();
        RewriteDriver.Run(model, [new FuseBatchNormIntoConv()]);
        var folded = model.Graph.Nodes.Single(n => n.OpType == "Conv");
        Assert.Same(original, folded);
        Assert.Equal(attributes, folded.Proto.Attribute);
    }

    /// <summary>The model of <paramref name="builder"/>, its Conv, and in float64 the Conv's weight and bias (null without one), the BatchNormalization's γ, β, μ, σ² and its ε.</summary>
    private static (Model Model, Node Conv, double[] W, double[]? B, double[][] P, double Epsilon) ConvAndBatchNormOriginals(TestModelBuilder builder)
    {
        var model = builder.ToIr();
        var conv = model.Graph.Nodes.Single(n => n.OpType == "Conv");
        var bn = model.Graph.Nodes.Single(n => n.OpType == "BatchNormalization");
        var w = Model.TryGetConstant(conv.Inputs[1]!)!.ToDoubleArray();
        var b = conv.Inputs.Count > 2 && conv.Inputs[2] is { } bias ? Model.TryGetConstant(bias)!.ToDoubleArray() : null;
        var p = bn.Inputs.Skip(1).Select(v => Model.TryGetConstant(v!)!.ToDoubleArray()).ToArray();
        return (model, conv, w, b, p, bn.GetFloat("epsilon", 1e-5f));
    }

    /// <summary>The stored weight is W·γ/√(σ²+ε) rounded once: recomputed here in float64 from the originals.</summary>
    [Fact]
    public void StoresEachFoldedWeightWithinHalfAnUlpOfItsFloat64Value()
    {
        var (model, conv, w, _, p, epsilon) = ConvAndBatchNormOriginals(ConvThenBatchNorm(13, 2, Groups.Two, bias: false, DataType.Float, transposed: false));
        RewriteDriver.Run(model, [new FuseBatchNormIntoConv()]);
        var folded = Model.TryGetConstant(conv.Inputs[1]!)!.ToDoubleArray();
        var bias = Model.TryGetConstant(conv.Inputs[2]!)!.ToDoubleArray();
        long perChannel = w.Length / 6;
        for (int i = 0; i < w.Length; i++)
        {
            long m = i / perChannel;
            double truth = w[i] * p[0][m] / Math.Sqrt(p[3][m] + epsilon);
            Assert.True(Math.Abs(folded[i] - truth) <= 0.5 * (MathF.BitIncrement(MathF.Abs((float)truth)) - MathF.Abs((float)truth)), $"weight {i}: {folded[i]} vs {truth}");
        }
        for (int m = 0; m < 6; m++)
            Assert.Equal((float)(p[1][m] - p[2][m] * p[0][m] / Math.Sqrt(p[3][m] + epsilon)), (float)bias[m]);
    }

    /// <summary>
    /// bfloat16 (Conv accepts it from opset 22; ONNX Runtime's CPU provider does not run it): every stored value is
    /// the float64 fold rounded once, within half a bfloat16 ULP.
    /// </summary>
    [Fact]
    public void FoldsBfloat16WithinHalfAnUlp()
    {
        var (model, conv, w, b, p, epsilon) = ConvAndBatchNormOriginals(ConvThenBatchNorm(22, 2, Groups.Two, bias: true, DataType.Bfloat16, transposed: false));
        var result = RewriteDriver.Run(model, [new FuseBatchNormIntoConv()], new RewriteOptions { ValidateAfterEachRewrite = true });
        Assert.InRange(Assert.Single(result.Outcomes).DeviationUlps!.Value, 0, 0.5);
        var folded = Model.TryGetConstant(conv.Inputs[1]!)!;
        var bias = Model.TryGetConstant(conv.Inputs[2]!)!;
        Assert.Equal(DataType.Bfloat16, folded.ElementType);
        Assert.Equal(DataType.Bfloat16, bias.ElementType);
        var storedW = folded.ToDoubleArray();
        var storedB = bias.ToDoubleArray();
        long perChannel = w.Length / 6;
        for (int i = 0; i < w.Length; i++)
        {
            long m = i / perChannel;
            double truth = w[i] * p[0][m] / Math.Sqrt(p[3][m] + epsilon);
            Assert.InRange(FloatElements.UlpDistance(DataType.Bfloat16, storedW[i], truth), 0, 0.5);
        }
        for (int m = 0; m < 6; m++)
        {
            double s = p[0][m] / Math.Sqrt(p[3][m] + epsilon);
            Assert.InRange(FloatElements.UlpDistance(DataType.Bfloat16, storedB[m], (b![m] - p[2][m]) * s + p[1][m]), 0, 0.5);
        }
    }

    [Fact]
    public void RefusesATrainingModeBatchNormalization()
    {
        var b = new TestModelBuilder(14);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2);
        string bn = b.BatchNormalization(conv, 6, "bn");
        b.Graph.Node.Single(n => n.OpType == "BatchNormalization").Attribute.Add(Attr.Int("training_mode", 1));
        b.Node("Relu", [bn], ["y"]);
        FoldHarness.Output(b, "y", 4);
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoConv(), "BatchNormalization", "'bn' runs in training mode");
    }

    [Fact]
    public void RefusesWhenTheRunningStatisticsOutputsAreUsed()
    {
        var b = new TestModelBuilder(9);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2);
        b.BatchNormalization(conv, 6, "bn");
        var node = b.Graph.Node.Single(n => n.OpType == "BatchNormalization");
        node.Output.Add("running_mean_out");
        b.Node("Relu", ["bn"], ["y"]);
        FoldHarness.Output(b, "y", 4);
        b.Output("running_mean_out", DataType.Float, 6);
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoConv(), "BatchNormalization", "'bn' also outputs running statistics that are used");
    }

    [Theory]
    [InlineData("is_test", 0, 6, "'bn' has is_test = 0, the training form of BatchNormalization before opset 7")]
    [InlineData("spatial", 0, 7, "'bn' has spatial = 0 (statistics per activation, not per channel)")]
    public void RefusesOldOpsetTrainingAndPerActivationForms(string attribute, long value, int opset, string reason)
    {
        var b = new TestModelBuilder(opset);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2);
        b.BatchNormalization(conv, 6, "bn");
        var node = b.Graph.Node.Single(n => n.OpType == "BatchNormalization");
        var existing = node.Attribute.FirstOrDefault(a => a.Name == attribute);
        if (existing is not null) node.Attribute.Remove(existing);
        node.Attribute.Add(Attr.Int(attribute, value));
        b.Node("Relu", ["bn"], ["y"]);
        FoldHarness.Output(b, "y", 4);
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoConv(), "BatchNormalization", reason);
    }

    [Fact]
    public void RefusesParametersThatAreNotOnePerChannel()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2);
        b.BatchNormalization(conv, 6, "bn");
        var scale = b.Graph.Initializer.Single(t => t.Name == "bn.weight");
        scale.Dims.Clear();
        scale.Dims.AddRange([6, 1]);
        b.Node("Relu", ["bn"], ["y"]);
        FoldHarness.Output(b, "y", 4);
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoConv(), "BatchNormalization",
            "the BatchNormalization scale 'bn.weight' has shape [6,1], not [6] (one value per channel)");
    }

    [Fact]
    public void RefusesABatchNormalizationThatDoesNotFollowAConvolution()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", FoldHarness.InputDims(4, 2));
        b.Node("Relu", [b.BatchNormalization(b.Node("Relu", ["x"]), 4, "bn")], ["y"]);
        FoldHarness.Output(b, "y", 4);
        FoldHarness.AssertRefuses(b, new FuseBatchNormIntoConv(), "BatchNormalization", "the input of 'bn' does not come from a Conv or ConvTranspose");
    }

    [Fact]
    public void RefusesAFloat16FoldThatOverflows()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", DataType.Float16, FoldHarness.InputDims(4, 2));
        var conv = FoldHarness.Conv(b, "x", 4, 6, 2, type: DataType.Float16);
        b.BatchNormalization(conv, 6, "bn", epsilon: 1e-12f, type: DataType.Float16);
        var variance = b.Graph.Initializer.Single(t => t.Name == "bn.running_var");
        variance.RawData = TestModelBuilder.TensorOf("bn.running_var", [6], new double[6], DataType.Float16).RawData;
        b.Node("Relu", ["bn"], ["y"]);
        FoldHarness.Output(b, "y", 4, DataType.Float16);
        var model = b.ToIr();
        var outcome = Assert.Single(RewriteDriver.Run(model, [new FuseBatchNormIntoConv()]).Outcomes);
        Assert.Equal(CandidateStatus.NotApplicable, outcome.Status);
        Assert.StartsWith("the folded weight of 'Conv_", outcome.Detail);
        Assert.Contains("overflows float16", outcome.Detail);
    }
}
