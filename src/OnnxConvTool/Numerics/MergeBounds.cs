using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Numerics;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Upper bounds on the magnitudes of merged convolution weights, read from the operands a chunk at a time
/// (<see cref="Tensor.VisitDecoded"/>) without decoding them whole or forming the merged weight. When a bound
/// <see cref="Fits"/> the element type, every merged value is finite and fits it, so the merge is representable;
/// otherwise only the merged values themselves can decide. A non-finite operand makes the bound infinite or NaN.
/// </summary>
internal static class MergeBounds
{
    /// <summary>Room for float64 rounding in the merged sums (about n·2⁻⁵³ for n terms, far below this).</summary>
    private const double Slack = 1 + 1e-6;

    /// <summary>Whether every value of magnitude at most <paramref name="bound"/> is finite and fits <paramref name="type"/>.</summary>
    public static bool Fits(DataType type, double bound)
    {
        double widened = bound * Slack;
        return double.IsFinite(widened) && !FloatElements.Overflows(type, widened);
    }

    /// <summary>The largest magnitude in <paramref name="values"/> (+∞ when one is not finite); 0 for none.</summary>
    public static double MaxAbs(ReadOnlySpan<double> values)
    {
        double max = 0;
        foreach (double v in values)
        {
            double magnitude = Magnitude(v);
            if (magnitude > max) max = magnitude;
        }
        return max;
    }

    /// <summary>The largest magnitude in <paramref name="tensor"/> (+∞ when a value is not finite).</summary>
    public static double MaxAbs(Tensor tensor)
    {
        double max = 0;
        tensor.VisitDecoded(1, (_, values) => max = Math.Max(max, MaxAbs(values)));
        return max;
    }

    /// <summary>The largest magnitude in each of the <paramref name="rows"/> rows of <paramref name="tensor"/>.</summary>
    public static double[] RowMaxAbs(Tensor tensor, long rows)
    {
        var result = new double[rows];
        if (tensor.ElementCount == 0) return result;
        long rowLength = tensor.ElementCount / rows;
        tensor.VisitDecoded(rowLength, (first, values) =>
        {
            for (int offset = 0; offset < values.Length; offset += (int)rowLength)
                result[(first + offset) / rowLength] = MaxAbs(values.Slice(offset, (int)rowLength));
        });
        return result;
    }

    /// <summary>
    /// Bounds on the composition of a convolution <c>first</c> with <paramref name="second"/> <c>[M, J/g, K]</c> (group g)
    /// that <c>ConvMergeMath</c> computes, from the largest magnitude of each of <c>first</c>'s J output rows
    /// (<paramref name="firstRowMax"/>): the weight <c>Σⱼ second[m, j, k]·first[j, …]</c> is at most
    /// <c>maxₘ Σⱼ maxₖ|second[m, j, k]|·firstRowMax[j]</c>, and the bias <c>secondBias[m] + Σⱼ,ₖ second[m, j, k]·firstBias[j]</c>
    /// at most <c>maxₘ |secondBias[m]| + Σⱼ,ₖ |second[m, j, k]|·|firstBias[j]|</c> (j over m's group).
    /// </summary>
    public static (double Weight, double Bias) Composition(Tensor second, long group, double[] firstRowMax, double[]? firstBias, double[]? secondBias)
    {
        if (second.ElementCount == 0) return (0, secondBias is null ? 0 : MaxAbs(secondBias));
        long outChannels = second.Dims[0], midPerGroup = second.Dims[1];
        long kernelVolume = second.ElementCount / (outChannels * midPerGroup), rowLength = midPerGroup * kernelVolume;
        long outPerGroup = outChannels / group;
        double weight = 0, bias = 0;
        second.VisitDecoded(rowLength, (first, values) =>
        {
            for (int offset = 0; offset < values.Length; offset += (int)rowLength)
            {
                long m = (first + offset) / rowLength, firstMid = m / outPerGroup * midPerGroup;
                double weightSum = 0, biasSum = secondBias is null ? 0 : Magnitude(secondBias[m]);
                for (long j = 0; j < midPerGroup; j++)
                {
                    var kernel = values.Slice(offset + (int)(j * kernelVolume), (int)kernelVolume);
                    weightSum += MaxAbs(kernel) * firstRowMax[firstMid + j];
                    if (firstBias is not null)
                        foreach (double v in kernel) biasSum += Magnitude(v) * Magnitude(firstBias[firstMid + j]);
                }
                weight = Larger(weight, weightSum);
                bias = Larger(bias, biasSum);
            }
        });
        return (weight, bias);
    }

    private static double Magnitude(double value) => double.IsFinite(value) ? Math.Abs(value) : double.PositiveInfinity;

    /// <summary>The larger of two bounds, NaN (∞·0 from a non-finite operand) winning.</summary>
    private static double Larger(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b);
}
