using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>Reduce* (axes as attribute or, by opset, as input; keepdims; noop_with_empty_axes), ArgMax/ArgMin, TopK.</summary>
internal static class ReductionRules
{
    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        rules["ReduceSum"] = c => Reduce(c, (a, b) => a + b);
        rules["ReduceProd"] = c => Reduce(c, (a, b) => a * b);
        rules["ReduceMax"] = c => Reduce(c, (a, b) => a == b ? a : a.Constant is { } x && b.Constant is { } y ? DimExpr.Of(Math.Max(x, y)) : null);
        rules["ReduceMin"] = c => Reduce(c, (a, b) => a == b ? a : a.Constant is { } x && b.Constant is { } y ? DimExpr.Of(Math.Min(x, y)) : null);
        foreach (string op in new[] { "ReduceMean", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare" })
            rules[op] = c => Reduce(c, fold: null);
        rules["ArgMax"] = ArgReduce;
        rules["ArgMin"] = ArgReduce;
        rules["TopK"] = TopK;
    }

    private static void Reduce(NodeContext c, Func<DimExpr, DimExpr, DimExpr?>? fold)
    {
        var x = c.Input(0);
        bool keepDims = c.Int("keepdims", 1) != 0;
        var axes = c.AttrOrInputInts("axes", out bool present);
        if (x.Dims is not { } dims)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        if (present && axes is null)
        {
            // The axes are computed at run time: with keepdims only the rank is known.
            c.SetOutput(0, x.Type, keepDims ? new DimExpr?[dims.Length] : null);
            return;
        }
        if (axes is null || axes.Length == 0)
        {
            // noop_with_empty_axes came with the axes input.
            if (c.InputIndexOf("axes") >= 0 && c.Int("noop_with_empty_axes", 0) != 0)
            {
                c.SetOutput(0, x);
                return;
            }
            axes = FoldedValues.Range(0, dims.Length);
        }
        var reduced = new HashSet<int>();
        foreach (long a in axes)
        {
            if (ShapeMath.Axis(a, dims.Length) is not { } axis) return;
            // Repeated axes are invalid (ONNX: "each axis at most once"); runtimes differ, so the shape stays unknown.
            if (!reduced.Add(axis)) return;
        }
        var output = keepDims
            ? dims.Select((d, i) => reduced.Contains(i) ? DimExpr.Of(1) : d).ToArray()
            : dims.Where((_, i) => !reduced.Contains(i)).ToArray();
        DimExpr?[]? values = null;
        if (fold is not null && dims.Length == 1 && x.Values is { Length: > 0 } v && v.All(e => e is not null))
            values = [v.Skip(1).Aggregate((DimExpr?)v[0], (acc, e) => acc is null ? null : fold(acc, e!))];
        c.SetOutput(0, x.Type, output, values);
    }

    private static void ArgReduce(NodeContext c)
    {
        var dims = c.Dims(0);
        if (dims is null || ShapeMath.Axis(c.Int("axis", 0), dims.Length) is not { } axis)
        {
            c.SetOutput(0, DataType.Int64, null);
            return;
        }
        var output = c.Int("keepdims", 1) != 0
            ? dims.Select((d, i) => i == axis ? DimExpr.Of(1) : d).ToArray()
            : dims.Where((_, i) => i != axis).ToArray();
        c.SetOutput(0, DataType.Int64, output);
    }

    private static void TopK(NodeContext c)
    {
        var dims = c.Dims(0);
        DimExpr? k = c.Opset < 10 ? (c.HasAttribute("k") ? DimExpr.Of(c.Int("k", 0)) : null) : c.Values(1) is [var value] ? value : null;
        if (dims is null || ShapeMath.Axis(c.Int("axis", -1), dims.Length) is not { } axis)
        {
            c.SetOutput(0, c.Type(0), null);
            c.SetOutput(1, DataType.Int64, null);
            return;
        }
        var output = (DimExpr?[])dims.Clone();
        output[axis] = k;
        c.SetOutput(0, c.Type(0), output);
        c.SetOutput(1, DataType.Int64, output);
    }
}
