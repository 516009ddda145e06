using System.Numerics;
using System.Runtime.InteropServices;

namespace OnnxConvTool.Analysis;

/// <summary>The numerical rank of a weight matrix and the tolerance it was decided with.</summary>
/// <param name="Rank">Singular values above <paramref name="Tolerance"/>.</param>
/// <param name="FullRank">min(rows, columns): the largest rank the matrix can have.</param>
/// <param name="LargestSingularValue">σmax, to about 15 significant digits.</param>
/// <param name="Tolerance">max(rows, columns) · eps · σmax, as numpy's <c>matrix_rank</c> computes it.</param>
public sealed record NumericalRank(int Rank, int FullRank, double LargestSingularValue, double Tolerance)
{
    public bool IsDeficient => Rank < FullRank;
}

/// <summary>
/// Numerical rank by singular values, with numpy's <c>matrix_rank</c> tolerance
/// <c>max(M, N) · eps · σmax</c>, where eps is the machine epsilon of the weights' own element type.
/// </summary>
/// <remarks>
/// Each block is reduced to an upper-bidiagonal matrix by Householder reflections in double precision
/// (≈ 4mn² − 4n³/3 flops, about 0.2 s for 1000×1000 on one core). Its singular values are the
/// non-negative eigenvalues of the Golub–Kahan tridiagonal matrix (zero diagonal, off-diagonal
/// d₀, e₀, d₁, e₁, …), so σmax is found by bisection and the rank is one Sturm count at the tolerance,
/// both O(n). Nothing beyond the two vectors d and e is kept: no singular vectors are formed.
/// For a block-diagonal matrix (a grouped convolution) the singular values are the union of the blocks'
/// singular values, so the rank is the rank of the whole block-diagonal map with one global tolerance.
/// </remarks>
public static class MatrixRank
{
    /// <summary>Machine epsilon of float32 (2⁻²³), numpy's <c>finfo(float32).eps</c>.</summary>
    public const double Float32Epsilon = 1.1920928955078125e-07;

    /// <summary>Rank of a dense row-major <paramref name="rows"/>×<paramref name="columns"/> matrix.</summary>
    public static NumericalRank Compute(ReadOnlySpan<double> matrix, int rows, int columns, double epsilon = Float32Epsilon) =>
        ComputeBlockDiagonal(matrix, rows, columns, 1, epsilon);

    /// <summary>
    /// Rank of the block-diagonal matrix with <paramref name="blocks"/> blocks of
    /// <paramref name="blockRows"/>×<paramref name="blockColumns"/>, stored one block after another
    /// (block b is rows b·blockRows … of <paramref name="data"/>, each row blockColumns long) — the
    /// layout of a grouped Conv weight [M, C/g, 1, …].
    /// </summary>
    public static NumericalRank ComputeBlockDiagonal(ReadOnlySpan<double> data, int blockRows, int blockColumns, int blocks, double epsilon = Float32Epsilon)
    {
        if (blockRows <= 0 || blockColumns <= 0 || blocks <= 0)
            throw new ArgumentException($"a {blocks}×{blockRows}×{blockColumns} block matrix has no elements");
        long blockSize = (long)blockRows * blockColumns;
        if (data.Length != blockSize * blocks)
            throw new ArgumentException($"{data.Length} values do not fill {blocks} blocks of {blockRows}×{blockColumns}");

        var bidiagonals = new (double[] D, double[] E)[blocks];
        double sigmaMax = 0;
        for (int b = 0; b < blocks; b++)
        {
            bidiagonals[b] = Bidiagonalize(data.Slice((int)(b * blockSize), (int)blockSize), blockRows, blockColumns);
            sigmaMax = Math.Max(sigmaMax, LargestSingularValue(bidiagonals[b].D, bidiagonals[b].E));
        }
        long rows = (long)blockRows * blocks, columns = (long)blockColumns * blocks;
        double tolerance = Math.Max(rows, columns) * epsilon * sigmaMax;
        int rank = 0;
        if (sigmaMax > 0)
            foreach (var (d, e) in bidiagonals)
                rank += CountSingularValuesAbove(d, e, tolerance);
        return new NumericalRank(rank, (int)Math.Min(rows, columns), sigmaMax, tolerance);
    }

    /// <summary>
    /// Householder bidiagonalization of a copy of the matrix (transposed first when it is wide, so rows ≥ columns).
    /// Returns the diagonal d (length n) and superdiagonal e (length n−1) of B with the same singular values.
    /// </summary>
    internal static (double[] D, double[] E) Bidiagonalize(ReadOnlySpan<double> source, int rows, int columns)
    {
        int m = Math.Max(rows, columns), n = Math.Min(rows, columns);
        var a = new double[(long)m * n];
        if (rows >= columns) source.CopyTo(a);
        else
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < columns; j++)
                    a[(long)j * n + i] = source[i * columns + j];

        var d = new double[n];
        var e = new double[Math.Max(n - 1, 0)];
        var v = new double[m];
        var w = new double[n];
        var u = new double[n];
        for (int k = 0; k < n; k++)
        {
            int trailing = n - k - 1;
            // Left reflector H = I − β v vᵀ zeroes column k below the diagonal.
            double norm2 = 0;
            for (int i = k; i < m; i++)
            {
                double x = a[(long)i * n + k];
                v[i] = x;
                norm2 += x * x;
            }
            double norm = Math.Sqrt(norm2);
            double beta = 0;
            if (norm > 0)
            {
                double x0 = v[k];
                double alpha = x0 >= 0 ? -norm : norm;
                v[k] = x0 - alpha;
                beta = 1.0 / (norm * (norm + Math.Abs(x0)));
                d[k] = alpha;
                if (trailing > 0)
                {
                    // w = vᵀ A[k.., k+1..]; row k is updated now, the rows below in the fused pass.
                    var ws = w.AsSpan(k + 1, trailing);
                    ws.Clear();
                    for (int i = k; i < m; i++) Axpy(v[i], a.AsSpan((int)((long)i * n + k + 1), trailing), ws);
                    Axpy(-beta * v[k], ws, a.AsSpan((int)((long)k * n + k + 1), trailing));
                }
            }
            if (trailing == 0) break;

            // Right reflector G = I − γ u uᵀ zeroes row k right of the superdiagonal.
            var row = a.AsSpan((int)((long)k * n + k + 1), trailing);
            var us = u.AsSpan(k + 1, trailing);
            var wk = w.AsSpan(k + 1, trailing);
            double rowNorm = Math.Sqrt(Dot(row, row));
            double gamma = 0;
            if (rowNorm > 0)
            {
                double y0 = row[0];
                double alpha = y0 >= 0 ? -rowNorm : rowNorm;
                row.CopyTo(us);
                us[0] = y0 - alpha;
                gamma = 1.0 / (rowNorm * (rowNorm + Math.Abs(y0)));
                e[k] = alpha;
            }
            if (beta == 0 && gamma == 0) continue;
            for (int i = k + 1; i < m; i++)
            {
                var ri = a.AsSpan((int)((long)i * n + k + 1), trailing);
                if (beta != 0) Axpy(-beta * v[i], wk, ri);
                if (gamma != 0) Axpy(-gamma * Dot(ri, us), us, ri);
            }
        }
        return (d, e);
    }

    /// <summary>σmax of the bidiagonal (d, e) by bisection on the Sturm count, from the Gershgorin bound down.</summary>
    internal static double LargestSingularValue(double[] d, double[] e)
    {
        double upper = 0, previous = 0;
        for (int i = 0; i < d.Length + e.Length; i++)
        {
            double b = Math.Abs(OffDiagonal(d, e, i));
            upper = Math.Max(upper, previous + b);
            previous = b;
        }
        upper = Math.Max(upper, previous);
        if (upper == 0) return 0;
        double lower = 0;
        for (int iteration = 0; iteration < 200 && upper - lower > 1e-15 * upper; iteration++)
        {
            double middle = 0.5 * (lower + upper);
            if (CountSingularValuesAbove(d, e, middle) > 0) lower = middle;
            else upper = middle;
        }
        return upper;
    }

    /// <summary>
    /// How many singular values of the bidiagonal (d, e) exceed <paramref name="threshold"/> (> 0): the
    /// Golub–Kahan tridiagonal T (order 2n) has eigenvalues ±σᵢ, so #{σᵢ > x} = 2n − #{eigenvalues of T ≤ x},
    /// and the latter is the number of non-positive pivots of the LDLᵀ factorisation of T − xI.
    /// </summary>
    internal static int CountSingularValuesAbove(double[] d, double[] e, double threshold)
    {
        int order = 2 * d.Length;
        if (order == 0) return 0;
        double tiny = double.Epsilon * 1e30;
        int atMost = 0;
        double q = -threshold;
        if (q <= 0) atMost++;
        for (int i = 1; i < order; i++)
        {
            double b = OffDiagonal(d, e, i - 1);
            if (Math.Abs(q) < tiny) q = -tiny;
            q = -threshold - b * b / q;
            if (q <= 0) atMost++;
        }
        return order - atMost;
    }

    /// <summary>The i-th off-diagonal entry of the Golub–Kahan tridiagonal: d₀, e₀, d₁, e₁, …</summary>
    private static double OffDiagonal(double[] d, double[] e, int i) => (i & 1) == 0 ? d[i >> 1] : e[i >> 1];

    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
        var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
        var sum = Vector<double>.Zero;
        for (int i = 0; i < vx.Length; i++) sum += vx[i] * vy[i];
        double result = Vector.Sum(sum);
        for (int i = vx.Length * Vector<double>.Count; i < x.Length; i++) result += x[i] * y[i];
        return result;
    }

    /// <summary>y += alpha · x.</summary>
    private static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
        var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
        var va = new Vector<double>(alpha);
        for (int i = 0; i < vx.Length; i++) vy[i] += va * vx[i];
        for (int i = vx.Length * Vector<double>.Count; i < x.Length; i++) y[i] += alpha * x[i];
    }
}
