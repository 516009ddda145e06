using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Numerics;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Float64 arithmetic on row-major weight arrays: the one place rules compute folded or rearranged weights.
/// Arrays are plain <c>double[]</c> with their dims beside them; nothing here touches a protobuf.
/// </summary>
internal static class WeightMath
{
    public static long ElementCount(IReadOnlyList<long> dims)
    {
        long count = 1;
        foreach (long d in dims) count *= d;
        return count;
    }

    /// <summary>
    /// <c>result[…, i, …] = values[…, i, …] · factors[i]</c> along <paramref name="axis"/> of <paramref name="dims"/>;
    /// <paramref name="factors"/> has one entry per index of that axis.
    /// </summary>
    public static double[] ScaleAlongAxis(ReadOnlySpan<double> values, IReadOnlyList<long> dims, int axis, ReadOnlySpan<double> factors)
    {
        if (factors.Length != dims[axis]) throw new ArgumentException($"{factors.Length} factors for an axis of size {dims[axis]}", nameof(factors));
        long inner = 1;
        for (int i = axis + 1; i < dims.Count; i++) inner *= dims[i];
        long size = dims[axis];
        var result = new double[values.Length];
        for (long i = 0; i < values.Length; i++) result[i] = values[(int)i] * factors[(int)(i / inner % size)];
        return result;
    }

    /// <summary>
    /// The per-channel values of a constant of <paramref name="constantDims"/> that, broadcast (numpy rules)
    /// against a tensor of rank <paramref name="rank"/>, varies along <paramref name="channelAxis"/> only and
    /// leaves that tensor's shape unchanged: a scalar of any rank up to <paramref name="rank"/> repeats its value,
    /// a constant whose only dim above 1 sits at the channel axis and equals <paramref name="channels"/> gives
    /// its values. Null with <paramref name="reason"/> otherwise.
    /// </summary>
    public static double[]? PerChannel(IReadOnlyList<long> constantDims, ReadOnlySpan<double> values, int rank, int channelAxis,
        long channels, out string? reason)
    {
        reason = null;
        string shape = "[" + string.Join(",", constantDims) + "]";
        if (constantDims.Count > rank)
        {
            reason = $"a constant of shape {shape} has rank {constantDims.Count}, above the rank {rank} of the tensor it broadcasts with, so it would change the result's shape";
            return null;
        }
        if (values.Length == 1)
        {
            var repeated = new double[channels];
            Array.Fill(repeated, values[0]);
            return repeated;
        }
        int offset = rank - constantDims.Count;
        for (int i = 0; i < constantDims.Count; i++)
        {
            int axis = offset + i;
            long d = constantDims[i];
            if (d == 1) continue;
            if (axis != channelAxis)
            {
                reason = axis == rank - 1 && constantDims.Count == 1
                    ? $"a constant of shape {shape} broadcasts along the last axis, not the channel axis {channelAxis}"
                    : $"a constant of shape {shape} varies along axis {axis}, not only the channel axis {channelAxis}";
                return null;
            }
            if (d != channels)
            {
                reason = $"a constant of shape {shape} has {d} values along the channel axis, which has {channels}";
                return null;
            }
        }
        return values.ToArray();
    }

    /// <summary><c>a[m,k] · b[k,n]</c>, row-major, summed in float64.</summary>
    public static double[] MatMul(ReadOnlySpan<double> a, ReadOnlySpan<double> b, long m, long k, long n)
    {
        var result = new double[m * n];
        for (long i = 0; i < m; i++)
            for (long p = 0; p < k; p++)
            {
                double left = a[(int)(i * k + p)];
                if (left == 0) continue;
                for (long j = 0; j < n; j++) result[i * n + j] += left * b[(int)(p * n + j)];
            }
        return result;
    }

    /// <summary>The transpose of a row-major [rows, cols] matrix.</summary>
    public static double[] Transpose(ReadOnlySpan<double> values, long rows, long cols)
    {
        var result = new double[values.Length];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
                result[c * rows + r] = values[(int)(r * cols + c)];
        return result;
    }

    /// <summary>
    /// A weight [M, C, k1…kn] zero-padded to kernel [k1 + before1 + after1, …]: the kernel of a smaller
    /// convolution placed inside a larger one (pads are begin values for each axis, then end values).
    /// </summary>
    public static double[] PadKernel(ReadOnlySpan<double> weight, IReadOnlyList<long> dims, IReadOnlyList<long> pads, out long[] paddedDims)
    {
        int k = dims.Count - 2;
        if (pads.Count != 2 * k) throw new ArgumentException($"{pads.Count} pads for {k} spatial axes", nameof(pads));
        paddedDims = dims.ToArray();
        for (int i = 0; i < k; i++) paddedDims[2 + i] = dims[2 + i] + pads[i] + pads[k + i];
        var result = new double[ElementCount(paddedDims)];
        long planes = dims[0] * dims[1];
        long sourcePlane = ElementCount(dims.Skip(2).ToArray()), targetPlane = ElementCount(paddedDims.Skip(2).ToArray());
        var index = new long[k];
        for (long plane = 0; plane < planes; plane++)
            for (long s = 0; s < sourcePlane; s++)
            {
                long rest = s, target = 0;
                for (int a = k - 1; a >= 0; a--)
                {
                    index[a] = rest % dims[2 + a];
                    rest /= dims[2 + a];
                }
                for (int a = 0; a < k; a++) target = target * paddedDims[2 + a] + index[a] + pads[a];
                result[plane * targetPlane + target] = weight[(int)(plane * sourcePlane + s)];
            }
        return result;
    }

    /// <summary>
    /// A new tensor with <paramref name="source"/>'s data in other dims (row-major order unchanged); the source
    /// tensor and its protobuf are left as they are (the data buffer is shared: tensors never change their data).
    /// </summary>
    public static Tensor Reshaped(Tensor source, IReadOnlyList<long> dims, string name)
    {
        if (ElementCount(dims) != source.ElementCount)
            throw new ArgumentException($"dims [{string.Join(",", dims)}] do not hold the {source.ElementCount} values of '{source.Name}'", nameof(dims));
        var copy = source.CloneAs(name);
        copy.Proto.Dims.Clear();
        copy.Proto.Dims.AddRange(dims);
        return copy;
    }

    /// <summary>
    /// Stores float64 <paramref name="truth"/> as a tensor of <paramref name="type"/>, rounding each value once,
    /// and reports the largest distance of a stored value from its truth in ULPs of the type.
    /// </summary>
    public static RoundedTensor Store(string name, DataType type, IReadOnlyList<long> dims, double[] truth)
    {
        var builder = new RoundedTensorBuilder(name, type, dims);
        builder.AppendRepresentable(truth);
        return builder.Finish();
    }

    /// <summary>
    /// Null when every value of <paramref name="truth"/> is finite and fits <paramref name="type"/>; else the
    /// sentence naming the first that does not (<paramref name="what"/> names the array, e.g. "the folded weight";
    /// <paramref name="firstIndex"/> is the index of <paramref name="truth"/>[0] in that array).
    /// </summary>
    public static string? WhyNotRepresentable(DataType type, ReadOnlySpan<double> truth, string what, long firstIndex = 0)
    {
        for (int i = 0; i < truth.Length; i++)
        {
            double v = truth[i];
            if (!double.IsFinite(v))
                return $"{what} has a non-finite value ({v.ToString(System.Globalization.CultureInfo.InvariantCulture)}) at index {firstIndex + i}";
            if (FloatElements.Overflows(type, v))
                return $"{what} overflows {ElementTypes.Name(type)}: {v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)} at index {firstIndex + i} is beyond its largest value {FloatElements.MaxFinite(type).ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}";
        }
        return null;
    }
}

/// <summary>
/// Builds a <see cref="RoundedTensor"/> from float64 values given a block at a time, in order: each block is
/// rounded once into the tensor's raw bytes and its deviation measured, so no float64 copy of the whole tensor
/// is ever held.
/// </summary>
internal sealed class RoundedTensorBuilder(string name, DataType type, IReadOnlyList<long> dims)
{
    private readonly byte[] _raw = new byte[checked(WeightMath.ElementCount(dims) * (ElementTypes.BitsPerElement(type) / 8))];
    private readonly int _elementBytes = ElementTypes.BitsPerElement(type) / 8;
    private long _count;
    private double _deviation;

    /// <summary>The next values, which the caller has checked with <see cref="WeightMath.WhyNotRepresentable"/>.</summary>
    public void AppendRepresentable(ReadOnlySpan<double> truth)
    {
        var raw = _raw.AsSpan(checked((int)(_count * _elementBytes)), truth.Length * _elementBytes);
        FloatElements.Encode(type, truth, raw);
        const int Block = 4096;
        Span<double> stored = stackalloc double[Block];
        for (int start = 0; start < truth.Length; start += Block)
        {
            int count = Math.Min(Block, truth.Length - start);
            FloatElements.Decode(type, raw.Slice(start * _elementBytes, count * _elementBytes), stored[..count]);
            _deviation = Math.Max(_deviation, FloatElements.MaxUlpDistance(type, stored[..count], truth.Slice(start, count)));
        }
        _count += truth.Length;
    }

    /// <summary>
    /// Appends the next values when each is finite and fits the type; else appends nothing and returns the sentence
    /// naming the first that does not (<paramref name="what"/> names the whole array).
    /// </summary>
    public string? TryAppend(ReadOnlySpan<double> truth, string what)
    {
        if (WeightMath.WhyNotRepresentable(type, truth, what, _count) is { } reason) return reason;
        AppendRepresentable(truth);
        return null;
    }

    /// <summary>The tensor, once every value has been appended.</summary>
    /// <exception cref="InvalidOperationException">Fewer or more values were appended than the dims hold.</exception>
    public RoundedTensor Finish()
    {
        if (_count * _elementBytes != _raw.Length)
            throw new InvalidOperationException($"'{name}' was given {_count} values for dims [{string.Join(",", dims)}]");
        return new RoundedTensor(Tensor.FromRawBytes(name, type, dims, _raw), _deviation);
    }
}

/// <summary>A tensor computed in float64 and stored once-rounded, with its largest deviation from the float64 truth in ULPs.</summary>
internal sealed record RoundedTensor(Tensor Tensor, double MaxDeviationUlps);
