using System.Buffers;

namespace OnnxConvTool.Numerics;

/// <summary>Reads <c>destination.Length</c> float64 values of a row-major array from element <paramref name="first"/> on.</summary>
internal delegate void ElementReader(long first, Span<double> destination);

/// <summary>Takes rows <c>[firstRow, firstRow + n)</c> of a computed weight, row-major; null to go on, or a sentence to stop.</summary>
internal delegate string? RowsSink(long firstRow, ReadOnlySpan<double> rows);

/// <summary>
/// Float64 arithmetic that merges convolution weights: group expansion, composition of a convolution with a
/// 1x1 convolution, kernel centre-padding and concatenation. Weights are row-major <c>[M, C/group, k…]</c> arrays
/// described by their out channels, in channels per group and kernel volume (the product of the kernel dims).
/// </summary>
internal static class ConvMergeMath
{
    /// <summary>A grouped weight <c>[M, C/g, K]</c> as the dense <c>[M, C, K]</c> it stands for (zeros off the diagonal blocks).</summary>
    public static double[] ExpandGroups(ReadOnlySpan<double> weight, long outChannels, long inPerGroup, long kernelVolume, long group)
    {
        if (group == 1) return weight.ToArray();
        long inChannels = inPerGroup * group, outPerGroup = outChannels / group;
        var dense = new double[outChannels * inChannels * kernelVolume];
        for (long m = 0; m < outChannels; m++)
        {
            long firstIn = m / outPerGroup * inPerGroup;
            weight.Slice((int)(m * inPerGroup * kernelVolume), (int)(inPerGroup * kernelVolume))
                .CopyTo(dense.AsSpan((int)((m * inChannels + firstIn) * kernelVolume)));
        }
        return dense;
    }

    /// <summary>
    /// The composition of a convolution <c>first [M₁, C/g, K]</c> with a 1x1 convolution <c>second [M₂, M₁/g]</c>
    /// of the same group g: <c>W[m, c, k] = Σⱼ second[m, j]·first[j, c, k]</c> block by block, giving
    /// <c>[M₂, C/g, K]</c>, handed to <paramref name="sink"/> a block of whole rows at a time, in order (null from the
    /// sink goes on; a sentence stops the composition and is returned). Each sum runs over j in ascending order, so
    /// the result is the same, bit for bit, as the plain triple loop that skips zero factors. Expand a grouped side
    /// with <see cref="ExpandGroups"/> first when the groups differ.
    /// </summary>
    public static string? ComposePointwiseAfter(ElementReader second, ElementReader first, long outChannels, long midChannels,
        long inPerGroup, long kernelVolume, long group, RowsSink sink)
    {
        int outPerGroup = checked((int)(outChannels / group)), midPerGroup = checked((int)(midChannels / group));
        int row = checked((int)(inPerGroup * kernelVolume));
        if (!AllFinite(first, midChannels * row))
            return EmitRows(ComposePointwiseAfterPlain(Decode(second, outChannels * midPerGroup), Decode(first, midChannels * row),
                outChannels, midChannels, inPerGroup, kernelVolume, group), row, sink);
        int chunk = RowsPerChunk(outPerGroup, Math.Max(row, midPerGroup));
        var factors = ArrayPool<double>.Shared.Rent(chunk * midPerGroup);
        var rows = ArrayPool<double>.Shared.Rent(chunk * row);
        using var product = new BlockedProduct(row);
        try
        {
            for (long g = 0; g < group; g++)
                for (int m0 = 0; m0 < outPerGroup; m0 += chunk)
                {
                    int count = Math.Min(chunk, outPerGroup - m0);
                    long firstRow = g * outPerGroup + m0;
                    second(firstRow * midPerGroup, factors.AsSpan(0, count * midPerGroup));
                    rows.AsSpan(0, count * row).Clear();
                    product.Accumulate(factors, count, midPerGroup, first, g * midPerGroup * row, rows);
                    if (sink(firstRow, rows.AsSpan(0, count * row)) is { } stop) return stop;
                }
            return null;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(factors);
            ArrayPool<double>.Shared.Return(rows);
        }
    }

    /// <summary>
    /// The composition of a 1x1 convolution <c>first [M₁, C/g]</c> with a convolution <c>second [M₂, M₁/g, K]</c>
    /// of the same group g: <c>W[m, c, k] = Σⱼ second[m, j, k]·first[j, c]</c> block by block, giving <c>[M₂, C/g, K]</c>,
    /// handed to <paramref name="sink"/> as by <see cref="ComposePointwiseAfter"/> (same order of sums, same bits
    /// as the plain loop).
    /// </summary>
    public static string? ComposePointwiseBefore(ElementReader second, ElementReader first, long outChannels, long midChannels,
        long inPerGroup, long kernelVolume, long group, RowsSink sink)
    {
        int outPerGroup = checked((int)(outChannels / group)), midPerGroup = checked((int)(midChannels / group));
        int columns = checked((int)inPerGroup), kernel = checked((int)kernelVolume), row = checked(columns * kernel);
        if (!AllFinite(first, midChannels * columns))
            return EmitRows(ComposePointwiseBeforePlain(Decode(second, outChannels * midPerGroup * kernel), Decode(first, midChannels * columns),
                outChannels, midChannels, inPerGroup, kernelVolume, group), row, sink);
        int chunk = RowsPerChunk(outPerGroup, Math.Max(row, midPerGroup * kernel));
        var secondRows = ArrayPool<double>.Shared.Rent(chunk * midPerGroup * kernel);
        var factors = ArrayPool<double>.Shared.Rent(chunk * midPerGroup);
        var tap = ArrayPool<double>.Shared.Rent(chunk * columns);
        var rows = ArrayPool<double>.Shared.Rent(chunk * row);
        using var product = new BlockedProduct(columns);
        try
        {
            for (long g = 0; g < group; g++)
                for (int m0 = 0; m0 < outPerGroup; m0 += chunk)
                {
                    int count = Math.Min(chunk, outPerGroup - m0);
                    long firstRow = g * outPerGroup + m0;
                    second(firstRow * midPerGroup * kernel, secondRows.AsSpan(0, count * midPerGroup * kernel));
                    for (int k = 0; k < kernel; k++)
                    {
                        for (int i = 0; i < count * midPerGroup; i++) factors[i] = secondRows[i * kernel + k];
                        tap.AsSpan(0, count * columns).Clear();
                        product.Accumulate(factors, count, midPerGroup, first, g * midPerGroup * columns, tap);
                        for (int i = 0; i < count * columns; i++) rows[i * kernel + k] = tap[i];
                    }
                    if (sink(firstRow, rows.AsSpan(0, count * row)) is { } stop) return stop;
                }
            return null;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(secondRows);
            ArrayPool<double>.Shared.Return(factors);
            ArrayPool<double>.Shared.Return(tap);
            ArrayPool<double>.Shared.Return(rows);
        }
    }

    /// <summary>
    /// The bias a convolution <c>second [M₂, M₁/g, K]</c> (bias <paramref name="secondBias"/>) gives when its input
    /// carries a per-channel offset <paramref name="firstBias"/> everywhere it reads:
    /// <c>b[m] = secondBias[m] + Σⱼ,ₖ second[m, j, k]·firstBias[j]</c>. Reads <paramref name="second"/> a row at a time.
    /// </summary>
    public static double[] BiasThrough(ElementReader second, double[]? secondBias, double[]? firstBias, long outChannels, long midChannels,
        long kernelVolume, long group)
    {
        var result = secondBias?.ToArray() ?? new double[outChannels];
        if (firstBias is null) return result;
        long outPerGroup = outChannels / group, midPerGroup = midChannels / group;
        var row = new double[midPerGroup * kernelVolume];
        for (long m = 0; m < outChannels; m++)
        {
            long g = m / outPerGroup;
            second(m * row.Length, row);
            double sum = 0;
            for (long j = 0; j < midPerGroup; j++)
                for (long k = 0; k < kernelVolume; k++)
                    sum += row[j * kernelVolume + k] * firstBias[g * midPerGroup + j];
            result[m] += sum;
        }
        return result;
    }

    /// <summary>A reader of a float64 array.</summary>
    public static ElementReader Reader(double[] values) => (first, destination) => values.AsSpan(checked((int)first), destination.Length).CopyTo(destination);

    /// <summary>
    /// Rows per block handed to a sink: about 4 MiB of float64 for the widest of a block's arrays, a multiple of the
    /// product's 4 rows, never more than the group holds.
    /// </summary>
    private static int RowsPerChunk(int rowsInGroup, int widest)
    {
        int rows = Math.Max(4, (1 << 19) / Math.Max(1, widest) / 4 * 4);
        return Math.Min(rows, rowsInGroup);
    }

    private static bool AllFinite(ElementReader values, long count)
    {
        var buffer = ArrayPool<double>.Shared.Rent(1 << 16);
        try
        {
            for (long start = 0; start < count; start += buffer.Length)
            {
                var part = buffer.AsSpan(0, (int)Math.Min(buffer.Length, count - start));
                values(start, part);
                foreach (double v in part)
                    if (!double.IsFinite(v)) return false;
            }
            return true;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }

    private static double[] Decode(ElementReader values, long count)
    {
        var result = new double[count];
        values(0, result);
        return result;
    }

    private static string? EmitRows(double[] weight, int row, RowsSink sink)
    {
        int chunk = Math.Max(1, (1 << 19) / Math.Max(1, row));
        for (long first = 0; first * row < weight.Length; first += chunk)
        {
            int count = (int)Math.Min(chunk, weight.Length / row - first);
            if (sink(first, weight.AsSpan((int)(first * row), count * row)) is { } stop) return stop;
        }
        return null;
    }

    /// <summary>
    /// The plain loops, skipping zero factors: used when the first weight holds a non-finite value, where a skipped
    /// zero factor (0·∞ left out) is not the same as a product added.
    /// </summary>
    private static double[] ComposePointwiseAfterPlain(ReadOnlySpan<double> second, ReadOnlySpan<double> first, long outChannels, long midChannels,
        long inPerGroup, long kernelVolume, long group)
    {
        long outPerGroup = outChannels / group, midPerGroup = midChannels / group, row = inPerGroup * kernelVolume;
        var result = new double[outChannels * row];
        for (long m = 0; m < outChannels; m++)
        {
            long g = m / outPerGroup;
            var target = result.AsSpan((int)(m * row), (int)row);
            for (long j = 0; j < midPerGroup; j++)
            {
                double factor = second[(int)(m * midPerGroup + j)];
                if (factor == 0) continue;
                var source = first.Slice((int)((g * midPerGroup + j) * row), (int)row);
                for (int i = 0; i < row; i++) target[i] += factor * source[i];
            }
        }
        return result;
    }

    private static double[] ComposePointwiseBeforePlain(ReadOnlySpan<double> second, ReadOnlySpan<double> first, long outChannels, long midChannels,
        long inPerGroup, long kernelVolume, long group)
    {
        long outPerGroup = outChannels / group, midPerGroup = midChannels / group;
        var result = new double[outChannels * inPerGroup * kernelVolume];
        for (long m = 0; m < outChannels; m++)
        {
            long g = m / outPerGroup;
            for (long j = 0; j < midPerGroup; j++)
            {
                var firstRow = first.Slice((int)((g * midPerGroup + j) * inPerGroup), (int)inPerGroup);
                for (long k = 0; k < kernelVolume; k++)
                {
                    double factor = second[(int)((m * midPerGroup + j) * kernelVolume + k)];
                    if (factor == 0) continue;
                    for (long c = 0; c < inPerGroup; c++) result[(m * inPerGroup + c) * kernelVolume + k] += factor * firstRow[(int)c];
                }
            }
        }
        return result;
    }

    /// <summary>Weights (or biases) stacked along their first axis, in order: the weight of convolutions whose outputs are concatenated.</summary>
    public static double[] ConcatOutputs(IReadOnlyList<double[]> parts)
    {
        var result = new double[parts.Sum(p => (long)p.Length)];
        long offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }
        return result;
    }
}
