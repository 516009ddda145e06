using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;

namespace OnnxConvTool.Analysis;

/// <summary>
/// The numerical ranks of many conv weights: at most one worker per core, each ranking one weight after another
/// in its own <see cref="RankWorkspace"/> and reading each weight's raw bytes from the model file only when it
/// reaches it, so memory stays at a few copies of the largest weight however many weights there are.
/// </summary>
internal static class WeightRanks
{
    /// <summary>Workers the audit uses: one per core.</summary>
    public static int DefaultWorkers => Environment.ProcessorCount;

    /// <summary>
    /// The rank of each (weight, group) pair: null where the weight is not a constant floating-point tensor of rank ≥ 2
    /// whose output channels split into the groups. <paramref name="ranked"/> is called on the worker's thread with
    /// the index of each weight as soon as it is done.
    /// </summary>
    public static NumericalRank?[] Compute(IReadOnlyList<(Value? Weight, long Group)> weights, int maxWorkers, Action<int>? ranked = null)
    {
        var ranks = new NumericalRank?[weights.Count];
        if (weights.Count == 0) return ranks;
        int workers = Math.Clamp(maxWorkers, 1, weights.Count);
        int next = -1;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            var workspace = new RankWorkspace();
            for (int i = Interlocked.Increment(ref next); i < weights.Count; i = Interlocked.Increment(ref next))
            {
                var (weight, group) = weights[i];
                ranks[i] = weight is null ? null : Rank(weight, group, workspace);
                ranked?.Invoke(i);
            }
        });
        return ranks;
    }

    /// <summary>The weight as the M×(C/g) block-diagonal matrix of its groups, and its numerical rank; null when not constant or not floating point.</summary>
    public static NumericalRank? Rank(Value weightValue, long group, RankWorkspace workspace)
    {
        if (Model.TryGetConstant(weightValue) is not { } weight || weight.Rank < 2) return null;
        if (!FloatElements.IsSupported(weight.ElementType)) return null;
        // Machine epsilon of the stored type: the spacing of its values at 1.
        double epsilon = FloatElements.Ulp(weight.ElementType, 1.0);
        long m = weight.Dims[0], columns = weight.ElementCount / Math.Max(m, 1);
        if (m == 0 || columns == 0 || group <= 0 || m % group != 0 || weight.ByteCount > Array.MaxLength) return null;
        var raw = workspace.Raw((int)weight.ByteCount).AsSpan(0, (int)weight.ByteCount);
        weight.ReadRawBytes(raw);
        return MatrixRank.ComputeBlockDiagonal(raw, weight.ElementType, (int)(m / group), (int)columns, (int)group, epsilon, workspace);
    }
}
