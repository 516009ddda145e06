using System.Buffers;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// How one output (or intermediate) of the candidate compares with the reference's. An element passes
/// when |a − b| ≤ atol + rtol·|a| (a from the reference); NaN matches only NaN and an infinity only
/// the same infinity.
/// </summary>
public sealed record OutputComparison
{
    public required string Name { get; init; }

    /// <summary>The candidate's name for this tensor when it differs (through the rewrite's name map).</summary>
    public string? CandidateName { get; init; }

    /// <summary>What this tensor is when it is not a model output, e.g. "input of Sigmoid producing output 'y'".</summary>
    public string? Role { get; init; }

    public required string ReferenceType { get; init; }
    public string? CandidateType { get; init; }
    public required long[] ReferenceShape { get; init; }
    public long[]? CandidateShape { get; init; }
    public long Elements { get; init; }
    public double Rtol { get; init; }
    public double Atol { get; init; }

    /// <summary>Elements where both sides are finite numbers, i.e. where a numeric comparison took place.</summary>
    public long FiniteElements { get; init; }

    /// <summary>Largest |a − b| over elements where both are finite.</summary>
    public double MaxAbsError { get; init; }

    /// <summary>Largest |a − b| / |a| over finite elements with a ≠ 0 (zeros in the reference are covered by the absolute error).</summary>
    public double MaxRelError { get; init; }

    public double MeanAbsError { get; init; }

    /// <summary>Finite elements outside |a − b| ≤ atol + rtol·|a|.</summary>
    public long Mismatches { get; init; }

    /// <summary>Elements where one side is NaN or infinite and the other is not the same.</summary>
    public long NanInfMismatches { get; init; }

    /// <summary>The smallest atol that would make every element pass at this rtol; null when no atol can (NaN/Inf or shape mismatch).</summary>
    public double? SmallestPassingAtol { get; init; }

    /// <summary>Why the tensors cannot be compared element by element (shape, type, missing), or null.</summary>
    public string? Problem { get; init; }

    public bool Passed => Problem is null && Mismatches == 0 && NanInfMismatches == 0;
}

/// <summary>Element-by-element comparison of two raw tensors.</summary>
public static class TensorComparer
{
    private const int Chunk = 4096;

    public static OutputComparison Compare(string name, string? candidateName,
        DataType referenceType, long[] referenceShape, ReadOnlySpan<byte> reference,
        DataType candidateType, long[] candidateShape, ReadOnlySpan<byte> candidate,
        double? rtol, double? atol)
    {
        var defaults = ElementKinds.DefaultTolerance(referenceType);
        double r = referenceType == DataType.Bool ? 0 : rtol ?? defaults.Rtol;
        double a = referenceType == DataType.Bool ? 0 : atol ?? defaults.Atol;
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
        };
        if (referenceType != candidateType)
            return result with { Problem = $"element type differs: {ElementKinds.Name(referenceType)} in the reference, {ElementKinds.Name(candidateType)} in the candidate" };
        if (!referenceShape.AsSpan().SequenceEqual(candidateShape))
            return result with { Problem = $"shape differs: [{string.Join(",", referenceShape)}] in the reference, [{string.Join(",", candidateShape)}] in the candidate" };
        if (!ElementKinds.IsSupported(referenceType))
            return result with { Problem = $"element type {ElementKinds.Name(referenceType)} cannot be compared" };
        var stats = ElementKinds.IsFloating(referenceType)
            ? CompareFloating(referenceType, reference, candidate, result.Elements, r, a)
            : CompareIntegral(referenceType, reference, candidate, result.Elements, r, a);
        return result with
        {
            MaxAbsError = stats.MaxAbs,
            MaxRelError = stats.MaxRel,
            FiniteElements = stats.Finite,
            MeanAbsError = stats.Finite > 0 ? stats.SumAbs / stats.Finite : 0,
            Mismatches = stats.Outside,
            NanInfMismatches = stats.NanInf,
            SmallestPassingAtol = stats.NanInf > 0 ? null : Math.Max(0, stats.NeededAtol),
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

    private record struct Stats(double MaxAbs, double MaxRel, double SumAbs, long Finite, long Outside, long NanInf, double NeededAtol);

    private static Stats CompareFloating(DataType type, ReadOnlySpan<byte> reference, ReadOnlySpan<byte> candidate, long count, double rtol, double atol)
    {
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
                    if (Accumulate(ref stats, x, y, rtol) > atol) stats.Outside++;
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

    private static Stats CompareIntegral(DataType type, ReadOnlySpan<byte> reference, ReadOnlySpan<byte> candidate, long count, double rtol, double atol)
    {
        int size = ElementKinds.ByteSize(type);
        var stats = new Stats();
        var a = ArrayPool<long>.Shared.Rent(Chunk);
        var b = ArrayPool<long>.Shared.Rent(Chunk);
        bool exact = rtol == 0 && atol == 0;
        try
        {
            for (long start = 0; start < count; start += Chunk)
            {
                int n = (int)Math.Min(Chunk, count - start);
                ElementKinds.ToInt64s(type, reference.Slice((int)(start * size), n * size), a.AsSpan(0, n));
                ElementKinds.ToInt64s(type, candidate.Slice((int)(start * size), n * size), b.AsSpan(0, n));
                for (int i = 0; i < n; i++)
                {
                    double excess = Accumulate(ref stats, a[i], b[i], rtol);
                    if (exact ? a[i] != b[i] : excess > atol) stats.Outside++;
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
    /// Adds one finite pair to the statistics and returns |a − b| − rtol·|a|: the element passes when
    /// that is ≤ atol. Testing this one expression (rather than |a − b| ≤ atol + rtol·|a|) makes the
    /// reported smallest passing atol pass exactly, with no rounding at the boundary.
    /// </summary>
    private static double Accumulate(ref Stats stats, double x, double y, double rtol)
    {
        double difference = Math.Abs(x - y);
        stats.Finite++;
        stats.SumAbs += difference;
        if (difference > stats.MaxAbs) stats.MaxAbs = difference;
        if (x != 0 && difference / Math.Abs(x) > stats.MaxRel) stats.MaxRel = difference / Math.Abs(x);
        double excess = difference - rtol * Math.Abs(x);
        if (excess > stats.NeededAtol) stats.NeededAtol = excess;
        return excess;
    }
}
