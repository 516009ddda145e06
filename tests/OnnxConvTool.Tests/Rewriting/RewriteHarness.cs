using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rewriting;

/// <summary>Runs rules on a built model and checks what every rewrite must keep: validity and output names.</summary>
internal static class RewriteHarness
{
    public static (Model Before, Model After, RewriteResult Result) Run(TestModelBuilder builder, IRewriteRule rule, RewriteOptions? options = null)
    {
        var before = builder.ToIr();
        var after = builder.ToIr();
        var result = RewriteDriver.Run(after, [rule], (options ?? new RewriteOptions()) with { ValidateAfterEachRewrite = true });
        Assert.Empty(GraphValidator.Validate(after));
        Assert.Equal(before.Graph.Outputs.Select(o => o.Name), after.Graph.Outputs.Select(o => o.Name));
        Assert.Equal(before.OnnxOpset, after.OnnxOpset);
        return (before, after, result);
    }

    public static (Model Before, Model After, RewriteResult Result) ToMatMul(TestModelBuilder builder, RewriteOptions? options = null) =>
        Run(builder, new Conv1x1ToMatMul(), options);

    public static int PointwiseConvCount(Model model) =>
        model.AllNodes().Count(n => n.OpType == "Conv" && (n.GetInts("kernel_shape") is not { } k || k.All(d => d == 1)));

    public static Dictionary<string, int> OpCounts(Model model) =>
        model.AllNodes().GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>The main graph as "out = Op(in, …)" lines with constants shown as their dims: a readable structural dump.</summary>
    public static string Dump(Graph graph) => string.Join("\n", graph.Nodes.Select(n =>
        $"{string.Join(", ", n.Outputs.Select(o => o.Name))} = {n.OpType}({string.Join(", ", n.Inputs.Select(i => i is null ? "" : Model.TryGetConstant(i) is { } t && n.OpType != "Constant" ? (t.ElementType == Onnx.TensorProto.Types.DataType.Int64 ? "[" + string.Join(",", t.ToInt64Array()) + "]" : "const" + t.FormatDims()) : i.Name))})"));
}
