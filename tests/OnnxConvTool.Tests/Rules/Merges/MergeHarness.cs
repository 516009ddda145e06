using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules.Merges;

using DataType = TensorProto.Types.DataType;

/// <summary>Builds merge test models and checks a merge the way every rule test needs: applied, valid, equivalent, accepted by the checker.</summary>
internal static class MergeHarness
{
    private static readonly long[] Spatial = [6, 5, 4];

    public static object[] InputDims(long channels, int spatialRank, object? batch = null) => [batch ?? 2L, channels, .. Spatial[..spatialRank].Cast<object>()];

    public static void Output(TestModelBuilder b, string name, int rank, DataType type = DataType.Float) =>
        b.Output(name, type, Enumerable.Range(0, rank).Select(i => (object)$"{name}_d{i}").ToArray());

    public static long[] Kernel(long size, int rank) => Enumerable.Repeat(size, rank).ToArray();

    /// <summary>A Conv with a <paramref name="kernel"/>-wide kernel over <paramref name="rank"/> spatial dims and optional pads and strides.</summary>
    public static string Conv(TestModelBuilder b, string x, long inChannels, long outChannels, int rank, long kernel = 1, long group = 1, bool bias = true,
        long pad = 0, long stride = 1, DataType type = DataType.Float, string? output = null)
    {
        var attributes = new List<AttributeProto>();
        if (pad != 0) attributes.Add(Attr.Ints("pads", Enumerable.Repeat(pad, 2 * rank).ToArray()));
        if (stride != 1) attributes.Add(Attr.Ints("strides", Enumerable.Repeat(stride, rank).ToArray()));
        string y = b.Conv(x, inChannels, outChannels, Kernel(kernel, rank), group, bias, WeightStorage.Initializer, type, attributes.ToArray());
        if (output is null) return y;
        b.Node("Identity", [y], [output]);
        return output;
    }

    /// <summary>
    /// Runs <paramref name="rules"/> to a fixpoint (validating after each rewrite), asserts <paramref name="applied"/>
    /// rewrites, that ONNX Runtime finds the result equivalent to the original and that the checker accepts it.
    /// </summary>
    public static (Model After, RewriteResult Result) AssertMerges(TestModelBuilder builder, IRewriteRule[] rules, int applied, RewriteOptions? options = null)
    {
        var before = builder.ToIr();
        var after = builder.ToIr();
        var result = RewriteDriver.Run(after, rules, (options ?? new RewriteOptions()) with { ValidateAfterEachRewrite = true, Fixpoint = true });
        Assert.True(applied == result.AppliedCount,
            $"expected {applied} merges, got {result.AppliedCount}: {string.Join("; ", result.Outcomes.Select(o => $"{o.RuleId} {o.NodeName}: {o.Detail}"))}");
        Assert.Empty(GraphValidator.Validate(after));
        Assert.Equal(before.Graph.Outputs.Select(o => o.Name), after.Graph.Outputs.Select(o => o.Name));
        Equivalence.AssertEquivalent(before, after);
        PythonOracle.AssertValid(after);
        return (after, result);
    }

    /// <summary>Asserts <paramref name="rule"/> applies nowhere, refuses one candidate with <paramref name="reason"/>, and changes nothing.</summary>
    public static void AssertRefuses(TestModelBuilder builder, IRewriteRule rule, string reason, RewriteOptions? options = null)
    {
        var model = builder.ToIr();
        int nodes = model.Graph.Nodes.Count;
        var result = RewriteDriver.Run(model, [rule], options);
        string outcomes = string.Join("\n", result.Outcomes.Select(o => $"{o.NodeName}: {o.Status} {o.Detail}"));
        Assert.True(result.AppliedCount == 0, outcomes);
        Assert.True(result.Outcomes.Any(o => o.Status == CandidateStatus.NotApplicable && o.Detail == reason), $"no candidate refused with \"{reason}\":\n{outcomes}");
        Assert.Equal(nodes, model.Graph.Nodes.Count);
    }

    public static int Count(Model model, string opType) => model.AllNodes().Count(n => n.OpType == opType);
}
