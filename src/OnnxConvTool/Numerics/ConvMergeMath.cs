namespace OnnxConvTool.Numerics;

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
    /// <c>[M₂, C/g, K]</c>. Expand a grouped side with <see cref="ExpandGroups"/> first when the groups differ.
    /// </summary>
    public static double[] ComposePointwiseAfter(ReadOnlySpan<double> second, ReadOnlySpan<double> first, long outChannels, long midChannels,
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

    /// <summary>
    /// The composition of a 1x1 convolution <c>first [M₁, C/g]</c> with a convolution <c>second [M₂, M₁/g, K]</c>
    /// of the same group g: <c>W[m, c, k] = Σⱼ second[m, j, k]·first[j, c]</c> block by block, giving <c>[M₂, C/g, K]</c>.
    /// </summary>
    public static double[] ComposePointwiseBefore(ReadOnlySpan<double> second, ReadOnlySpan<double> first, long outChannels, long midChannels,
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

    /// <summary>
    /// The bias a convolution <c>second [M₂, M₁/g, K]</c> (bias <paramref name="secondBias"/>) gives when its input
    /// carries a per-channel offset <paramref name="firstBias"/> everywhere it reads:
    /// <c>b[m] = secondBias[m] + Σⱼ,ₖ second[m, j, k]·firstBias[j]</c>.
    /// </summary>
    public static double[] BiasThrough(ReadOnlySpan<double> second, double[]? secondBias, double[]? firstBias, long outChannels, long midChannels,
        long kernelVolume, long group)
    {
        var result = secondBias?.ToArray() ?? new double[outChannels];
        if (firstBias is null) return result;
        long outPerGroup = outChannels / group, midPerGroup = midChannels / group;
        for (long m = 0; m < outChannels; m++)
        {
            long g = m / outPerGroup;
            double sum = 0;
            for (long j = 0; j < midPerGroup; j++)
                for (long k = 0; k < kernelVolume; k++)
                    sum += second[(int)((m * midPerGroup + j) * kernelVolume + k)] * firstBias[(int)(g * midPerGroup + j)];
            result[m] += sum;
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
