using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Ops that make tensors from shapes or constants: Shape, Size, Constant, ConstantOfShape, Range, and
/// ops whose output size depends on data (NonZero, Unique, Compress, NonMaxSuppression), plus OneHot,
/// GridSample and RoiAlign.
/// </summary>
internal static class ShapeTensorRules
{
    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        rules["Shape"] = Shape;
        rules["Size"] = c => c.SetOutput(0, DataType.Int64, [], c.Dims(0) is { } d ? [ShapeMath.Product(d)] : null);
        rules["Constant"] = Constant;
        rules["ConstantOfShape"] = ConstantOfShape;
        rules["Range"] = Range;
        rules["NonZero"] = c => c.SetOutput(0, DataType.Int64, [c.Rank(0) is { } r ? DimExpr.Of(r) : null, null]);
        rules["Unique"] = Unique;
        rules["Compress"] = Compress;
        rules["NonMaxSuppression"] = c => c.SetOutput(0, DataType.Int64, [null, DimExpr.Of(3)]);
        rules["OneHot"] = OneHot;
        rules["GridSample"] = GridSample;
        rules["RoiAlign"] = c => c.SetOutput(0, c.Type(0),
            [c.Dims(1)?[0], c.Dims(0) is { Length: 4 } x ? x[1] : null, DimExpr.Of(c.Int("output_height", 1)), DimExpr.Of(c.Int("output_width", 1))]);
    }

    private static void Shape(NodeContext c)
    {
        var dims = c.Dims(0);
        if (dims is null)
        {
            c.SetOutput(0, DataType.Int64, [null]);
            return;
        }
        int rank = dims.Length;
        long start = c.Opset >= 15 ? c.Int("start", 0) : 0;
        long end = c.Opset >= 15 ? c.Int("end", rank) : rank;
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        start = Math.Clamp(start, 0, rank);
        end = Math.Clamp(end, 0, rank);
        var values = dims.Skip((int)start).Take((int)Math.Max(0, end - start)).ToArray();
        c.SetOutput(0, DataType.Int64, [DimExpr.Of(values.Length)], values);
    }

    private static void Constant(NodeContext c)
    {
        var node = c.Node;
        if (Model.TryGetConstant(node.Outputs[0]) is { } tensor)
        {
            c.SetOutput(0, ShapeEngine.FromConstant(tensor));
            return;
        }
        if (node.Attribute("sparse_value") is { SparseTensor: { } sparse })
            c.SetOutput(0, (DataType?)sparse.Values?.DataType, sparse.Dims.Select(d => (DimExpr?)DimExpr.Of(d)).ToArray());
        else if (node.Attribute("value_string") is not null)
            c.SetOutput(0, DataType.String, []);
        else if (node.Attribute("value_strings") is { } strings)
            c.SetOutput(0, DataType.String, [DimExpr.Of(strings.Strings.Count)]);
    }

    private static void ConstantOfShape(NodeContext c)
    {
        var fill = c.Node.GetTensor("value");
        var type = fill is null ? DataType.Float : (DataType)fill.DataType;
        var shape = c.Values(0) ?? (c.Dims(0) is [{ Constant: { } length }] ? new DimExpr?[length] : null);
        DimExpr?[]? values = null;
        if (ShapeRules.IsIntegerOrBool(type) && ShapeMath.AllConstant(shape) is { } dims && ShapeMath.IsFoldable(dims))
        {
            long element = fill is null ? 0 : new Tensor(fill).ToInt64Array().FirstOrDefault();
            values = Enumerable.Repeat((DimExpr?)DimExpr.Of(element), (int)dims.Aggregate(1L, (a, b) => a * b)).ToArray();
        }
        c.SetOutput(0, type, shape, values);
    }

    /// <summary>Range(start, limit, delta): ceil((limit - start) / delta) elements, folded when all three are known integers.</summary>
    private static void Range(NodeContext c)
    {
        var type = c.Type(0);
        var start = c.Values(0) is [var first] ? first : null;
        var limit = c.Values(1) is [var last] ? last : null;
        var delta = c.Values(2) is [var increment] ? increment : null;
        if (start is null || limit is null || delta?.Constant is not { } step || step == 0)
        {
            var floats = new[] { c.ConstDoubles(0), c.ConstDoubles(1), c.ConstDoubles(2) };
            if (floats.All(f => f is [_]) && floats[2]![0] != 0)
            {
                double n = Math.Ceiling((floats[1]![0] - floats[0]![0]) / floats[2]![0]);
                c.SetOutput(0, type, [DimExpr.Of((long)Math.Max(0, n))]);
                return;
            }
            c.SetOutput(0, type, [null]);
            return;
        }
        DimExpr? count;
        if (start.Constant is { } s && limit.Constant is { } l)
            count = DimExpr.Of(Math.Max(0, step > 0 ? (l - s + step - 1) / step : (s - l - step - 1) / -step));
        else
            count = step > 0 ? (limit - start).CeilDiv(step) : (start - limit).CeilDiv(-step);
        DimExpr?[]? values = null;
        if (count.Constant is { } k && k <= InferredTensor.MaxFoldedElements)
            values = Enumerable.Range(0, (int)k).Select(i => (DimExpr?)(start + i * step)).ToArray();
        c.SetOutput(0, type, [count], values);
    }

    private static void Unique(NodeContext c)
    {
        var x = c.Dims(0);
        if (c.HasAttribute("axis") && x is not null && ShapeMath.Axis(c.Int("axis", 0), x.Length) is { } axis)
        {
            var y = (DimExpr?[])x.Clone();
            y[axis] = null;
            c.SetOutput(0, c.Type(0), y);
        }
        else
        {
            c.SetOutput(0, c.Type(0), [null]);
        }
        for (int i = 1; i < c.OutputCount; i++) c.SetOutput(i, DataType.Int64, [null]);
    }

    private static void Compress(NodeContext c)
    {
        var x = c.Dims(0);
        if (c.HasAttribute("axis") && x is not null && ShapeMath.Axis(c.Int("axis", 0), x.Length) is { } axis)
        {
            var y = (DimExpr?[])x.Clone();
            y[axis] = null;
            c.SetOutput(0, c.Type(0), y);
            return;
        }
        c.SetOutput(0, c.Type(0), [null]);
    }

    private static void OneHot(NodeContext c)
    {
        var indices = c.Dims(0);
        var depth = c.ConstDoubles(1) is [var d] ? DimExpr.Of((long)d) : null;
        if (indices is null || ShapeMath.Axis(c.Int("axis", -1), indices.Length + 1) is not { } axis)
        {
            c.SetOutput(0, c.Type(2), null);
            return;
        }
        var output = indices.ToList();
        output.Insert(axis, depth);
        c.SetOutput(0, c.Type(2), output.ToArray());
    }

    private static void GridSample(NodeContext c)
    {
        var x = c.Dims(0);
        var grid = c.Dims(1);
        if (x is null || grid is null || grid.Length != x.Length)
        {
            c.SetOutput(0, c.Type(0), x is null ? null : new DimExpr?[x.Length]);
            return;
        }
        c.SetOutput(0, c.Type(0), new[] { x[0], x[1] }.Concat(grid.Skip(1).Take(grid.Length - 2)).ToArray());
    }
}
