using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Elementwise ops: unary math and activations, broadcasting binary and variadic ops, comparisons,
/// logic, Where, Cast, normalizations, Dropout, quantization. Integer ops also fold their elements
/// when those are known (shape arithmetic such as <c>Mul(Gather(Shape(x), 2), 2)</c>).
/// </summary>
internal static class ElementwiseRules
{
    private static readonly string[] SameShapeOps =
    [
        "Relu", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Tanh", "Softmax", "LogSoftmax", "Hardmax", "Exp", "Log",
        "Sqrt", "Abs", "Neg", "Erf", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Floor", "Ceil", "Round", "Reciprocal", "Sign",
        "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Gelu", "Mish", "ThresholdedRelu",
        "Shrink", "Clip", "CumSum", "Trilu", "ReverseSequence", "BitwiseNot", "LpNormalization", "LRN", "MeanVarianceNormalization",
        "InstanceNormalization", "GroupNormalization", "Bernoulli", "Swish",
    ];

    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        foreach (string op in SameShapeOps) rules[op] = c => c.SameAsInput();
        rules["Neg"] = c => Unary(c, v => v is null ? null : DimExpr.Of(0) - v);
        rules["Abs"] = c => Unary(c, v => v?.Constant is { } k ? DimExpr.Of(Math.Abs(k)) : null);
        rules["Identity"] = c => c.SetOutput(0, c.Input(0));
        rules["Not"] = c => Unary(c, v => v?.Constant is { } k ? DimExpr.Of(k == 0 ? 1 : 0) : null);
        rules["IsNaN"] = c => c.SameAsInput(type: DataType.Bool);
        rules["IsInf"] = c => c.SameAsInput(type: DataType.Bool);
        rules["Cast"] = c => Cast(c, (DataType)c.Int("to", (long)DataType.Undefined));
        rules["CastLike"] = c => Cast(c, c.Type(1) ?? DataType.Undefined);
        rules["EyeLike"] = c => c.SameAsInput(type: c.HasAttribute("dtype") ? (DataType)c.Int("dtype", 1) : c.Type(0));
        rules["RandomNormalLike"] = c => c.SameAsInput(type: c.HasAttribute("dtype") ? (DataType)c.Int("dtype", 1) : c.Type(0));
        rules["RandomUniformLike"] = c => c.SameAsInput(type: c.HasAttribute("dtype") ? (DataType)c.Int("dtype", 1) : c.Type(0));

        rules["Add"] = c => Binary(c, (a, b) => a + b);
        rules["Sub"] = c => Binary(c, (a, b) => a - b);
        rules["Mul"] = c => Binary(c, (a, b) => a * b);
        rules["Div"] = c => Binary(c, Divide);
        rules["Mod"] = c => Binary(c, (a, b) => Modulo(a, b, c.Int("fmod", 0) != 0));
        rules["Pow"] = c => Binary(c, null);
        rules["BitShift"] = c => Binary(c, null);
        rules["BitwiseAnd"] = c => Binary(c, null);
        rules["BitwiseOr"] = c => Binary(c, null);
        rules["BitwiseXor"] = c => Binary(c, null);
        // The slope broadcasts; ONNX Runtime broadcasts it both ways, so a slope [C] on [N,C,1,1] gives [N,C,1,C].
        rules["PRelu"] = c => Binary(c, null);

        rules["Equal"] = c => Binary(c, (a, b) => a == b ? DimExpr.Of(1) : Compare(a, b, (x, y) => x == y), DataType.Bool);
        rules["Less"] = c => Binary(c, (a, b) => Compare(a, b, (x, y) => x < y), DataType.Bool);
        rules["LessOrEqual"] = c => Binary(c, (a, b) => a == b ? DimExpr.Of(1) : Compare(a, b, (x, y) => x <= y), DataType.Bool);
        rules["Greater"] = c => Binary(c, (a, b) => Compare(a, b, (x, y) => x > y), DataType.Bool);
        rules["GreaterOrEqual"] = c => Binary(c, (a, b) => a == b ? DimExpr.Of(1) : Compare(a, b, (x, y) => x >= y), DataType.Bool);
        rules["And"] = c => Binary(c, (a, b) => Compare(a, b, (x, y) => x != 0 && y != 0), DataType.Bool);
        rules["Or"] = c => Binary(c, (a, b) => Compare(a, b, (x, y) => x != 0 || y != 0), DataType.Bool);
        rules["Xor"] = c => Binary(c, (a, b) => Compare(a, b, (x, y) => (x != 0) != (y != 0)), DataType.Bool);

        rules["Max"] = c => Variadic(c, (a, b) => a == b ? a : a.Constant is { } x && b.Constant is { } y ? DimExpr.Of(Math.Max(x, y)) : null);
        rules["Min"] = c => Variadic(c, (a, b) => a == b ? a : a.Constant is { } x && b.Constant is { } y ? DimExpr.Of(Math.Min(x, y)) : null);
        rules["Sum"] = c => Variadic(c, (a, b) => a + b);
        rules["Mean"] = c => Variadic(c, null);
        rules["Where"] = Where;

        rules["BatchNormalization"] = BatchNormalization;
        rules["LayerNormalization"] = LayerNormalization;
        rules["Dropout"] = Dropout;
        rules["QuantizeLinear"] = QuantizeLinear;
        rules["DequantizeLinear"] = c => c.SameAsInput(type: c.Opset >= 19 ? c.Type(1) ?? DataType.Float : DataType.Float);
        rules["DynamicQuantizeLinear"] = c =>
        {
            c.SameAsInput(type: DataType.Uint8);
            c.SetOutput(1, DataType.Float, []);
            c.SetOutput(2, DataType.Uint8, []);
        };
    }

    private static void Unary(NodeContext c, Func<DimExpr?, DimExpr?> fold)
    {
        var x = c.Input(0);
        var values = x.Values is { } v && ShapeRules.IsIntegerOrBool(x.Type) ? Array.ConvertAll(v, e => fold(e)) : null;
        c.SetOutput(0, x.Type, x.Dims, values);
    }

    /// <summary>
    /// Cast keeps folded elements between integer types and into float or double: exporters round-trip
    /// shapes through float (Shape → Cast → Slice → Cast), and the elements stay whole numbers because
    /// arithmetic rules fold integer tensors only.
    /// </summary>
    private static void Cast(NodeContext c, DataType to)
    {
        var x = c.Input(0);
        DimExpr?[]? values = null;
        if (x.Values is { } v && (ShapeRules.IsIntegerOrBool(to) || to is DataType.Float or DataType.Double))
            values = to == DataType.Bool ? Array.ConvertAll(v, e => e?.Constant is { } k ? DimExpr.Of(k != 0 ? 1 : 0) : null) : v;
        c.SetOutput(0, to == DataType.Undefined ? null : to, x.Dims, values);
    }

    /// <summary>Numpy-broadcasting binary op; with <paramref name="fold"/>, integer elements are folded too.</summary>
    private static void Binary(NodeContext c, Func<DimExpr, DimExpr, DimExpr?>? fold, DataType? outputType = null)
    {
        var a = c.Input(0);
        var b = c.Input(1);
        var type = outputType ?? a.Type ?? b.Type;
        if (c.Opset < 7 && c.Int("broadcast", 0) != 0)
        {
            // Before opset 7 the second input broadcast to the first (attributes broadcast and axis).
            c.SetOutput(0, type, a.Dims);
            return;
        }
        var dims = a.Dims is null || b.Dims is null ? null : ShapeMath.Broadcast(a.Dims, b.Dims);
        var values = fold is null || !ShapeRules.IsIntegerOrBool(a.Type ?? b.Type) ? null : FoldBroadcast([a, b], dims, fold);
        c.SetOutput(0, type, dims, values);
    }

    private static void Variadic(NodeContext c, Func<DimExpr, DimExpr, DimExpr?>? fold)
    {
        var inputs = Enumerable.Range(0, c.InputCount).Where(c.HasInput).Select(c.Input).ToArray();
        if (inputs.Length == 0) return;
        var type = inputs[0].Type;
        var dims = ShapeMath.Broadcast(inputs.Select(i => i.Dims));
        var values = fold is null || !ShapeRules.IsIntegerOrBool(type) ? null : FoldBroadcast(inputs, dims, fold);
        c.SetOutput(0, type, dims, values);
    }

    private static void Where(NodeContext c)
    {
        var condition = c.Input(0);
        var x = c.Input(1);
        var y = c.Input(2);
        var type = x.Type ?? y.Type;
        var dims = ShapeMath.Broadcast([condition.Dims, x.Dims, y.Dims]);
        DimExpr?[]? values = null;
        if (ShapeRules.IsIntegerOrBool(type) && ShapeMath.AllConstant(dims) is { } shape && ShapeMath.IsFoldable(shape)
            && condition.Values is not null && x.Values is not null && y.Values is not null)
        {
            var cv = Expand(condition, shape);
            var xv = Expand(x, shape);
            var yv = Expand(y, shape);
            if (cv is not null && xv is not null && yv is not null)
            {
                values = new DimExpr?[cv.Length];
                for (int i = 0; i < values.Length; i++)
                    values[i] = cv[i]?.Constant is { } k ? (k != 0 ? xv[i] : yv[i]) : xv[i] is not null && xv[i] == yv[i] ? xv[i] : null;
            }
        }
        c.SetOutput(0, type, dims, values);
    }

    /// <summary>Folds elementwise over broadcast inputs whose elements are all available.</summary>
    private static DimExpr?[]? FoldBroadcast(IReadOnlyList<InferredTensor> inputs, DimExpr?[]? dims, Func<DimExpr, DimExpr, DimExpr?> fold)
    {
        if (ShapeMath.AllConstant(dims) is not { } shape || !ShapeMath.IsFoldable(shape)) return null;
        var expanded = new DimExpr?[inputs.Count][];
        for (int i = 0; i < inputs.Count; i++)
        {
            if (Expand(inputs[i], shape) is not { } e) return null;
            expanded[i] = e;
        }
        var result = expanded[0].ToArray();
        for (int i = 1; i < expanded.Length; i++)
            for (int j = 0; j < result.Length; j++)
                result[j] = result[j] is { } x && expanded[i][j] is { } y ? fold(x, y) : null;
        return result;
    }

    /// <summary>The elements of <paramref name="tensor"/> broadcast to <paramref name="shape"/>, or null.</summary>
    internal static DimExpr?[]? Expand(InferredTensor tensor, long[] shape)
    {
        if (tensor.Values is not { } values || ShapeMath.AllConstant(tensor.Dims) is not { } source || source.Length > shape.Length) return null;
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var result = new DimExpr?[count];
        var sourceStrides = ShapeMath.Strides(source);
        var index = new long[shape.Length];
        for (long flat = 0; flat < count; flat++)
        {
            long remaining = flat;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                index[axis] = remaining % shape[axis];
                remaining /= shape[axis];
            }
            long offset = 0;
            for (int axis = 0; axis < source.Length; axis++)
            {
                int target = axis + shape.Length - source.Length;
                long i = source[axis] == 1 ? 0 : index[target];
                if (source[axis] != 1 && source[axis] != shape[target]) return null;
                offset += i * sourceStrides[axis];
            }
            result[flat] = values[offset];
        }
        return result;
    }

    private static DimExpr? Divide(DimExpr a, DimExpr b)
    {
        if (a.Constant is { } x && b.Constant is { } y) return y == 0 ? null : DimExpr.Of(x / y);
        if (a.TryDivideExactly(b) is { } exact) return exact;
        // Integer division of shape values: dims are never negative, so truncation is a floor.
        return b.Constant is { } d && d > 0 ? a.FloorDiv(d) : null;
    }

    private static DimExpr? Modulo(DimExpr a, DimExpr b, bool fmod)
    {
        if (a.Constant is not { } x || b.Constant is not { } y || y == 0) return null;
        long r = x % y;
        if (!fmod && r != 0 && (r < 0) != (y < 0)) r += y;
        return DimExpr.Of(r);
    }

    private static DimExpr? Compare(DimExpr a, DimExpr b, Func<long, long, bool> compare) =>
        a.Constant is { } x && b.Constant is { } y ? DimExpr.Of(compare(x, y) ? 1 : 0) : null;

    private static void BatchNormalization(NodeContext c)
    {
        c.SameAsInput();
        // Extra outputs (running or saved mean and variance) are per channel, shaped like the scale.
        var channel = c.Dims(1) ?? (c.Dims(0) is { Length: >= 2 } x ? [x[1]] : null);
        for (int i = 1; i < c.OutputCount; i++) c.SetOutput(i, c.Type(1) ?? c.Type(0), channel);
    }

    private static void LayerNormalization(NodeContext c)
    {
        c.SameAsInput();
        var x = c.Dims(0);
        var stashType = (DataType)c.Int("stash_type", (long)DataType.Float);
        DimExpr?[]? reduced = null;
        if (x is not null && ShapeMath.Axis(c.Int("axis", -1), x.Length) is { } axis)
            reduced = x.Select((d, i) => i < axis ? d : DimExpr.Of(1)).ToArray();
        c.SetOutput(1, stashType, reduced);
        c.SetOutput(2, stashType, reduced);
    }

    private static void Dropout(NodeContext c)
    {
        c.SameAsInput();
        c.SetOutput(1, c.Opset >= 10 ? DataType.Bool : c.Type(0), c.Dims(0));
    }

    private static void QuantizeLinear(NodeContext c)
    {
        DataType? type = c.HasAttribute("output_dtype") && c.Int("output_dtype", 0) != 0 ? (DataType)c.Int("output_dtype", 0)
            : c.HasInput(2) ? c.Type(2) : DataType.Uint8;
        c.SameAsInput(type: type);
    }
}
