namespace OnnxConvTool.Shapes;

/// <summary>
/// Index arithmetic on the folded elements of small tensors (row-major, known dims), shared by the
/// layout rules that move elements without computing new ones.
/// </summary>
internal static class FoldedValues
{
    /// <summary>The sub-tensor that takes, along each axis, the listed indices in order.</summary>
    public static DimExpr?[] Select(DimExpr?[] values, long[] dims, long[][] picks)
    {
        var strides = ShapeMath.Strides(dims);
        long count = picks.Aggregate(1L, (a, p) => a * p.Length);
        var result = new DimExpr?[count];
        var position = new int[dims.Length];
        for (long flat = 0; flat < count; flat++)
        {
            long remaining = flat;
            for (int axis = dims.Length - 1; axis >= 0; axis--)
            {
                position[axis] = (int)(remaining % picks[axis].Length);
                remaining /= picks[axis].Length;
            }
            long offset = 0;
            for (int axis = 0; axis < dims.Length; axis++) offset += picks[axis][position[axis]] * strides[axis];
            result[flat] = values[offset];
        }
        return result;
    }

    /// <summary>Every index of each axis, to be narrowed on one axis with <see cref="Select"/>.</summary>
    public static long[][] All(long[] dims) => dims.Select(d => Range(0, d)).ToArray();

    public static long[] Range(long start, long count)
    {
        var result = new long[count];
        for (long i = 0; i < count; i++) result[i] = start + i;
        return result;
    }

    public static DimExpr?[] Transpose(DimExpr?[] values, long[] dims, int[] perm)
    {
        var outDims = perm.Select(p => dims[p]).ToArray();
        var inStrides = ShapeMath.Strides(dims);
        var result = new DimExpr?[values.Length];
        var position = new long[dims.Length];
        for (long flat = 0; flat < values.Length; flat++)
        {
            long remaining = flat;
            for (int axis = outDims.Length - 1; axis >= 0; axis--)
            {
                position[axis] = remaining % outDims[axis];
                remaining /= outDims[axis];
            }
            long offset = 0;
            for (int axis = 0; axis < perm.Length; axis++) offset += position[axis] * inStrides[perm[axis]];
            result[flat] = values[offset];
        }
        return result;
    }

    /// <summary>Concatenates tensors of equal rank along <paramref name="axis"/>.</summary>
    public static DimExpr?[] Concat(IReadOnlyList<(DimExpr?[] Values, long[] Dims)> parts, int axis)
    {
        long outer = parts[0].Dims.Take(axis).Aggregate(1L, (a, b) => a * b);
        var result = new List<DimExpr?>();
        for (long o = 0; o < outer; o++)
        {
            foreach (var (values, dims) in parts)
            {
                long block = dims.Skip(axis).Aggregate(1L, (a, b) => a * b);
                for (long i = 0; i < block; i++) result.Add(values[o * block + i]);
            }
        }
        return result.ToArray();
    }
}
