namespace OnnxConvTool.Shapes;

/// <summary>Dimension helpers shared by the shape rules: broadcasting, axes, products.</summary>
internal static class ShapeMath
{
    public static long[]? AllConstant(IReadOnlyList<DimExpr?>? dims)
    {
        if (dims is null) return null;
        var result = new long[dims.Count];
        for (int i = 0; i < result.Length; i++)
        {
            if (dims[i]?.Constant is not { } v) return null;
            result[i] = v;
        }
        return result;
    }

    public static DimExpr?[] Known(params long[] values) => Array.ConvertAll(values, v => (DimExpr?)DimExpr.Of(v));

    /// <summary>
    /// One dim of a numpy broadcast. A known 1 yields the other side; a known size above 1 wins over a
    /// symbol or an unknown (the other side must be that size or 1); equal dims stay; otherwise unknown.
    /// </summary>
    public static DimExpr? BroadcastDim(DimExpr? a, DimExpr? b)
    {
        if (a?.Constant == 1) return b;
        if (b?.Constant == 1) return a;
        if (a is not null && a == b) return a;
        if (a?.Constant is > 1 && b?.Constant is null) return a;
        if (b?.Constant is > 1 && a?.Constant is null) return b;
        return null;
    }

    /// <summary>Numpy multidirectional broadcast of several shapes; null when a rank is unknown.</summary>
    public static DimExpr?[]? Broadcast(IEnumerable<DimExpr?[]?> shapes)
    {
        DimExpr?[]? result = [];
        foreach (var shape in shapes)
        {
            if (shape is null) return null;
            result = Broadcast(result!, shape);
        }
        return result;
    }

    public static DimExpr?[] Broadcast(DimExpr?[] a, DimExpr?[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new DimExpr?[rank];
        for (int i = 0; i < rank; i++)
        {
            int ia = i - (rank - a.Length);
            int ib = i - (rank - b.Length);
            result[i] = ia < 0 ? b[ib] : ib < 0 ? a[ia] : BroadcastDim(a[ia], b[ib]);
        }
        return result;
    }

    /// <summary>Maps a possibly negative axis into [0, rank), or null when it is out of range.</summary>
    public static int? Axis(long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        return a >= 0 && a < rank ? (int)a : null;
    }

    /// <summary>Product of dims (symbolic where needed); null when one is unknown.</summary>
    public static DimExpr? Product(IEnumerable<DimExpr?> dims)
    {
        var product = DimExpr.Of(1);
        foreach (var d in dims)
        {
            if (d is null) return null;
            product *= d;
        }
        return product;
    }

    /// <summary>Dims that agree stay; others become unknown; a rank mismatch gives an unknown rank (for If branches, loop state).</summary>
    public static DimExpr?[]? Join(DimExpr?[]? a, DimExpr?[]? b)
    {
        if (a is null || b is null || a.Length != b.Length) return null;
        var result = new DimExpr?[a.Length];
        for (int i = 0; i < a.Length; i++) result[i] = a[i] is not null && a[i] == b[i] ? a[i] : null;
        return result;
    }

    public static bool SameDims(DimExpr?[]? a, DimExpr?[]? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return false;
        return true;
    }

    /// <summary>
    /// Slice's effective start and end on an axis of <paramref name="dim"/> elements: negative values count from the end,
    /// then both are clamped to [0, dim] for a positive step and to [0, dim − 1] / [−1, dim − 1] for a negative one.
    /// </summary>
    public static (long Start, long End) SliceBounds(long start, long end, long step, long dim)
    {
        if (dim == 0) return (0, 0);
        if (start < 0) start += dim;
        if (end < 0) end += dim;
        return step > 0
            ? (Math.Clamp(start, 0, dim), Math.Clamp(end, 0, dim))
            : (Math.Clamp(start, 0, dim - 1), Math.Clamp(end, -1, dim - 1));
    }

    /// <summary>Row-major strides of a shape of known dims.</summary>
    public static long[] Strides(long[] dims)
    {
        var strides = new long[dims.Length];
        long s = 1;
        for (int i = dims.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= dims[i];
        }
        return strides;
    }

    /// <summary>Whether a folded tensor of these dims is small enough to keep its elements.</summary>
    public static bool IsFoldable(long[]? dims)
    {
        if (dims is null || dims.Any(d => d < 0)) return false;
        if (dims.Contains(0)) return true;
        long count = 1;
        foreach (long d in dims)
        {
            if (d > InferredTensor.MaxFoldedElements) return false;
            count *= d;
            if (count > InferredTensor.MaxFoldedElements) return false;
        }
        return true;
    }
}
