using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Numerics;

using DataType = TensorProto.Types.DataType;

/// <summary>The outputs a node computes from constants, and for arithmetic on floats the largest deviation of a stored result from its float64 value in ULPs.</summary>
internal sealed record ConstantResult(IReadOnlyList<ConstantTensor> Outputs, double? DeviationUlps);

/// <summary>Why a node cannot be evaluated ahead of time: one sentence for reports.</summary>
internal sealed class ConstantRefusal(string reason) : Exception(reason);

/// <summary>
/// Computes what a default-domain node yields when its inputs are known, with the semantics of the model's opset:
/// Shape, Size, Gather, Unsqueeze, Squeeze, Concat, Slice, Split, Reshape, Transpose, Cast, ConstantOfShape, Range,
/// Add, Sub, Mul, Div, Equal and Not. Floating-point arithmetic is done in float64 and rounded once into the element
/// type, which is the IEEE result of the op for float, float16 and bfloat16. Anything whose result the spec leaves
/// to the runtime (integer overflow or division by zero, a float cast out of an integer's range, out-of-range
/// indices) is refused with a <see cref="ConstantRefusal"/>.
/// </summary>
internal sealed class ConstantEvaluator(Node node, int opset, Func<Value, ConstantTensor?> constantOf, Func<Value, long[]?> staticDims, long maxElements)
{
    /// <summary>The op types <see cref="Evaluate"/> knows.</summary>
    public static readonly IReadOnlySet<string> OpTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "Shape", "Size", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Split", "Reshape", "Transpose", "Cast",
        "ConstantOfShape", "Range", "Add", "Sub", "Mul", "Div", "Equal", "Not",
    };

    /// <summary>The node's outputs, each of at most the caller's element limit.</summary>
    /// <exception cref="ConstantRefusal">The node cannot be evaluated, or an output is over the limit; the message says why.</exception>
    public ConstantResult Evaluate()
    {
        var result = Compute();
        foreach (var output in result.Outputs) CheckedCount(output.Dims);
        return result;
    }

    private ConstantResult Compute() => node.OpType switch
    {
        "Shape" => One(Shape()),
        "Size" => One(ConstantTensor.OfIntegers(DataType.Int64, [], [WeightMath.ElementCount(DimsOf(0))])),
        "Gather" => One(Gather()),
        "Unsqueeze" => One(Unsqueeze()),
        "Squeeze" => One(Squeeze()),
        "Concat" => One(Concat()),
        "Slice" => One(Slice()),
        "Split" => new ConstantResult(Split(), null),
        "Reshape" => One(Reshape()),
        "Transpose" => One(Transpose()),
        "Cast" => One(Cast()),
        "ConstantOfShape" => One(ConstantOfShape()),
        "Range" => One(Range()),
        "Add" or "Sub" or "Mul" or "Div" => Arithmetic(),
        "Equal" => One(Equal()),
        "Not" => One(Not()),
        _ => throw new ConstantRefusal($"{node.OpType} is not evaluated ahead of time"),
    };

    private static ConstantResult One(ConstantTensor output) => new([output], null);

    /// <summary>Refuses, before anything is allocated, an output of more than the caller's element limit (or whose count overflows).</summary>
    private long CheckedCount(IReadOnlyList<long> dims)
    {
        long count = 1;
        foreach (long d in dims)
        {
            if (d != 0 && count > long.MaxValue / d) throw TooLarge(double.PositiveInfinity);
            count *= d;
        }
        return count <= maxElements ? count : throw TooLarge(count);
    }

    private ConstantRefusal TooLarge(double count) =>
        new(double.IsInfinity(count)
            ? $"'{node.DisplayName}' would store more than the {maxElements:N0} elements a constant fold may write"
            : $"'{node.DisplayName}' would store {count:N0} elements, more than the {maxElements:N0} a constant fold may write");

    private ConstantTensor Input(int index) =>
        node.Input(index) is { } value
            ? constantOf(value) ?? throw new ConstantRefusal($"input '{value.Name}' of '{node.DisplayName}' is not a constant")
            : throw new ConstantRefusal($"'{node.DisplayName}' lacks input {index}");

    private ConstantTensor? OptionalInput(int index) => node.Input(index) is null ? null : Input(index);

    private long[] DimsOf(int index)
    {
        var value = node.Input(index) ?? throw new ConstantRefusal($"'{node.DisplayName}' lacks input {index}");
        return staticDims(value) ?? throw new ConstantRefusal($"the shape of '{value.Name}' is not known ahead of time");
    }

    private long[] Ints(ConstantTensor tensor, string what) =>
        tensor.AsIndices() ?? throw new ConstantRefusal($"the {what} of '{node.DisplayName}' are {ElementTypes.Name(tensor.Type)}, not integers");

    /// <summary>An int list that is an attribute at older opsets and an input at newer ones (null when absent).</summary>
    private long[]? AttrOrInputInts(string name)
    {
        var read = AttrOrInput.Ints(node, name, opset, value => constantOf(value)?.AsIndices());
        if (read.Source == AttrOrInputSource.DynamicInput) throw new ConstantRefusal($"the {name} of '{node.DisplayName}' are not constant");
        return read.Values;
    }

    private static int Axis(long axis, int rank, string what) =>
        ShapeMath.Axis(axis, rank) ?? throw new ConstantRefusal($"{what} {axis} is out of range for rank {rank}");

    private ConstantTensor Shape()
    {
        var dims = DimsOf(0);
        int rank = dims.Length;
        long start = opset >= OpsetVersion.ShapeStartEnd ? node.GetInt("start", 0) : 0;
        long end = opset >= OpsetVersion.ShapeStartEnd ? node.GetInt("end", rank) : rank;
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        start = Math.Clamp(start, 0, rank);
        end = Math.Clamp(end, 0, rank);
        var picked = dims.Skip((int)start).Take((int)Math.Max(0, end - start)).ToArray();
        return ConstantTensor.OfIntegers(DataType.Int64, [picked.Length], picked);
    }

    private ConstantTensor Gather()
    {
        var data = Input(0);
        var indices = Ints(Input(1), "indices");
        int axis = Axis(node.GetInt("axis", 0), data.Rank, "axis");
        long dim = data.Dims[axis];
        var indexDims = Input(1).Dims;
        long outer = WeightMath.ElementCount(data.Dims[..axis]), inner = WeightMath.ElementCount(data.Dims[(axis + 1)..]);
        var outDims = data.Dims[..axis].Concat(indexDims).Concat(data.Dims[(axis + 1)..]).ToArray();
        var sources = new long[CheckedCount(outDims)];
        long k = 0;
        for (long o = 0; o < outer; o++)
            foreach (long raw in indices)
            {
                long index = raw < 0 ? raw + dim : raw;
                if (index < 0 || index >= dim) throw new ConstantRefusal($"index {raw} of '{node.DisplayName}' is out of range for a dim of {dim}");
                for (long i = 0; i < inner; i++) sources[k++] = (o * dim + index) * inner + i;
            }
        return data.Pick(outDims, sources);
    }

    private ConstantTensor Unsqueeze()
    {
        var data = Input(0);
        var axes = AttrOrInputInts("axes") ?? throw new ConstantRefusal($"'{node.DisplayName}' has no axes");
        int rank = data.Rank + axes.Length;
        var inserted = axes.Select(a => Axis(a, rank, "axis")).ToHashSet();
        if (inserted.Count != axes.Length) throw new ConstantRefusal($"'{node.DisplayName}' repeats an axis");
        var dims = new long[rank];
        int next = 0;
        for (int i = 0; i < rank; i++) dims[i] = inserted.Contains(i) ? 1 : data.Dims[next++];
        return data.WithDims(dims);
    }

    private ConstantTensor Squeeze()
    {
        var data = Input(0);
        var axes = AttrOrInputInts("axes");
        var removed = axes is null
            ? Enumerable.Range(0, data.Rank).Where(i => data.Dims[i] == 1).ToHashSet()
            : axes.Select(a => Axis(a, data.Rank, "axis")).ToHashSet();
        foreach (int axis in removed)
            if (data.Dims[axis] != 1) throw new ConstantRefusal($"'{node.DisplayName}' squeezes axis {axis} of size {data.Dims[axis]}");
        return data.WithDims(data.Dims.Where((_, i) => !removed.Contains(i)).ToArray());
    }

    private ConstantTensor Concat()
    {
        var parts = Enumerable.Range(0, node.Inputs.Count).Select(Input).ToArray();
        var first = parts[0];
        int axis = Axis(node.GetInt("axis", 0), first.Rank, "axis");
        foreach (var part in parts)
            if (part.Type != first.Type || part.Rank != first.Rank || Enumerable.Range(0, first.Rank).Any(i => i != axis && part.Dims[i] != first.Dims[i]))
                throw new ConstantRefusal($"the inputs of '{node.DisplayName}' do not line up");
        long outer = WeightMath.ElementCount(first.Dims[..axis]);
        var dims = (long[])first.Dims.Clone();
        dims[axis] = parts.Sum(p => p.Dims[axis]);
        var blocks = parts.Select(p => WeightMath.ElementCount(p.Dims[axis..])).ToArray();
        var reals = first.IsReal ? new double[WeightMath.ElementCount(dims)] : null;
        var ints = first.IsReal ? null : new long[WeightMath.ElementCount(dims)];
        long k = 0;
        for (long o = 0; o < outer; o++)
            for (int p = 0; p < parts.Length; p++)
                for (long i = 0; i < blocks[p]; i++, k++)
                {
                    long source = o * blocks[p] + i;
                    if (reals is not null) reals[k] = parts[p].Reals![source];
                    else ints![k] = parts[p].Integers![source];
                }
        return reals is not null ? ConstantTensor.OfReals(first.Type, dims, reals) : ConstantTensor.OfIntegers(first.Type, dims, ints!);
    }

    /// <summary>Slice: attributes starts/ends/axes before opset 10, inputs (with steps) since; starts and ends clamped as the spec says.</summary>
    private ConstantTensor Slice()
    {
        var data = Input(0);
        var starts = AttrOrInputInts("starts") ?? throw new ConstantRefusal($"'{node.DisplayName}' has no starts");
        var ends = AttrOrInputInts("ends") ?? throw new ConstantRefusal($"'{node.DisplayName}' has no ends");
        var axes = AttrOrInputInts("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = (opset >= OpsetVersion.SliceInputs ? AttrOrInputInts("steps") : null) ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
            throw new ConstantRefusal($"the starts, ends, axes and steps of '{node.DisplayName}' differ in length");
        int rank = data.Rank;
        var picks = Enumerable.Range(0, rank).Select(i => Ranges.Sequence(0, data.Dims[i], 1)).ToArray();
        var seen = new HashSet<int>();
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = Axis(axes[i], rank, "axis");
            if (!seen.Add(axis)) throw new ConstantRefusal($"'{node.DisplayName}' slices axis {axis} twice");
            long dim = data.Dims[axis], step = steps[i];
            if (step == 0) throw new ConstantRefusal($"'{node.DisplayName}' has a step of 0");
            var (start, end) = ShapeMath.SliceBounds(starts[i], ends[i], step, dim);
            picks[axis] = Ranges.Sequence(start, end, step);
        }
        return Select(data, picks);
    }

    /// <summary>Split: sizes from attribute <c>split</c> (before 13), input 1 (since 13), or <c>num_outputs</c> (since 18), else equal parts.</summary>
    private IReadOnlyList<ConstantTensor> Split()
    {
        var data = Input(0);
        int axis = Axis(node.GetInt("axis", 0), data.Rank, "axis");
        long dim = data.Dims[axis];
        int count = node.Outputs.Count;
        var sizes = AttrOrInputInts("split");
        if (sizes is null)
        {
            if (opset >= OpsetVersion.SplitNumOutputs && node.HasAttribute("num_outputs"))
            {
                long chunk = (dim + count - 1) / count;
                sizes = Enumerable.Range(0, count).Select(i => Math.Max(0, Math.Min(chunk, dim - i * chunk))).ToArray();
            }
            else if (dim % count == 0) sizes = Enumerable.Repeat(dim / count, count).ToArray();
            else throw new ConstantRefusal($"'{node.DisplayName}' cannot split a dim of {dim} into {count} equal parts");
        }
        if (sizes.Length != count || sizes.Any(s => s < 0) || sizes.Sum() != dim)
            throw new ConstantRefusal($"the split sizes of '{node.DisplayName}' do not add up to the dim {dim}");
        var outputs = new List<ConstantTensor>();
        long offset = 0;
        foreach (long size in sizes)
        {
            var picks = Enumerable.Range(0, data.Rank).Select(i => Ranges.Sequence(0, data.Dims[i], 1)).ToArray();
            picks[axis] = Ranges.Sequence(offset, offset + size, 1);
            outputs.Add(Select(data, picks));
            offset += size;
        }
        return outputs;
    }

    /// <summary>The sub-tensor taking, along each axis, the listed indices in order.</summary>
    private static ConstantTensor Select(ConstantTensor data, long[][] picks)
    {
        var strides = ShapeMath.Strides(data.Dims);
        return data.Pick(picks.Select(p => (long)p.Length).ToArray(), Sources(picks.Select((p, axis) => Array.ConvertAll(p, i => i * strides[axis])).ToArray()));
    }

    /// <summary>Reshape: shape attribute before opset 5, input since; 0 copies the input's dim (unless allowzero, opset 14), -1 is inferred.</summary>
    private ConstantTensor Reshape()
    {
        var data = Input(0);
        var shape = AttrOrInputInts("shape") ?? throw new ConstantRefusal($"'{node.DisplayName}' has no shape");
        bool allowZero = opset >= 14 && node.GetInt("allowzero", 0) != 0;
        var dims = new long[shape.Length];
        int inferred = -1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (inferred >= 0) throw new ConstantRefusal($"the shape of '{node.DisplayName}' has two -1 dims");
                inferred = i;
                dims[i] = 1;
            }
            else if (shape[i] == 0 && !allowZero)
                dims[i] = i < data.Rank ? data.Dims[i] : throw new ConstantRefusal($"the shape of '{node.DisplayName}' copies dim {i} the input lacks");
            else if (shape[i] < 0) throw new ConstantRefusal($"the shape of '{node.DisplayName}' has a dim {shape[i]}");
            else dims[i] = shape[i];
        }
        long known = WeightMath.ElementCount(dims);
        if (inferred >= 0)
        {
            if (known == 0 || data.Count % known != 0) throw new ConstantRefusal($"'{node.DisplayName}' cannot infer its -1 dim");
            dims[inferred] = data.Count / known;
        }
        if (WeightMath.ElementCount(dims) != data.Count)
            throw new ConstantRefusal($"'{node.DisplayName}' reshapes {data.Count} elements into {WeightMath.ElementCount(dims)}");
        return data.WithDims(dims);
    }

    private ConstantTensor Transpose()
    {
        var data = Input(0);
        var perm = node.GetInts("perm") ?? Enumerable.Range(0, data.Rank).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != data.Rank || perm.Order().Where((p, i) => p != i).Any())
            throw new ConstantRefusal($"the perm of '{node.DisplayName}' is not a permutation of {data.Rank} axes");
        var strides = ShapeMath.Strides(data.Dims);
        var dims = perm.Select(p => data.Dims[p]).ToArray();
        return data.Pick(dims, StridedSources(dims, perm.Select(p => strides[p]).ToArray()));
    }

    /// <summary>
    /// Cast between float, double, float16, bfloat16, the integer types and bool: floats round once to nearest even,
    /// floats to integers truncate toward zero (refused when the value does not fit), integers narrow by wrapping,
    /// anything to bool is "not zero". int64 values beyond 2^53 to a float type are refused (they would round twice).
    /// </summary>
    private ConstantTensor Cast()
    {
        var data = Input(0);
        var to = (DataType)node.GetInt("to", 0);
        if (!ConstantTensor.IsSupported(to)) throw new ConstantRefusal($"'{node.DisplayName}' casts to {ElementTypes.Name(to)}, which is not evaluated ahead of time");
        long count = data.Count;
        if (ElementTypes.IsFloatingPoint(to))
        {
            var reals = new double[count];
            for (long i = 0; i < count; i++)
            {
                double v = data.RealAt(i);
                if (!data.IsReal && Math.Abs(data.Integers![i]) > (1L << 53))
                    throw new ConstantRefusal($"'{node.DisplayName}' casts {data.Integers[i]}, beyond 2^53, to {ElementTypes.Name(to)}");
                if (FloatElements.Overflows(to, v)) throw new ConstantRefusal($"'{node.DisplayName}' casts {v} out of the range of {ElementTypes.Name(to)}");
                reals[i] = FloatElements.Round(to, v);
            }
            return ConstantTensor.OfReals(to, data.Dims, reals);
        }
        var ints = new long[count];
        var (min, max) = ConstantTensor.IntegerRange(to);
        for (long i = 0; i < count; i++)
        {
            if (to == DataType.Bool)
            {
                ints[i] = data.RealAt(i) != 0 ? 1 : 0;
                continue;
            }
            if (data.IsReal)
            {
                double v = Math.Truncate(data.Reals![i]);
                if (double.IsNaN(v) || v < min || v > max)
                    throw new ConstantRefusal($"'{node.DisplayName}' casts {data.Reals[i]} out of the range of {ElementTypes.Name(to)}");
                ints[i] = (long)v;
                continue;
            }
            if (data.Type == DataType.Uint64 && to != DataType.Uint64 && data.Integers![i] < 0)
                throw new ConstantRefusal($"'{node.DisplayName}' casts a uint64 beyond int64's range");
            ints[i] = Wrap(data.Integers![i], to);
        }
        return ConstantTensor.OfIntegers(to, data.Dims, ints);
    }

    /// <summary>Two's-complement narrowing of an int64 to integer type <paramref name="to"/>, as a C cast does.</summary>
    private static long Wrap(long value, DataType to) => to switch
    {
        DataType.Int8 => unchecked((sbyte)value),
        DataType.Int16 => unchecked((short)value),
        DataType.Int32 => unchecked((int)value),
        DataType.Uint8 => unchecked((byte)value),
        DataType.Uint16 => unchecked((ushort)value),
        DataType.Uint32 => unchecked((uint)value),
        _ => value,
    };

    private ConstantTensor ConstantOfShape()
    {
        var dims = Ints(Input(0), "shape");
        if (dims.Any(d => d < 0)) throw new ConstantRefusal($"the shape of '{node.DisplayName}' has a negative dim");
        var fill = node.GetTensor("value") is { } proto
            ? ConstantTensor.From(new Tensor(proto)) ?? throw new ConstantRefusal($"the value of '{node.DisplayName}' has an element type not evaluated ahead of time")
            : ConstantTensor.OfReals(DataType.Float, [1], [0.0]);
        if (fill.Count != 1) throw new ConstantRefusal($"the value of '{node.DisplayName}' is not one element");
        var sources = new long[CheckedCount(dims)];
        return fill.Pick(dims, sources);
    }

    /// <summary>Range of integers (a float Range accumulates rounding in a runtime-defined order, so it is refused).</summary>
    private ConstantTensor Range()
    {
        var start = Input(0);
        var limit = Input(1);
        var delta = Input(2);
        if (start.IsReal || start.Count != 1 || limit.Count != 1 || delta.Count != 1 || limit.Type != start.Type || delta.Type != start.Type)
            throw new ConstantRefusal($"'{node.DisplayName}' is not a Range of integer scalars");
        long first = start.Integers![0], end = limit.Integers![0], step = delta.Integers![0];
        if (step == 0) throw new ConstantRefusal($"'{node.DisplayName}' has a delta of 0");
        long count = Math.Max(0, (long)Math.Ceiling((double)(end - first) / step));
        CheckedCount([count]);
        var values = new long[count];
        for (long i = 0; i < count; i++) values[i] = first + i * step;
        return ConstantTensor.OfIntegers(start.Type, [count], values);
    }

    /// <summary>Multidirectional (numpy) broadcasting since opset 7; earlier opsets' <c>broadcast</c> attribute is refused.</summary>
    private (long[] Dims, long[] Left, long[] Right) Broadcast(ConstantTensor a, ConstantTensor b)
    {
        if (opset < OpsetVersion.MultidirectionalBroadcast) throw new ConstantRefusal($"'{node.DisplayName}' uses opset {opset}'s broadcast attribute");
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new long[rank];
        var da = Enumerable.Repeat(1L, rank - a.Rank).Concat(a.Dims).ToArray();
        var db = Enumerable.Repeat(1L, rank - b.Rank).Concat(b.Dims).ToArray();
        for (int i = 0; i < rank; i++)
        {
            if (da[i] != db[i] && da[i] != 1 && db[i] != 1) throw new ConstantRefusal($"the inputs of '{node.DisplayName}' do not broadcast");
            dims[i] = da[i] == 1 ? db[i] : da[i];
        }
        CheckedCount(dims);
        return (dims, BroadcastSources(da, dims), BroadcastSources(db, dims));
    }

    private static long[] BroadcastSources(long[] dims, long[] outDims)
    {
        var strides = ShapeMath.Strides(dims);
        for (int i = 0; i < dims.Length; i++) if (dims[i] == 1) strides[i] = 0;
        return StridedSources(outDims, strides);
    }

    /// <summary>For each element of an output of <paramref name="outDims"/> in row-major order, the source offset Σ index·stride.</summary>
    private static long[] StridedSources(long[] outDims, long[] strides) =>
        Sources(outDims.Select((d, axis) => Array.ConvertAll(Ranges.Sequence(0, d, 1), i => i * strides[axis])).ToArray());

    /// <summary>
    /// For each element, in row-major order, of an output with <c>offsets[a].Length</c> positions along axis a, the
    /// source offset Σₐ offsets[a][its position along a].
    /// </summary>
    private static long[] Sources(long[][] offsets)
    {
        var sources = new long[WeightMath.ElementCount(offsets.Select(o => (long)o.Length).ToArray())];
        var position = new int[offsets.Length];
        for (long flat = 0; flat < sources.Length; flat++)
        {
            long offset = 0;
            for (int axis = 0; axis < offsets.Length; axis++) offset += offsets[axis][position[axis]];
            sources[flat] = offset;
            for (int axis = offsets.Length - 1; axis >= 0; axis--)
            {
                if (++position[axis] < offsets[axis].Length) break;
                position[axis] = 0;
            }
        }
        return sources;
    }

    private (ConstantTensor A, ConstantTensor B) SameTypePair()
    {
        var a = Input(0);
        var b = Input(1);
        if (a.Type != b.Type) throw new ConstantRefusal($"the inputs of '{node.DisplayName}' have different element types");
        return (a, b);
    }

    private ConstantResult Arithmetic()
    {
        var (a, b) = SameTypePair();
        if (a.Type == DataType.Bool || a.Type == DataType.Uint64) throw new ConstantRefusal($"'{node.DisplayName}' computes on {ElementTypes.Name(a.Type)}, which is not evaluated ahead of time");
        var (dims, left, right) = Broadcast(a, b);
        string op = node.OpType;
        if (a.IsReal)
        {
            var truth = new double[left.Length];
            var stored = new double[left.Length];
            for (long i = 0; i < truth.Length; i++)
            {
                double x = a.Reals![left[i]], y = b.Reals![right[i]];
                truth[i] = op switch { "Add" => x + y, "Sub" => x - y, "Mul" => x * y, _ => x / y };
                stored[i] = FloatElements.Round(a.Type, truth[i]);
            }
            return new ConstantResult([ConstantTensor.OfReals(a.Type, dims, stored)], FloatElements.MaxUlpDistance(a.Type, stored, truth));
        }
        var (min, max) = ConstantTensor.IntegerRange(a.Type);
        var ints = new long[left.Length];
        for (long i = 0; i < ints.Length; i++)
        {
            long x = a.Integers![left[i]], y = b.Integers![right[i]];
            if (op == "Div" && y == 0) throw new ConstantRefusal($"'{node.DisplayName}' divides an integer by zero");
            Int128 r = op switch { "Add" => (Int128)x + y, "Sub" => (Int128)x - y, "Mul" => (Int128)x * y, _ => (Int128)x / y };
            if (r < min || r > max) throw new ConstantRefusal($"'{node.DisplayName}' overflows {ElementTypes.Name(a.Type)}");
            ints[i] = (long)r;
        }
        return One(ConstantTensor.OfIntegers(a.Type, dims, ints));
    }

    private ConstantTensor Equal()
    {
        var (a, b) = SameTypePair();
        var (dims, left, right) = Broadcast(a, b);
        var result = new long[left.Length];
        for (long i = 0; i < result.Length; i++)
            result[i] = a.IsReal ? (a.Reals![left[i]] == b.Reals![right[i]] ? 1 : 0) : (a.Integers![left[i]] == b.Integers![right[i]] ? 1 : 0);
        return ConstantTensor.OfIntegers(DataType.Bool, dims, result);
    }

    private ConstantTensor Not()
    {
        var data = Input(0);
        if (data.Type != DataType.Bool) throw new ConstantRefusal($"'{node.DisplayName}' negates {ElementTypes.Name(data.Type)}, not bool");
        return ConstantTensor.OfIntegers(DataType.Bool, data.Dims, data.Integers!.Select(v => v == 0 ? 1L : 0L).ToArray());
    }
}

/// <summary>Index sequences for slicing.</summary>
internal static class Ranges
{
    /// <summary>start, start + step, … while before <paramref name="end"/> (above it for a negative step).</summary>
    public static long[] Sequence(long start, long end, long step)
    {
        long count = step > 0 ? Math.Max(0, (end - start + step - 1) / step) : Math.Max(0, (start - end - step - 1) / -step);
        var result = new long[count];
        for (long i = 0; i < count; i++) result[i] = start + i * step;
        return result;
    }
}
