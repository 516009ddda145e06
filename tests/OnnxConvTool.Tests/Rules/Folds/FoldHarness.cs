using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;

/// <summary>Builds fold test models and checks a fold the way every rule test needs: applied, equivalent, valid, exact.</summary>
internal static class FoldHarness
{
    /// <summary>Spatial dims of test inputs for spatial rank 1 to 3.</summary>
    private static readonly long[] Spatial = [6, 5, 4];

    public static object[] InputDims(long channels, int spatialRank) => [2L, channels, .. Spatial[..spatialRank].Cast<object>()];

    /// <summary>An output with symbolic dims of the given rank (the checker wants a shape on graph outputs).</summary>
    public static void Output(TestModelBuilder b, string name, int rank, DataType type = DataType.Float) =>
        b.Output(name, type, Enumerable.Range(0, rank).Select(i => (object)$"{name}_d{i}").ToArray());

    /// <summary>A 3-wide (3x3, 3x3x3) Conv with pads 1 (so folds after it cross padding) or a stride-2 ConvTranspose.</summary>
    public static string Conv(TestModelBuilder b, string x, long inChannels, long outChannels, int spatialRank, long group = 1,
        bool bias = true, DataType type = DataType.Float, bool transposed = false, bool padded = true, WeightStorage storage = WeightStorage.Initializer)
    {
        long[] kernel = Enumerable.Repeat(3L, spatialRank).ToArray();
        long[] pads = Enumerable.Repeat(padded ? 1L : 0L, 2 * spatialRank).ToArray();
        if (!transposed) return b.Conv(x, inChannels, outChannels, kernel, group, bias, storage, type, Attr.Ints("pads", pads));
        var w = b.Store(b.RandomTensor(b.UniqueName("Wt"), [inChannels, outChannels / group, .. kernel], type, 1.0 / Math.Sqrt(inChannels)), storage);
        var inputs = new List<string> { x, w };
        if (bias) inputs.Add(b.Store(b.RandomTensor(b.UniqueName("Bt"), [outChannels], type, 0.5), storage));
        var attributes = new List<AttributeProto> { Attr.Ints("kernel_shape", kernel), Attr.Ints("strides", Enumerable.Repeat(2L, spatialRank).ToArray()), Attr.Ints("pads", pads) };
        if (group != 1) attributes.Add(Attr.Int("group", group));
        return b.Node("ConvTranspose", inputs.ToArray(), attributes.ToArray());
    }

    /// <summary>
    /// Runs <paramref name="rules"/> to a fixpoint (validating after each rewrite, matches checked pure), asserts <paramref name="applied"/> rewrites
    /// happened, that ONNX Runtime finds the result equivalent at verify's defaults (or, for float64, close to its
    /// float32 twin), that the checker accepts it, and that each fold reports its stored values within
    /// <paramref name="maxUlps"/> of their float64 truth. Returns the largest deviation reported.
    /// </summary>
    public static (Model After, RewriteResult Result, double MaxUlps) AssertFolds(TestModelBuilder builder, IRewriteRule[] rules, int applied,
        TestModelBuilder? floatTwin = null, double maxUlps = 0.5, bool runsInOnnxRuntime = true)
    {
        var before = builder.ToIr();
        var after = builder.ToIr();
        var result = RewriteDriver.Run(after, rules, new RewriteOptions { ValidateAfterEachRewrite = true, Fixpoint = true });
        Assert.True(applied == result.AppliedCount,
            $"expected {applied} folds, got {result.AppliedCount}: {string.Join("; ", result.Outcomes.Select(o => $"{o.RuleId} {o.NodeName}: {o.Detail}"))}");
        Assert.Empty(GraphValidator.Validate(after));
        Assert.Equal(before.Graph.Outputs.Select(o => o.Name), after.Graph.Outputs.Select(o => o.Name));
        if (floatTwin is not null) Equivalence.AssertEquivalent(floatTwin.ToIr(), Float32Copy(after));
        else if (runsInOnnxRuntime) Equivalence.AssertEquivalent(before, after);
        if (before.IrVersion >= 4 || PythonOracle.Check(before).Outcome != OnnxCheckOutcome.Invalid) PythonOracle.AssertValid(after);
        var appliedOutcomes = result.Outcomes.Where(o => o.Status == CandidateStatus.Applied).ToArray();
        // Every conv fold that recomputed constants reports its deviation; a pure rewiring (Pad) reports none.
        Assert.All(appliedOutcomes.Where(o => o.RuleId != FoldConstants.RuleId), o => Assert.Equal(o.RuleId != FusePadIntoConv.RuleId, o.DeviationUlps is not null));
        double deviation = appliedOutcomes.Max(o => o.DeviationUlps ?? 0);
        Assert.InRange(deviation, 0, maxUlps);
        return (after, result, deviation);
    }

    /// <summary>
    /// <paramref name="model"/> with every float64 constant, input, output and value_info turned float32 (values
    /// rounded once). ONNX Runtime has no float64 Conv on CPU; this copy of a float64 fold runs beside the float32
    /// original, and rounding the folded weights adds at most half an ULP of float32 to each.
    /// </summary>
    public static Model Float32Copy(Model model)
    {
        var proto = ModelProto.Parser.ParseFrom(ModelWriter.ToBytes(model));
        var graph = proto.Graph;
        for (int i = 0; i < graph.Initializer.Count; i++)
            if (graph.Initializer[i].DataType == (int)DataType.Double)
                graph.Initializer[i] = ToFloat(graph.Initializer[i]);
        foreach (var info in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
            if (info.Type?.TensorType is { ElemType: (int)DataType.Double } tensorType) tensorType.ElemType = (int)DataType.Float;
        foreach (var node in graph.Node)
            foreach (var attribute in node.Attribute)
                if (attribute.T is { DataType: (int)DataType.Double } t) attribute.T = ToFloat(t);
        return ModelReader.Build(proto, "float32-copy.onnx", Directory.GetCurrentDirectory());
    }

    private static TensorProto ToFloat(TensorProto tensor)
    {
        var converted = Tensor.FromValues(tensor.Name, DataType.Float, tensor.Dims, new Tensor(tensor).ToDoubleArray()).Proto;
        if (!tensor.HasName) converted.ClearName();
        return converted;
    }

    /// <summary>Asserts that <paramref name="rule"/> refuses the one candidate of type <paramref name="opType"/> with <paramref name="reason"/> and changes nothing.</summary>
    public static void AssertRefuses(TestModelBuilder builder, IRewriteRule rule, string opType, string reason, RewriteOptions? options = null)
    {
        var model = builder.ToIr();
        int nodes = model.Graph.Nodes.Count;
        var result = RewriteDriver.Run(model, [rule], options);
        var outcome = Assert.Single(result.Outcomes, o => o.OpType == opType);
        Assert.Equal(CandidateStatus.NotApplicable, outcome.Status);
        Assert.Equal(reason, outcome.Detail);
        Assert.Equal(nodes, model.Graph.Nodes.Count);
    }

    public static int Count(Model model, string opType) => model.AllNodes().Count(n => n.OpType == opType);
}
