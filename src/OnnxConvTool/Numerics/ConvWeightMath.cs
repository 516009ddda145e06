namespace OnnxConvTool.Numerics;

/// <summary>
/// Float64 folds of a per-channel affine map <c>z ↦ a·z + d</c> into a convolution's weight and bias. A Conv
/// weight is [M, C/g, k…]; a ConvTranspose weight is [C, M/g, k…]. Output channel m of group gi is
/// gi·(M/g) + j for the weight's j along its per-group output axis.
/// </summary>
internal static class ConvWeightMath
{
    /// <summary>
    /// <c>a·Conv(x; W, b) + d = Conv(x; W′, b′)</c> with <c>W′ = W·a</c> per output channel and <c>b′ = a·b + d</c>
    /// (<paramref name="bias"/> null means zeros). For ConvTranspose the output channel is axis 1, per group.
    /// </summary>
    public static (double[] Weight, double[] Bias) FoldOutputAffine(ReadOnlySpan<double> weight, IReadOnlyList<long> dims, double[]? bias,
        ReadOnlySpan<double> scale, ReadOnlySpan<double> shift, long group, bool transposed)
    {
        long outChannels = transposed ? dims[1] * group : dims[0];
        long kernel = WeightMath.ElementCount(dims.Skip(2).ToArray());
        var folded = new double[weight.Length];
        if (!transposed)
        {
            long perOut = dims[1] * kernel;
            for (long i = 0; i < weight.Length; i++) folded[i] = weight[(int)i] * scale[(int)(i / perOut)];
        }
        else
        {
            long inPerGroup = dims[0] / group, outPerGroup = dims[1];
            for (long i = 0; i < weight.Length; i++)
            {
                long c = i / (outPerGroup * kernel), j = i / kernel % outPerGroup;
                folded[i] = weight[(int)i] * scale[(int)(c / inPerGroup * outPerGroup + j)];
            }
        }
        var newBias = new double[outChannels];
        for (long m = 0; m < outChannels; m++) newBias[m] = scale[(int)m] * (bias?[m] ?? 0) + shift[(int)m];
        return (folded, newBias);
    }

    /// <summary>
    /// <c>Conv(a·x + d; W, b) = Conv(x; W′, b′)</c> for a Conv without padding: <c>W′[m,c′,k] = W[m,c′,k]·a[c]</c> and
    /// <c>b′[m] = b[m] + Σ W[m,c′,k]·d[c]</c>, where c = gi·(C/g) + c′ is the input channel that output channel m's
    /// group gi reads. <paramref name="bias"/> null means zeros.
    /// </summary>
    public static (double[] Weight, double[] Bias) FoldInputAffine(ReadOnlySpan<double> weight, IReadOnlyList<long> dims, double[]? bias,
        ReadOnlySpan<double> scale, ReadOnlySpan<double> shift, long group)
    {
        long outChannels = dims[0], inPerGroup = dims[1], outPerGroup = dims[0] / group;
        long kernel = WeightMath.ElementCount(dims.Skip(2).ToArray());
        var folded = new double[weight.Length];
        var newBias = new double[outChannels];
        for (long m = 0; m < outChannels; m++)
        {
            long firstChannel = m / outPerGroup * inPerGroup;
            double sum = bias?[m] ?? 0;
            for (long cp = 0; cp < inPerGroup; cp++)
            {
                double a = scale[(int)(firstChannel + cp)], d = shift[(int)(firstChannel + cp)];
                long start = (m * inPerGroup + cp) * kernel;
                for (long k = 0; k < kernel; k++)
                {
                    double w = weight[(int)(start + k)];
                    folded[start + k] = w * a;
                    sum += w * d;
                }
            }
            newBias[m] = sum;
        }
        return (folded, newBias);
    }
}
