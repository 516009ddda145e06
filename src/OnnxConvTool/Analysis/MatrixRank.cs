using System.Numerics;
using System.Runtime.InteropServices;

namespace OnnxConvTool.Analysis;

/// <summary>The numerical rank of a weight matrix and the tolerance it was decided with.</summary>
/// <param name="Rank">Singular values above <paramref name="Tolerance"/>.</param>
/// <param name="FullRank">min(rows, columns): the largest rank the matrix can have.</param>
/// <param name="LargestSingularValue">σmax, to about 15 significant digits.</param>
/// <param name="Tolerance">max(rows, columns) · eps · σmax, as numpy's <c>matrix_rank</c> computes it.</param>
internal sealed record NumericalRank(int Rank, int FullRank, double LargestSingularValue, double Tolerance)
{
    public bool IsDeficient => Rank < FullRank;
}

/// <summary>
/// Numerical rank by singular values, with numpy's <c>matrix_rank</c> tolerance
/// <c>max(M, N) · eps · σmax</c>, where eps is the machine epsilon of the weights' own element type.
/// </summary>
/// <remarks>
/// Both methods reduce a block to a symmetric tridiagonal matrix in double precision and never form
/// singular vectors; σmax then comes from bisection and the rank from one Sturm count at the tolerance,
/// both O(n). Let k = min(M, N), L = max(M, N).
/// <list type="bullet">
/// <item><see cref="SpectrumMethod.Gram"/> (weights of float32 and narrower): the k×k Gram matrix
/// (k²L/2 multiply-adds of contiguous rows), then Householder tridiagonalisation (≈ 2k³); its eigenvalues
/// are σ². Rounding moves them by about L·k·2⁻⁵³·σmax², under 2% of tol² = (L·eps·σmax)² for any
/// eps ≥ 2⁻²³, so the count at tol² is the count at tol. About 0.25 s for 1000×1000 and 0.1 s for
/// 2048×512 on one core.</item>
/// <item><see cref="SpectrumMethod.GolubKahan"/> (float64 weights, whose tolerance is too fine for σ²):
/// Householder bidiagonalisation (≈ 4Lk² − 4k³/3); the Golub–Kahan tridiagonal (zero diagonal,
/// off-diagonal d₀, e₀, d₁, e₁, …) has eigenvalues ±σ.</item>
/// </list>
/// A block-diagonal matrix (a grouped convolution) has the union of its blocks' singular values, so its
/// rank is the sum of the blocks' counts with one global tolerance — numpy's rank of the assembled matrix.
/// </remarks>
internal static class MatrixRank
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
    public static NumericalRank ComputeBlockDiagonal(ReadOnlySpan<double> data, int blockRows, int blockColumns, int blocks, double epsilon = Float32Epsilon) =>
        ComputeBlockDiagonal(data, blockRows, blockColumns, blocks, epsilon,
            epsilon >= Float32Epsilon / 2 ? SpectrumMethod.Gram : SpectrumMethod.GolubKahan);

    internal static NumericalRank ComputeBlockDiagonal(ReadOnlySpan<double> data, int blockRows, int blockColumns, int blocks, double epsilon, SpectrumMethod method)
    {
        if (blockRows <= 0 || blockColumns <= 0 || blocks <= 0)
            throw new ArgumentException($"a {blocks}×{blockRows}×{blockColumns} block matrix has no elements");
        long blockSize = (long)blockRows * blockColumns;
        if (data.Length != blockSize * blocks)
            throw new ArgumentException($"{data.Length} values do not fill {blocks} blocks of {blockRows}×{blockColumns}");

        bool gram = method == SpectrumMethod.Gram;
        var spectra = new SymmetricTridiagonal[blocks];
        double sigmaMax = 0;
        for (int b = 0; b < blocks; b++)
        {
            var block = data.Slice((int)(b * blockSize), (int)blockSize);
            spectra[b] = gram ? GramTridiagonal(block, blockRows, blockColumns) : GolubKahanTridiagonal(block, blockRows, blockColumns);
            double top = spectra[b].LargestEigenvalue();
            sigmaMax = Math.Max(sigmaMax, gram ? Math.Sqrt(Math.Max(top, 0)) : top);
        }
        long rows = (long)blockRows * blocks, columns = (long)blockColumns * blocks;
        double tolerance = Math.Max(rows, columns) * epsilon * sigmaMax;
        int rank = 0;
        if (sigmaMax > 0)
            foreach (var spectrum in spectra)
                rank += spectrum.CountEigenvaluesAbove(gram ? tolerance * tolerance : tolerance);
        return new NumericalRank(rank, (int)Math.Min(rows, columns), sigmaMax, tolerance);
    }

    /// <summary>
    /// The tridiagonal form of the Gram matrix of the block's shorter side (AAᵀ when rows ≤ columns, else AᵀA):
    /// eigenvalues σᵢ².
    /// </summary>
    internal static SymmetricTridiagonal GramTridiagonal(ReadOnlySpan<double> source, int rows, int columns)
    {
        int k = Math.Min(rows, columns), length = Math.Max(rows, columns);
        // The k vectors whose inner products make the Gram matrix, each contiguous.
        ReadOnlySpan<double> vectors;
        if (rows <= columns) vectors = source;
        else
        {
            var transposed = new double[(long)k * length];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < columns; j++)
                    transposed[(long)j * length + i] = source[i * columns + j];
            vectors = transposed;
        }
        var gram = new double[(long)k * k];
        for (int p = 0; p < k; p++)
        {
            var vp = vectors.Slice(p * length, length);
            for (int q = 0; q <= p; q++)
            {
                double dot = Dot(vp, vectors.Slice(q * length, length));
                gram[(long)p * k + q] = dot;
                gram[(long)q * k + p] = dot;
            }
        }
        return Tridiagonalize(gram, k);
    }

    /// <summary>
    /// Householder reduction of the symmetric n×n matrix <paramref name="a"/> (overwritten) to tridiagonal form
    /// with the same eigenvalues: at step j, H = I − β v vᵀ zeroes row and column j beyond the off-diagonal and
    /// the trailing block becomes H A H = A − v wᵀ − w vᵀ with p = β A v, w = p − (β/2)(pᵀv) v.
    /// Each row of the trailing block gets step j's update and, while it is in cache, its product with
    /// step j+1's reflector (built first from row j+1), so every step reads the block once.
    /// </summary>
    private static SymmetricTridiagonal Tridiagonalize(double[] a, int n)
    {
        var diagonal = new double[n];
        var offDiagonal = new double[Math.Max(n - 1, 0)];
        if (n == 0) return new SymmetricTridiagonal(diagonal, offDiagonal);
        var v = new double[n];
        var p = new double[n];
        var nextV = new double[n];
        var nextP = new double[n];
        Span<double> Row(int i, int from) => a.AsSpan((int)((long)i * n + from), n - from);

        // Step 0's reflector and p = β A v come from the untouched matrix.
        var (beta, alpha) = Reflector(Row(0, 1), v);
        if (beta != 0)
            for (int i = 1; i < n; i++) p[i] = beta * Dot(Row(i, 1), v.AsSpan(1));
        for (int j = 0; j < n - 1; j++)
        {
            diagonal[j] = a[(long)j * n + j];
            offDiagonal[j] = alpha;
            var vs = v.AsSpan(j + 1);
            var ws = p.AsSpan(j + 1);
            if (beta != 0)
            {
                Axpy(-0.5 * beta * Dot(ws, vs), vs, ws);
                UpdateRow(Row(j + 1, j + 1), vs, ws, 0);
            }
            double nextBeta = 0, nextAlpha = 0;
            if (j + 1 < n - 1) (nextBeta, nextAlpha) = Reflector(Row(j + 1, j + 2), nextV);
            for (int i = j + 2; i < n; i++)
            {
                var row = Row(i, j + 1);
                if (beta != 0) UpdateRow(row, vs, ws, i - (j + 1));
                if (nextBeta != 0) nextP[i] = nextBeta * Dot(row[1..], nextV.AsSpan(j + 2));
            }
            (v, nextV) = (nextV, v);
            (p, nextP) = (nextP, p);
            (beta, alpha) = (nextBeta, nextAlpha);
        }
        diagonal[n - 1] = a[(long)n * n - 1];
        return new SymmetricTridiagonal(diagonal, offDiagonal);

        // row −= v[k]·w + w[k]·v, where k is the row's index in the trailing block.
        static void UpdateRow(Span<double> row, ReadOnlySpan<double> v, ReadOnlySpan<double> w, int k)
        {
            Axpy(-v[k], w, row);
            Axpy(-w[k], v, row);
        }
    }

    /// <summary>
    /// The Householder reflector that maps <paramref name="x"/> to α e₁, stored in <paramref name="v"/> at the
    /// positions x occupies in its row (the tail of v). Returns β = 0 when there is nothing to reflect (x is
    /// zero or has one element; α is then x's only value or 0).
    /// </summary>
    private static (double Beta, double Alpha) Reflector(ReadOnlySpan<double> x, double[] v)
    {
        if (x.Length == 0) return (0, 0);
        if (x.Length == 1) return (0, x[0]);
        double norm = Math.Sqrt(Dot(x, x));
        if (norm == 0) return (0, 0);
        double x0 = x[0];
        double alpha = x0 >= 0 ? -norm : norm;
        var vs = v.AsSpan(v.Length - x.Length);
        x.CopyTo(vs);
        vs[0] = x0 - alpha;
        return (1.0 / (norm * (norm + Math.Abs(x0))), alpha);
    }

    /// <summary>The Golub–Kahan tridiagonal of the block's bidiagonal form: zero diagonal, eigenvalues ±σᵢ.</summary>
    internal static SymmetricTridiagonal GolubKahanTridiagonal(ReadOnlySpan<double> source, int rows, int columns)
    {
        var (d, e) = Bidiagonalize(source, rows, columns);
        var offDiagonal = new double[2 * d.Length - 1];
        for (int i = 0; i < offDiagonal.Length; i++) offDiagonal[i] = (i & 1) == 0 ? d[i >> 1] : e[i >> 1];
        return new SymmetricTridiagonal(new double[2 * d.Length], offDiagonal);
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

internal enum SpectrumMethod
{
    Gram,
    GolubKahan,
}

/// <summary>A symmetric tridiagonal matrix (diagonal a, off-diagonal b) and the eigenvalue questions the rank needs.</summary>
internal sealed class SymmetricTridiagonal(double[] diagonal, double[] offDiagonal)
{
    public int Order => diagonal.Length;

    /// <summary>
    /// How many eigenvalues exceed <paramref name="x"/>: the order minus the number of non-positive pivots
    /// of the LDLᵀ factorisation of T − xI (Sturm sequence; a zero pivot is nudged to a tiny negative).
    /// </summary>
    public int CountEigenvaluesAbove(double x)
    {
        int n = diagonal.Length;
        if (n == 0) return 0;
        const double Tiny = 1e-290;
        int atMost = 0;
        double q = diagonal[0] - x;
        if (q <= 0) atMost++;
        for (int i = 1; i < n; i++)
        {
            if (Math.Abs(q) < Tiny) q = -Tiny;
            double b = offDiagonal[i - 1];
            q = diagonal[i] - x - b * b / q;
            if (q <= 0) atMost++;
        }
        return n - atMost;
    }

    /// <summary>The largest eigenvalue, by bisection inside the Gershgorin interval to about 15 digits.</summary>
    public double LargestEigenvalue()
    {
        int n = diagonal.Length;
        if (n == 0) return 0;
        double lower = double.MaxValue, upper = double.MinValue;
        for (int i = 0; i < n; i++)
        {
            double radius = (i > 0 ? Math.Abs(offDiagonal[i - 1]) : 0) + (i < n - 1 ? Math.Abs(offDiagonal[i]) : 0);
            lower = Math.Min(lower, diagonal[i] - radius);
            upper = Math.Max(upper, diagonal[i] + radius);
        }
        for (int iteration = 0; iteration < 200 && upper - lower > 1e-15 * Math.Max(Math.Abs(upper), Math.Abs(lower)); iteration++)
        {
            double middle = 0.5 * (lower + upper);
            if (CountEigenvaluesAbove(middle) > 0) lower = middle;
            else upper = middle;
        }
        return upper;
    }
}
