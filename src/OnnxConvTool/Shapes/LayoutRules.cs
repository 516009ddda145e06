using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Ops that move elements around: Concat, Split, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Pad,
/// Slice, Expand, Tile, Gather*, DepthToSpace, SpaceToDepth, Resize, Upsample. Where their inputs are
/// folded shape tensors they fold their outputs too.
/// </summary>
internal static class LayoutRules
{
    /// <summary>Slice bounds at or beyond this mean "to the end" (exporters use INT32_MAX or INT64_MAX).</summary>
    private const long ToEnd = int.MaxValue;

    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        rules["Concat"] = Concat;
        rules["Split"] = Split;
        rules["Reshape"] = Reshape;
        rules["Flatten"] = Flatten;
        rules["Transpose"] = Transpose;
        rules["Squeeze"] = Squeeze;
        rules["Unsqueeze"] = Unsqueeze;
        rules["Pad"] = Pad;
        rules["Slice"] = Slice;
        rules["Expand"] = Expand;
        rules["Tile"] = Tile;
        rules["Gather"] = Gather;
        rules["GatherElements"] = c => c.SetOutput(0, c.Type(0), c.Dims(1));
        rules["GatherND"] = GatherND;
        rules["ScatterND"] = c => c.SameAsInput();
        rules["ScatterElements"] = c => c.SameAsInput();
        rules["Scatter"] = c => c.SameAsInput();
        rules["DepthToSpace"] = c => SpaceDepth(c, toSpace: true);
        rules["SpaceToDepth"] = c => SpaceDepth(c, toSpace: false);
        rules["Resize"] = Resize;
        rules["Upsample"] = Upsample;
    }

    /// <summary>Elements and known dims of a folded input, or null.</summary>
    internal static (DimExpr?[] Values, long[] Dims)? Folded(InferredTensor t) =>
        t.Values is { } v && ShapeMath.AllConstant(t.Dims) is { } d ? (v, d) : null;

    private static void Concat(NodeContext c)
    {
        var inputs = Enumerable.Range(0, c.InputCount).Where(c.HasInput).Select(c.Input).ToArray();
        var type = inputs.Select(i => i.Type).FirstOrDefault(t => t is not null);
        int? rank = inputs.Select(i => i.Rank).FirstOrDefault(r => r is not null);
        if (rank is not { } r || ShapeMath.Axis(c.Int("axis", 0), r) is not { } axis)
        {
            c.SetOutput(0, type, null);
            return;
        }
        var output = new DimExpr?[r];
        DimExpr? total = DimExpr.Of(0);
        foreach (var input in inputs)
            total = input.Dims is { } d && d.Length == r && d[axis] is { } size && total is not null ? total + size : null;
        for (int i = 0; i < r; i++)
        {
            if (i == axis)
            {
                output[i] = total;
                continue;
            }
            var candidates = inputs.Where(x => x.Dims is { } d && d.Length == r).Select(x => x.Dims![i]).Where(d => d is not null).ToArray();
            output[i] = candidates.FirstOrDefault(d => d!.IsConstant) ?? candidates.FirstOrDefault();
        }
        DimExpr?[]? values = null;
        var parts = inputs.Select(Folded).ToArray();
        if (parts.All(p => p is not null && p.Value.Dims.Length == r)) values = FoldedValues.Concat(parts.Select(p => p!.Value).ToArray(), axis);
        c.SetOutput(0, type, output, values);
    }

    private static void Split(NodeContext c)
    {
        var x = c.Input(0);
        int outputs = c.OutputCount;
        if (x.Dims is not { } dims || ShapeMath.Axis(c.Int("axis", 0), dims.Length) is not { } axis)
        {
            for (int i = 0; i < outputs; i++) c.SetOutput(i, x.Type, x.Dims is null ? null : new DimExpr?[x.Dims.Length]);
            return;
        }
        var sizes = new DimExpr?[outputs];
        var given = c.AttrOrInputInts("split", out bool present);
        if (present)
        {
            if (given is { } g && g.Length == outputs) sizes = ShapeMath.Known(g);
        }
        else if (dims[axis] is { } length)
        {
            // Without split sizes the axis divides evenly; from opset 18 (num_outputs) the last part may be smaller.
            var part = c.Opset >= 18 ? length.CeilDiv(outputs) : length.TryDivideExactly(DimExpr.Of(outputs)) ?? length.FloorDiv(outputs);
            for (int i = 0; i < outputs; i++) sizes[i] = i < outputs - 1 ? part : length - part * (outputs - 1);
        }
        var folded = Folded(x);
        long offset = 0;
        for (int i = 0; i < outputs; i++)
        {
            var shape = (DimExpr?[])dims.Clone();
            shape[axis] = sizes[i];
            DimExpr?[]? values = null;
            if (folded is { } f && sizes[i]?.Constant is { } size && offset >= 0)
            {
                var picks = FoldedValues.All(f.Dims);
                picks[axis] = FoldedValues.Range(offset, size);
                values = FoldedValues.Select(f.Values, f.Dims, picks);
            }
            offset = sizes[i]?.Constant is { } s ? offset + s : -1;
            c.SetOutput(i, x.Type, shape, values);
        }
    }

    private static void Reshape(NodeContext c)
    {
        var x = c.Input(0);
        DimExpr?[]? target;
        target = c.AttrOrInputValues("shape", out _);
        // A computed shape of known length at least gives the output's rank.
        if (target is null && c.InputIndexOf("shape") is var shapeInput and >= 0 && c.Dims(shapeInput) is [{ Constant: { } length }])
            target = new DimExpr?[length];
        if (target is null)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        bool allowZero = c.Opset >= 14 && c.Int("allowzero", 0) != 0;
        var output = new DimExpr?[target.Length];
        int inferred = -1;
        bool valid = true;
        for (int i = 0; i < target.Length; i++)
        {
            var t = target[i];
            if (t?.Constant == 0 && !allowZero) output[i] = x.Dims is { } d && i < d.Length ? d[i] : null;
            else if (t?.Constant == -1 && inferred < 0) inferred = i;
            else if (t?.Constant < 0) valid = false;
            else output[i] = t;
        }
        if (!valid)
        {
            c.SetOutput(0, x.Type, new DimExpr?[target.Length]);
            return;
        }
        if (inferred >= 0)
        {
            var total = x.Dims is null ? null : ShapeMath.Product(x.Dims);
            var known = ShapeMath.Product(output.Where((_, i) => i != inferred));
            output[inferred] = total is null || known is null ? null
                : known.Constant == 0 ? null
                : total.TryDivideExactly(known);
        }
        c.SetOutput(0, x.Type, output, x.Values);
    }

    private static void Flatten(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is not { } dims)
        {
            c.SetOutput(0, x.Type, [null, null]);
            return;
        }
        long axis = c.Int("axis", 1);
        if (axis < 0) axis += dims.Length;
        if (axis < 0 || axis > dims.Length)
        {
            c.SetOutput(0, x.Type, [null, null]);
            return;
        }
        c.SetOutput(0, x.Type, [ShapeMath.Product(dims.Take((int)axis)), ShapeMath.Product(dims.Skip((int)axis))], x.Values);
    }

    private static void Transpose(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is not { } dims)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        var permAttribute = c.Ints("perm");
        int[] perm = permAttribute is null ? Enumerable.Range(0, dims.Length).Reverse().ToArray() : permAttribute.Select(p => (int)p).ToArray();
        if (perm.Length != dims.Length || perm.Any(p => p < 0 || p >= dims.Length) || perm.Distinct().Count() != perm.Length)
        {
            c.SetOutput(0, x.Type, new DimExpr?[dims.Length]);
            return;
        }
        DimExpr?[]? values = Folded(x) is { } f ? FoldedValues.Transpose(f.Values, f.Dims, perm) : null;
        c.SetOutput(0, x.Type, perm.Select(p => dims[p]).ToArray(), values);
    }

    private static void Squeeze(NodeContext c)
    {
        var x = c.Input(0);
        var axes = c.AttrOrInputInts("axes", out bool present);
        if (x.Dims is not { } dims || (present && axes is null))
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        var remove = new HashSet<int>();
        if (axes is null || axes.Length == 0)
        {
            // No axes: every dim of size 1 goes, which needs every dim known.
            for (int i = 0; i < dims.Length; i++)
            {
                if (dims[i] is not { IsConstant: true } d)
                {
                    c.SetOutput(0, x.Type, null);
                    return;
                }
                if (d.Constant == 1) remove.Add(i);
            }
        }
        else
        {
            foreach (long a in axes)
            {
                if (ShapeMath.Axis(a, dims.Length) is not { } axis) return;
                remove.Add(axis);
            }
        }
        c.SetOutput(0, x.Type, dims.Where((_, i) => !remove.Contains(i)).ToArray(), x.Values);
    }

    private static void Unsqueeze(NodeContext c)
    {
        var x = c.Input(0);
        var axes = c.AttrOrInputInts("axes", out _);
        if (x.Dims is not { } dims || axes is null)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        int rank = dims.Length + axes.Length;
        var inserted = new HashSet<int>();
        foreach (long a in axes)
            if (ShapeMath.Axis(a, rank) is not { } axis || !inserted.Add(axis)) return;
        var output = new DimExpr?[rank];
        int next = 0;
        for (int i = 0; i < rank; i++) output[i] = inserted.Contains(i) ? DimExpr.Of(1) : dims[next++];
        c.SetOutput(0, x.Type, output, x.Values);
    }

    private static void Pad(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is not { } dims)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        DimExpr?[]? pads = c.AttrOrInputValues("pads", out _);
        int[] axes = Enumerable.Range(0, dims.Length).ToArray();
        if (c.Opset >= 18 && c.HasInput(3))
        {
            if (c.ConstInts(3) is not { } given)
            {
                c.SetOutput(0, x.Type, new DimExpr?[dims.Length]);
                return;
            }
            axes = given.Select(a => ShapeMath.Axis(a, dims.Length) ?? -1).ToArray();
        }
        if (pads is null || pads.Length != 2 * axes.Length || axes.Any(a => a < 0))
        {
            c.SetOutput(0, x.Type, new DimExpr?[dims.Length]);
            return;
        }
        var output = (DimExpr?[])dims.Clone();
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = axes[i];
            output[axis] = dims[axis] is { } d && pads[i] is { } begin && pads[i + axes.Length] is { } end ? d + begin + end : null;
        }
        c.SetOutput(0, x.Type, output);
    }

    private static void Slice(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is not { } dims)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        DimExpr?[]? starts = c.AttrOrInputValues("starts", out _);
        DimExpr?[]? ends = c.AttrOrInputValues("ends", out _);
        long[]? axes = c.AttrOrInputInts("axes", out bool axesGiven);
        long[]? steps = c.AttrOrInputInts("steps", out bool stepsGiven);
        if ((axesGiven && axes is null) || (stepsGiven && steps is null)) starts = null;
        if (starts is null || ends is null || starts.Length != ends.Length)
        {
            c.SetOutput(0, x.Type, new DimExpr?[dims.Length]);
            return;
        }
        axes ??= FoldedValues.Range(0, starts.Length);
        steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
        if (axes.Length != starts.Length || steps.Length != starts.Length || steps.Any(s => s == 0))
        {
            c.SetOutput(0, x.Type, new DimExpr?[dims.Length]);
            return;
        }

        var output = (DimExpr?[])dims.Clone();
        var folded = Folded(x);
        // Folding needs the first index and count on every sliced axis.
        var picks = folded is { } f ? FoldedValues.All(f.Dims) : null;
        for (int i = 0; i < axes.Length; i++)
        {
            if (ShapeMath.Axis(axes[i], dims.Length) is not { } axis)
            {
                c.SetOutput(0, x.Type, new DimExpr?[dims.Length]);
                return;
            }
            output[axis] = SliceLength(dims[axis], starts[i], ends[i], steps[i], out long? first);
            if (picks is null) continue;
            if (first is { } start && output[axis]?.Constant is { } count)
            {
                long step = steps[i];
                picks[axis] = Enumerable.Range(0, (int)count).Select(k => start + k * step).ToArray();
            }
            else
            {
                picks = null;
            }
        }
        DimExpr?[]? values = folded is { } fv && picks is not null ? FoldedValues.Select(fv.Values, fv.Dims, picks) : null;
        c.SetOutput(0, x.Type, output, values);
    }

    /// <summary>
    /// Length of one sliced axis. For a known dim this is the ONNX rule with clamping (and
    /// <paramref name="first"/> is the first index taken). For a symbolic dim the bounds are taken to
    /// lie within the dim (as exporters intend), so <c>x[k:]</c> gives <c>N-k</c> and <c>x[:k]</c> gives k.
    /// </summary>
    internal static DimExpr? SliceLength(DimExpr? dim, DimExpr? startExpr, DimExpr? endExpr, long step, out long? first)
    {
        first = null;
        if (dim is null || startExpr is null || endExpr is null) return null;
        bool endIsDim = endExpr == dim;
        if (dim.Constant is { } n && startExpr.Constant is { } start && (endExpr.Constant is not null || endIsDim))
        {
            long end = endIsDim ? n : endExpr.Constant!.Value;
            if (n == 0) return DimExpr.Of(0);
            (start, end) = ShapeMath.SliceBounds(start, end, step, n);
            long count = step > 0 ? (end - start + step - 1) / step : (start - end - step - 1) / -step;
            count = Math.Max(0, count);
            first = start;
            return DimExpr.Of(count);
        }
        if (startExpr.Constant is not { } s) return null;
        if (step > 0)
        {
            DimExpr begin = s >= ToEnd ? dim : s < 0 ? dim + s : DimExpr.Of(s);
            DimExpr? finish = endIsDim || endExpr.Constant >= ToEnd ? dim
                : endExpr.Constant is { } e ? (e < 0 ? dim + e : DimExpr.Of(e)) : null;
            return finish is null ? null : (finish - begin).CeilDiv(step);
        }
        else
        {
            DimExpr begin = s >= ToEnd ? dim - 1 : s < 0 ? dim + s : DimExpr.Of(s);
            DimExpr? finish = endExpr.Constant is { } e ? (e <= -ToEnd ? DimExpr.Of(-1) : e < 0 ? dim + e : DimExpr.Of(e)) : null;
            return finish is null ? null : (begin - finish).CeilDiv(-step);
        }
    }

    private static void Expand(NodeContext c)
    {
        var x = c.Input(0);
        var shape = c.Values(1) ?? (c.Dims(1) is [{ Constant: { } length }] ? new DimExpr?[length] : null);
        if (x.Dims is null || shape is null)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        var output = ShapeMath.Broadcast(x.Dims, shape);
        var values = ShapeMath.AllConstant(output) is { } d && ShapeMath.IsFoldable(d) ? ElementwiseRules.Expand(x, d) : null;
        c.SetOutput(0, x.Type, output, values);
    }

    private static void Tile(NodeContext c)
    {
        var x = c.Input(0);
        var repeats = c.Values(1);
        if (x.Dims is not { } dims || repeats is null || repeats.Length != dims.Length)
        {
            c.SetOutput(0, x.Type, x.Dims is null ? null : new DimExpr?[x.Dims.Length]);
            return;
        }
        c.SetOutput(0, x.Type, dims.Select((d, i) => d is not null && repeats[i] is { } r ? d * r : null).ToArray());
    }

    private static void Gather(NodeContext c)
    {
        var data = c.Input(0);
        var indices = c.Input(1);
        if (data.Dims is not { } dims || indices.Dims is not { } indexDims || ShapeMath.Axis(c.Int("axis", 0), dims.Length) is not { } axis)
        {
            c.SetOutput(0, data.Type, null);
            return;
        }
        var output = dims.Take(axis).Concat(indexDims).Concat(dims.Skip(axis + 1)).ToArray();
        DimExpr?[]? values = null;
        if (Folded(data) is { } f && ShapeMath.AllConstant(indices.Values) is { } picked)
        {
            long size = f.Dims[axis];
            var normalized = picked.Select(i => i < 0 ? i + size : i).ToArray();
            if (normalized.All(i => i >= 0 && i < size))
            {
                var picks = FoldedValues.All(f.Dims);
                picks[axis] = normalized;
                values = FoldedValues.Select(f.Values, f.Dims, picks);
            }
        }
        c.SetOutput(0, data.Type, output, values);
    }

    private static void GatherND(NodeContext c)
    {
        var data = c.Dims(0);
        var indices = c.Dims(1);
        long batchDims = c.Int("batch_dims", 0);
        if (data is null || indices is not { Length: > 0 } || indices[^1]?.Constant is not { } last || batchDims + last > data.Length)
        {
            c.SetOutput(0, c.Type(0), null);
            return;
        }
        c.SetOutput(0, c.Type(0), indices.Take(indices.Length - 1).Concat(data.Skip((int)(batchDims + last))).ToArray());
    }

    private static void SpaceDepth(NodeContext c, bool toSpace)
    {
        var x = c.Dims(0);
        long block = c.Int("blocksize", 0);
        if (x is not { Length: 4 } || block <= 0)
        {
            c.SetOutput(0, c.Type(0), x is null ? null : new DimExpr?[x.Length]);
            return;
        }
        long area = checked(block * block);
        c.SetOutput(0, c.Type(0), toSpace
            ? [x[0], Divide(x[1], area), Multiply(x[2], block), Multiply(x[3], block)]
            : [x[0], Multiply(x[1], area), Divide(x[2], block), Divide(x[3], block)]);
    }

    private static DimExpr? Multiply(DimExpr? dim, long factor) => dim is null ? null : dim * factor;

    /// <summary>An exact division (the op requires the dim to be a multiple).</summary>
    private static DimExpr? Divide(DimExpr? dim, long divisor) => dim?.TryDivideExactly(DimExpr.Of(divisor)) ?? dim?.FloorDiv(divisor);

    private static void Resize(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is not { } dims)
        {
            c.SetOutput(0, x.Type, null);
            return;
        }
        int scalesIndex = c.InputIndexOf("scales");
        int sizesIndex = c.InputIndexOf("sizes");
        int[] axes = Enumerable.Range(0, dims.Length).ToArray();
        if (c.Opset >= 18 && c.Ints("axes") is { } axesAttribute)
            axes = axesAttribute.Select(a => ShapeMath.Axis(a, dims.Length) ?? -1).ToArray();
        var output = new DimExpr?[dims.Length];
        for (int i = 0; i < dims.Length; i++) output[i] = axes.Contains(i) ? null : dims[i];

        if (sizesIndex >= 0 && c.HasInput(sizesIndex) && !IsEmpty(c.Input(sizesIndex)))
        {
            var sizes = c.Values(sizesIndex);
            string policy = c.Opset >= 18 ? c.String("keep_aspect_ratio_policy", "stretch") : "stretch";
            if (sizes is not null && sizes.Length == axes.Length && axes.All(a => a >= 0))
            {
                if (policy == "stretch")
                {
                    for (int i = 0; i < axes.Length; i++) output[axes[i]] = sizes[i];
                }
                else if (ShapeMath.AllConstant(sizes) is { } s && axes.All(a => dims[a]?.IsConstant == true))
                {
                    // not_larger / not_smaller: one scale for all axes, the min or max of the per-axis ratios.
                    var ratios = axes.Select((a, i) => (double)s[i] / dims[a]!.Constant!.Value).ToArray();
                    double scale = policy == "not_larger" ? ratios.Min() : ratios.Max();
                    foreach (int a in axes) output[a] = DimExpr.Of((long)Math.Round(scale * dims[a]!.Constant!.Value, MidpointRounding.ToEven));
                }
            }
            c.SetOutput(0, x.Type, output);
            return;
        }
        var scales = c.HasInput(scalesIndex) ? c.ConstDoubles(scalesIndex) : null;
        if (scales is not null && scales.Length == axes.Length && axes.All(a => a >= 0))
            for (int i = 0; i < axes.Length; i++) output[axes[i]] = ScaleDim(dims[axes[i]], scales[i]);
        c.SetOutput(0, x.Type, output);
    }

    private static void Upsample(NodeContext c)
    {
        var x = c.Input(0);
        int scalesInput = c.InputIndexOf("scales");
        var scales = scalesInput < 0 ? c.Node.GetFloats("scales")?.Select(f => (double)f).ToArray() : c.ConstDoubles(scalesInput);
        if (x.Dims is not { } dims || scales is null || scales.Length != dims.Length)
        {
            c.SetOutput(0, x.Type, x.Dims is null ? null : new DimExpr?[x.Dims.Length]);
            return;
        }
        c.SetOutput(0, x.Type, dims.Select((d, i) => ScaleDim(d, scales[i])).ToArray());
    }

    private static bool IsEmpty(InferredTensor t) => t.Dims is { } d && d.Any(x => x?.Constant == 0);

    /// <summary>
    /// <c>floor(dim * scale)</c> computed in float as ONNX Runtime does. For a symbolic dim only scales
    /// that are whole numbers, or reciprocals of whole numbers that float rounds up, give an expression.
    /// </summary>
    internal static DimExpr? ScaleDim(DimExpr? dim, double scale)
    {
        if (dim is null || scale <= 0 || double.IsNaN(scale) || double.IsInfinity(scale)) return null;
        float s = (float)scale;
        if (dim.Constant is { } n) return DimExpr.Of((long)MathF.Floor(n * s));
        if (s == MathF.Round(s)) return dim * (long)s;
        double inverse = Math.Round(1.0 / s);
        if (inverse >= 2 && inverse <= int.MaxValue && (float)(1.0 / inverse) == s && (double)s * inverse >= 1.0)
            return dim.FloorDiv((long)inverse);
        return null;
    }
}
