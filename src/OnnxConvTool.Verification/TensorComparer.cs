using System.Buffers;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// How one output (or intermediate) of the candidate compares with the reference's. A floating-point
/// element passes when |a − b| ≤ atol + rtol·max(|a|, s/10), where a is the reference's element and s the
/// root mean square of the reference tensor's finite elements (<see cref="TensorComparer"/> says why); NaN
/// matches only NaN and an infinity only the same infinity. Integer and bool elements must be equal.
/// </summary>
public sealed record OutputComparison
{
    /// <summary>The reference's name for the tensor.</summary>
    public required string Name { get; init; }

    /// <summary>The candidate's name for this tensor when it differs (through the rewrite's name map).</summary>
    public string? CandidateName { get; init; }

    /// <summary>What this tensor is when it is not a model output, e.g. "input of Sigmoid producing output 'y'".</summary>
    public string? Role { get; init; }

    /// <summary>The reference tensor's element type.</summary>
    public required string ReferenceType { get; init; }
    /// <summary>The candidate tensor's element type (null when the candidate lacks the tensor).</summary>
    public string? CandidateType { get; init; }
    /// <summary>The reference tensor's shape.</summary>
    public required long[] ReferenceShape { get; init; }
    /// <summary>The candidate tensor's shape (null when the candidate lacks the tensor).</summary>
    public long[]? CandidateShape { get; init; }
    /// <summary>Elements compared.</summary>
    public long Elements { get; init; }
    /// <summary>The relative tolerance applied.</summary>
    public double Rtol { get; init; }
    /// <summary>The absolute tolerance applied.</summary>
    public double Atol { get; init; }

    /// <summary>Root mean square of the reference's finite elements (floating point only; 0 for exact comparisons).</summary>
    public double Scale { get; init; }

    /// <summary>The smallest fraction of <see cref="Scale"/> that, as the floor of rtol's reference, makes every element pass at this atol (infinite when rtol is 0).</summary>
    internal double NeededScaleFloor { get; init; }

    /// <summary>
    /// Absolute error allowed on top of <see cref="Atol"/> because this output is a saturating activation of an
    /// input that is compared too: the activation's slope times that input's tolerance at its scale floor.
    /// </summary>
    public double PropagatedAtol { get; init; }

    /// <summary>True for integer and bool tensors: compared for equality, whatever the tolerances.</summary>
    public bool Exact { get; init; }

    /// <summary>Elements where both sides are finite numbers, i.e. where a numeric comparison took place.</summary>
    public long FiniteElements { get; init; }

    /// <summary>Largest |a − b| over elements where both are finite.</summary>
    public double MaxAbsError { get; init; }

    /// <summary>Largest |a − b| / |a| over finite elements with a ≠ 0 (zeros in the reference are covered by the absolute error).</summary>
    public double MaxRelError { get; init; }

    /// <summary>Mean |a − b| over elements where both are finite.</summary>
    public double MeanAbsError { get; init; }

    /// <summary>Finite elements outside the tolerance (unequal elements for exact comparisons).</summary>
    public long Mismatches { get; init; }

    /// <summary>Elements where one side is NaN or infinite and the other is not the same.</summary>
    public long NanInfMismatches { get; init; }

    /// <summary>The smallest atol that would make every element pass at this rtol; null when no atol can (NaN/Inf, shape mismatch, exact comparison).</summary>
    public double? SmallestPassingAtol { get; init; }

    /// <summary>Why the tensors cannot be compared element by element (shape, type, missing), or null.</summary>
    public string? Problem { get; init; }

    /// <summary>True when the tensors could be compared and every element is within tolerance.</summary>
    public bool Passed => Problem is null && Mismatches == 0 && NanInfMismatches == 0;
}

/// <summary>
/// Element-by-element comparison of two raw tensors.
/// <para>
/// Why the tensor's scale enters the tolerance: two correct implementations of a dot product that add
/// their terms in a different order (Conv against MatMul, a fused against an unfused weight) differ by
/// rounding errors proportional to the magnitudes summed, Σ|w|·|x|, not to the result. Where terms cancel
/// (a logit near zero among logits of magnitude ~10), the result is tiny and its rounding error is not, so
/// rtol·|a| alone calls a correct rewrite different. The root mean square s of the reference tensor stands
/// for the magnitudes its elements are made of; no element is held to a relative error tighter than rtol
/// against s/10. A wrong weight, by contrast, moves every element it feeds in proportion to the element's
/// own magnitude, which the unchanged rtol·|a| still catches.
/// </para>
/// </summary>
internal static class TensorComparer
{
    private const int Chunk = 4096;

    /// <summary>No element is compared relative to less than this fraction of its tensor's root mean square.</summary>
    public const double ScaleFloor = 0.1;

    public static OutputComparison Compare(string name, string? candidateName,
        DataType referenceType, long[] referenceShape, ReadOnlySpan<byte> reference,
        DataType candidateType, long[] candidateShape, ReadOnlySpan<byte> candidate,
        double? rtol, double? atol, double propagatedAtol = 0)
    {
        bool exact = !ElementKinds.IsFloating(referenceType);
        var defaults = ElementKinds.DefaultTolerance(referenceType);
        double r = exact ? 0 : rtol ?? defaults.Rtol;
        double a = exact ? 0 : atol ?? defaults.Atol;
        var result = new OutputComparison
        {
            Name = name,
            CandidateName = candidateName == name ? null : candidateName,
            ReferenceType = ElementKinds.Name(referenceType),
            CandidateType = ElementKinds.Name(candidateType),
            ReferenceShape = referenceShape,
            CandidateShape = candidateShape,
            Elements = HostTensor.ElementCountOf(referenceShape),
            Rtol = r,
            Atol = a,
            Exact = exact,
        };
        if (referenceType != candidateType)
            return result with { Problem = $"element type differs: {ElementKinds.Name(referenceType)} in the reference, {ElementKinds.Name(candidateType)} in the candidate" };
        if (!referenceShape.AsSpan().SequenceEqual(candidateShape))
            return result with { Problem = $"shape differs: [{string.Join(",", referenceShape)}] in the reference, [{string.Join(",", candidateShape)}] in the candidate" };
        if (!ElementKinds.IsSupported(referenceType))
            return result with { Problem = $"element type {ElementKinds.Name(referenceType)} cannot be compared" };
        double scale = 0;
        var stats = exact
            ? CompareIntegral(referenceType, reference, candidate, result.Elements)
            : CompareFloating(referenceType, reference, candidate, result.Elements, r, a + propagatedAtol, scale = RootMeanSquare(referenceType, reference, result.Elements));
        return result with
        {
            Scale = scale,
            PropagatedAtol = exact ? 0 : propagatedAtol,
            MaxAbsError = stats.MaxAbs,
            MaxRelError = stats.MaxRel,
            FiniteElements = stats.Finite,
            MeanAbsError = stats.Finite > 0 ? stats.SumAbs / stats.Finite : 0,
            Mismatches = stats.Outside,
            NanInfMismatches = stats.NanInf,
            SmallestPassingAtol = stats.NanInf > 0 || exact ? null : Math.Max(0, stats.NeededAtol - propagatedAtol),
            NeededScaleFloor = stats.NeededFloor,
        };
    }

    /// <summary>A comparison for a tensor one side lacks or could not produce.</summary>
    public static OutputComparison Missing(string name, string? candidateName, string type, long[] shape, string problem) => new()
    {
        Name = name,
        CandidateName = candidateName == name ? null : candidateName,
        ReferenceType = type,
        ReferenceShape = shape,
        Elements = HostTensor.ElementCountOf(shape),
        Problem = problem,
    };

    private record struct Stats(double MaxAbs, double MaxRel, double SumAbs, long Finite, long Outside, long NanInf, double NeededAtol, double NeededFloor);

    private static double RootMeanSquare(DataType type, ReadOnlySpan<byte> values, long count)
    {
        int size = ElementKinds.ByteSize(type);
        double sum = 0;
        long finite = 0;
        var buffer = ArrayPool<double>.Shared.Rent(Chunk);
        try
        {
            for (long start = 0; start < count; start += Chunk)
            {
                int n = (int)Math.Min(Chunk, count - start);
                ElementKinds.ToDoubles(type, values.Slice((int)(start * size), n * size), buffer.AsSpan(0, n));
                for (int i = 0; i < n; i++)
                {
                    if (!double.IsFinite(buffer[i])) continue;
                    sum += buffer[i] * buffer[i];
                    finite++;
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
        return finite > 0 && double.IsFinite(sum) ? Math.Sqrt(sum / finite) : 0;
    }

    private static Stats CompareFloating(DataType type, ReadOnlySpan<byte> reference, ReadOnlySpan<byte> candidate, long count, double rtol, double atol, double scale)
    {
        double floor = ScaleFloor * scale;
        int size = ElementKinds.ByteSize(type);
        var stats = new Stats();
        var a = ArrayPool<double>.Shared.Rent(Chunk);
        var b = ArrayPool<double>.Shared.Rent(Chunk);
        try
        {
            for (long start = 0; start < count; start += Chunk)
            {
                int n = (int)Math.Min(Chunk, count - start);
                ElementKinds.ToDoubles(type, reference.Slice((int)(start * size), n * size), a.AsSpan(0, n));
                ElementKinds.ToDoubles(type, candidate.Slice((int)(start * size), n * size), b.AsSpan(0, n));
                for (int i = 0; i < n; i++)
                {
                    double x = a[i], y = b[i];
                    if (!double.IsFinite(x) || !double.IsFinite(y))
                    {
                        bool same = double.IsNaN(x) ? double.IsNaN(y) : x == y;
                        if (!same) stats.NanInf++;
                        continue;
                    }
                    if (Accumulate(ref stats, x, y, rtol, floor) > atol) stats.Outside++;
                    double beyond = Math.Abs(x - y) - atol;
                    if (beyond > rtol * Math.Abs(x) && scale > 0) stats.NeededFloor = Math.Max(stats.NeededFloor, beyond / (rtol * scale));
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(a);
            ArrayPool<double>.Shared.Return(b);
        }
        return stats;
    }

    private static Stats CompareIntegral(DataType type, ReadOnlySpan<byte> reference, ReadOnlySpan<byte> candidate, long count)
    {
        int size = ElementKinds.ByteSize(type);
        var stats = new Stats();
        var a = ArrayPool<long>.Shared.Rent(Chunk);
        var b = ArrayPool<long>.Shared.Rent(Chunk);
        try
        {
            for (long start = 0; start < count; start += Chunk)
            {
                int n = (int)Math.Min(Chunk, count - start);
                ElementKinds.ToInt64s(type, reference.Slice((int)(start * size), n * size), a.AsSpan(0, n));
                ElementKinds.ToInt64s(type, candidate.Slice((int)(start * size), n * size), b.AsSpan(0, n));
                for (int i = 0; i < n; i++)
                {
                    Accumulate(ref stats, a[i], b[i], rtol: 0, floor: 0);
                    if (a[i] != b[i]) stats.Outside++;
                }
            }
        }
        finally
        {
            ArrayPool<long>.Shared.Return(a);
            ArrayPool<long>.Shared.Return(b);
        }
        return stats;
    }

    /// <summary>
    /// Adds one finite pair to the statistics and returns |a − b| − rtol·max(|a|, floor): the element passes
    /// when that is ≤ atol. Testing this one expression (rather than |a − b| ≤ atol + rtol·max(|a|, floor))
    /// makes the reported smallest passing atol pass exactly, with no rounding at the boundary.
    /// </summary>
    private static double Accumulate(ref Stats stats, double x, double y, double rtol, double floor)
    {
        double difference = Math.Abs(x - y);
        stats.Finite++;
        stats.SumAbs += difference;
        if (difference > stats.MaxAbs) stats.MaxAbs = difference;
        if (x != 0 && difference / Math.Abs(x) > stats.MaxRel) stats.MaxRel = difference / Math.Abs(x);
        double excess = difference - rtol * Math.Max(Math.Abs(x), floor);
        if (excess > stats.NeededAtol) stats.NeededAtol = excess;
        return excess;
    }
}
