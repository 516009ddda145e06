using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Analysis;

using DataType = TensorProto.Types.DataType;

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
/// (k²L/2 multiply-adds, cache-tiled over panels of the weights decoded 256 columns at a time), kept as a packed
/// upper triangle, then Householder tridiagonalisation of it (≈ 4k³/3), each step updating the trailing triangle
/// and multiplying it by the next reflector in one pass; its eigenvalues are σ². Rounding moves them by about
/// L·k·2⁻⁵³·σmax², under 2% of tol² = (L·eps·σmax)² for any eps ≥ 2⁻²³, so the count at tol² is the count at
/// tol.</item>
/// <item><see cref="SpectrumMethod.GolubKahan"/> (float64 weights, whose tolerance is too fine for σ²):
/// Householder bidiagonalisation (≈ 4Lk² − 4k³/3); the Golub–Kahan tridiagonal (zero diagonal,
/// off-diagonal d₀, e₀, d₁, e₁, …) has eigenvalues ±σ.</item>
/// </list>
/// A block-diagonal matrix (a grouped convolution) has the union of its blocks' singular values, so its
/// rank is the sum of the blocks' counts with one global tolerance — numpy's rank of the assembled matrix.
/// The large buffers live in a <see cref="RankWorkspace"/>, so ranking many weights in a row allocates once.
/// </remarks>
internal static class MatrixRank
{
    /// <summary>Machine epsilon of float32 (2⁻²³), numpy's <c>finfo(float32).eps</c>.</summary>
    public const double Float32Epsilon = 1.1920928955078125e-07;

    /// <summary>Columns of the weights decoded to float64 at a time for the Gram product.</summary>
    private const int PanelColumns = 256;

    /// <summary>Gram rows whose panel slices stay in cache while the other rows stream past them.</summary>
    private const int GramTileRows = 16;

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
        ComputeBlockDiagonal(MemoryMarshal.AsBytes(data), DataType.Double, blockRows, blockColumns, blocks, epsilon, new RankWorkspace());

    /// <summary>
    /// As <see cref="ComputeBlockDiagonal(ReadOnlySpan{double}, int, int, int, double)"/>, for the raw little-endian
    /// values of a floating-point <paramref name="elementType"/> (float, double, float16, bfloat16), decoded to float64
    /// a panel at a time rather than copied whole; <paramref name="workspace"/> holds the buffers and is reused.
    /// </summary>
    public static NumericalRank ComputeBlockDiagonal(ReadOnlySpan<byte> raw, DataType elementType, int blockRows, int blockColumns, int blocks,
        double epsilon, RankWorkspace workspace) =>
        ComputeBlockDiagonal(raw, elementType, blockRows, blockColumns, blocks, epsilon,
            epsilon >= Float32Epsilon / 2 ? SpectrumMethod.Gram : SpectrumMethod.GolubKahan, workspace);

    internal static NumericalRank ComputeBlockDiagonal(ReadOnlySpan<double> data, int blockRows, int blockColumns, int blocks, double epsilon, SpectrumMethod method) =>
        ComputeBlockDiagonal(MemoryMarshal.AsBytes(data), DataType.Double, blockRows, blockColumns, blocks, epsilon, method, new RankWorkspace());

    internal static NumericalRank ComputeBlockDiagonal(ReadOnlySpan<byte> raw, DataType elementType, int blockRows, int blockColumns, int blocks,
        double epsilon, SpectrumMethod method, RankWorkspace workspace)
    {
        if (!FloatElements.IsSupported(elementType))
            throw new ArgumentException($"element type {ElementTypes.Name(elementType)} is not floating-point", nameof(elementType));
        if (blockRows <= 0 || blockColumns <= 0 || blocks <= 0)
            throw new ArgumentException($"a {blocks}×{blockRows}×{blockColumns} block matrix has no elements");
        int elementBytes = ElementTypes.BitsPerElement(elementType) / 8;
        long blockSize = (long)blockRows * blockColumns;
        if (raw.Length != blockSize * blocks * elementBytes)
            throw new ArgumentException($"{raw.Length / elementBytes} values do not fill {blocks} blocks of {blockRows}×{blockColumns}");

        bool gram = method == SpectrumMethod.Gram;
        var spectra = new SymmetricTridiagonal[blocks];
        double sigmaMax = 0;
        int blockBytes = (int)(blockSize * elementBytes);
        for (int b = 0; b < blocks; b++)
        {
            var block = raw.Slice(b * blockBytes, blockBytes);
            spectra[b] = gram
                ? GramTridiagonal(block, elementType, blockRows, blockColumns, workspace)
                : GolubKahanTridiagonal(block, elementType, blockRows, blockColumns, workspace);
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
    /// eigenvalues σᵢ². The Gram matrix's upper triangle is accumulated panel by panel: the k vectors'
    /// next <see cref="PanelColumns"/> values are decoded (zero-padded to a multiple of 4, with the vector count
    /// padded to a multiple of 4 by zero vectors) and every 2×4 block of inner products is added in.
    /// </summary>
    private static SymmetricTridiagonal GramTridiagonal(ReadOnlySpan<byte> block, DataType type, int rows, int columns, RankWorkspace workspace)
    {
        int k = Math.Min(rows, columns), length = Math.Max(rows, columns);
        int elementBytes = ElementTypes.BitsPerElement(type) / 8;
        int triangle = TriangleSize(k);
        var gram = workspace.Matrix(triangle);
        gram.AsSpan(0, triangle).Clear();
        int paddedK = (k + 3) & ~3;
        var panel = workspace.Panel(paddedK * PanelColumns);
        panel.AsSpan(k * PanelColumns, (paddedK - k) * PanelColumns).Clear();
        var row = rows > columns ? workspace.Row(columns) : null;
        for (int c0 = 0; c0 < length; c0 += PanelColumns)
        {
            int count = Math.Min(PanelColumns, length - c0), padded = (count + 3) & ~3;
            if (rows <= columns)
                for (int p = 0; p < k; p++)
                    FloatElements.Decode(type, block.Slice((p * columns + c0) * elementBytes, count * elementBytes),
                        panel.AsSpan(p * PanelColumns, count));
            else
                for (int i = 0; i < count; i++)
                {
                    FloatElements.Decode(type, block.Slice((c0 + i) * columns * elementBytes, columns * elementBytes), row.AsSpan(0, columns));
                    for (int p = 0; p < k; p++) panel[p * PanelColumns + i] = row![p];
                }
            if (padded > count)
                for (int p = 0; p < k; p++) panel.AsSpan(p * PanelColumns + count, padded - count).Clear();
            AccumulateGram(panel, padded, k, paddedK, gram);
        }
        return Tridiagonalize(gram, k, workspace);
    }

    private static int TriangleSize(int k) =>
        (long)k * (k + 1) / 2 <= Array.MaxLength ? (int)((long)k * (k + 1) / 2) : throw new ArgumentException($"a {k}×{k} Gram matrix exceeds the largest array");

    /// <summary>Where row <paramref name="i"/> (columns i … n−1) of a packed upper triangle of order n starts.</summary>
    private static int RowStart(int i, int n) => (int)((long)i * n - (long)i * (i - 1) / 2);

    /// <summary>Adds the panel's inner products into the packed upper triangle of the k×k <paramref name="gram"/>.</summary>
    private static void AccumulateGram(double[] panel, int length, int k, int paddedK, double[] gram)
    {
        Span<double> sums = stackalloc double[8];
        for (int q0 = 0; q0 < paddedK; q0 += GramTileRows)
        {
            int q1 = Math.Min(q0 + GramTileRows, paddedK);
            for (int p = 0; p < Math.Min(q1, k); p += 2)
                for (int q = Math.Max(q0, p & ~3); q < q1; q += 4)
                {
                    InnerProducts2x4(panel, p, q, length, sums);
                    for (int a = 0; a < 2; a++)
                    {
                        int pp = p + a;
                        if (pp >= k) break;
                        for (int b = 0; b < 4; b++)
                        {
                            int qq = q + b;
                            if (qq >= pp && qq < k) gram[RowStart(pp, k) + qq - pp] += sums[a * 4 + b];
                        }
                    }
                }
        }
    }

    /// <summary>
    /// The eight inner products of panel rows p, p+1 with rows q … q+3 over their first <paramref name="length"/>
    /// values (a multiple of 4), row-major into <paramref name="sums"/>.
    /// </summary>
    private static void InnerProducts2x4(double[] panel, int p, int q, int length, Span<double> sums)
    {
        ref double origin = ref MemoryMarshal.GetArrayDataReference(panel);
        ref double a0 = ref Unsafe.Add(ref origin, p * PanelColumns);
        ref double a1 = ref Unsafe.Add(ref a0, PanelColumns);
        ref double b0 = ref Unsafe.Add(ref origin, q * PanelColumns);
        ref double b1 = ref Unsafe.Add(ref b0, PanelColumns);
        ref double b2 = ref Unsafe.Add(ref b1, PanelColumns);
        ref double b3 = ref Unsafe.Add(ref b2, PanelColumns);
        nuint n = (nuint)length;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector256<double> s10 = default, s11 = default, s12 = default, s13 = default;
            for (nuint i = 0; i < n; i += 4)
            {
                var x0 = Vector256.LoadUnsafe(ref a0, i);
                var x1 = Vector256.LoadUnsafe(ref a1, i);
                var y = Vector256.LoadUnsafe(ref b0, i);
                s00 = Vector256.MultiplyAddEstimate(x0, y, s00);
                s10 = Vector256.MultiplyAddEstimate(x1, y, s10);
                y = Vector256.LoadUnsafe(ref b1, i);
                s01 = Vector256.MultiplyAddEstimate(x0, y, s01);
                s11 = Vector256.MultiplyAddEstimate(x1, y, s11);
                y = Vector256.LoadUnsafe(ref b2, i);
                s02 = Vector256.MultiplyAddEstimate(x0, y, s02);
                s12 = Vector256.MultiplyAddEstimate(x1, y, s12);
                y = Vector256.LoadUnsafe(ref b3, i);
                s03 = Vector256.MultiplyAddEstimate(x0, y, s03);
                s13 = Vector256.MultiplyAddEstimate(x1, y, s13);
            }
            sums[0] = Vector256.Sum(s00); sums[1] = Vector256.Sum(s01); sums[2] = Vector256.Sum(s02); sums[3] = Vector256.Sum(s03);
            sums[4] = Vector256.Sum(s10); sums[5] = Vector256.Sum(s11); sums[6] = Vector256.Sum(s12); sums[7] = Vector256.Sum(s13);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<double> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector128<double> s10 = default, s11 = default, s12 = default, s13 = default;
            for (nuint i = 0; i < n; i += 2)
            {
                var x0 = Vector128.LoadUnsafe(ref a0, i);
                var x1 = Vector128.LoadUnsafe(ref a1, i);
                var y = Vector128.LoadUnsafe(ref b0, i);
                s00 = Vector128.MultiplyAddEstimate(x0, y, s00);
                s10 = Vector128.MultiplyAddEstimate(x1, y, s10);
                y = Vector128.LoadUnsafe(ref b1, i);
                s01 = Vector128.MultiplyAddEstimate(x0, y, s01);
                s11 = Vector128.MultiplyAddEstimate(x1, y, s11);
                y = Vector128.LoadUnsafe(ref b2, i);
                s02 = Vector128.MultiplyAddEstimate(x0, y, s02);
                s12 = Vector128.MultiplyAddEstimate(x1, y, s12);
                y = Vector128.LoadUnsafe(ref b3, i);
                s03 = Vector128.MultiplyAddEstimate(x0, y, s03);
                s13 = Vector128.MultiplyAddEstimate(x1, y, s13);
            }
            sums[0] = Vector128.Sum(s00); sums[1] = Vector128.Sum(s01); sums[2] = Vector128.Sum(s02); sums[3] = Vector128.Sum(s03);
            sums[4] = Vector128.Sum(s10); sums[5] = Vector128.Sum(s11); sums[6] = Vector128.Sum(s12); sums[7] = Vector128.Sum(s13);
        }
        else
        {
            var rowsA = panel.AsSpan(p * PanelColumns);
            var rowsB = panel.AsSpan(q * PanelColumns);
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 4; b++)
                    sums[a * 4 + b] = Dot(rowsA.Slice(a * PanelColumns, length), rowsB.Slice(b * PanelColumns, length));
        }
    }

    /// <summary>
    /// Householder reduction of the symmetric n×n matrix whose upper triangle is packed row by row in
    /// <paramref name="a"/> (row i holds columns i … n−1; overwritten) to tridiagonal form with the same eigenvalues: at step j,
    /// H = I − β v vᵀ zeroes row j beyond the off-diagonal and the trailing block becomes
    /// H A H = A − v wᵀ − w vᵀ with p = β A v, w = p − (β/2)(pᵀv) v. Each row of the trailing triangle gets
    /// step j's update and, while it is in cache, its part of step j+1's product p' = β' A v' (the reflector
    /// built first from row j+1), so every step reads and writes the triangle once.
    /// </summary>
    private static SymmetricTridiagonal Tridiagonalize(double[] a, int n, RankWorkspace workspace)
    {
        var diagonal = new double[n];
        var offDiagonal = new double[Math.Max(n - 1, 0)];
        if (n == 0) return new SymmetricTridiagonal(diagonal, offDiagonal);
        var v = workspace.Vector(0, n);
        var p = workspace.Vector(1, n);
        var nextV = workspace.Vector(2, n);
        var nextP = workspace.Vector(3, n);
        Span<double> Row(int i, int from) => a.AsSpan(RowStart(i, n) + from - i, n - from);

        // Step 0's reflector and p = β A v come from the untouched matrix (an update with w = 0).
        var (beta, alpha) = Reflector(Row(0, 1), v.AsSpan(1, n - 1));
        p.AsSpan(0, n).Clear();
        if (beta != 0)
        {
            var zero = nextP.AsSpan(0, n);
            zero.Clear();
            for (int r = 1; r < n; r++)
                p[r] += a[RowStart(r, n)] * v[r] + UpdateRowAndMultiply(Row(r, r + 1), zero[(r + 1)..], zero[(r + 1)..], 0, 0, v.AsSpan(r + 1, n - r - 1), v[r], p.AsSpan(r + 1, n - r - 1));
            Scale(beta, p.AsSpan(1, n - 1));
        }
        for (int j = 0; j < n - 1; j++)
        {
            diagonal[j] = a[RowStart(j, n)];
            offDiagonal[j] = alpha;
            int first = j + 1, trailing = n - first;
            var vs = v.AsSpan(first, trailing);
            var ws = p.AsSpan(first, trailing);
            if (beta != 0) Axpy(-0.5 * beta * Dot(ws, vs), vs, ws);
            else
            {
                vs.Clear();
                ws.Clear();
            }
            var head = Row(first, first);
            Axpy(-v[first], ws, head);
            Axpy(-p[first], vs, head);

            double nextBeta = 0, nextAlpha = 0;
            var nextVs = nextV.AsSpan(first, trailing);
            nextVs.Clear();
            if (trailing > 1) (nextBeta, nextAlpha) = Reflector(head[1..], nextVs[1..]);
            var nextPs = nextP.AsSpan(first, trailing);
            nextPs.Clear();
            for (int r = first + 1; r < n; r++)
            {
                int index = r - first;
                double vr = v[r], wr = p[r], nextVr = nextV[r];
                int at = RowStart(r, n);
                double d = a[at] - 2 * vr * wr;
                a[at] = d;
                nextP[r] += d * nextVr + UpdateRowAndMultiply(Row(r, r + 1), vs[(index + 1)..], ws[(index + 1)..], vr, wr,
                    nextVs[(index + 1)..], nextVr, nextPs[(index + 1)..]);
            }
            if (nextBeta != 0) Scale(nextBeta, nextPs);
            (v, nextV) = (nextV, v);
            (p, nextP) = (nextP, p);
            (beta, alpha) = (nextBeta, nextAlpha);
        }
        diagonal[n - 1] = a[RowStart(n - 1, n)];
        return new SymmetricTridiagonal(diagonal, offDiagonal);
    }

    /// <summary>
    /// row −= vr·w + wr·v; then y += nextVr·row, and returns row·nextV: one pass over a row of the trailing triangle
    /// (its part right of the diagonal) for step j's update and step j+1's symmetric product.
    /// </summary>
    private static double UpdateRowAndMultiply(Span<double> row, ReadOnlySpan<double> v, ReadOnlySpan<double> w, double vr, double wr,
        ReadOnlySpan<double> nextV, double nextVr, Span<double> y)
    {
        int length = row.Length, i = 0;
        ref double r = ref MemoryMarshal.GetReference(row);
        ref double pv = ref MemoryMarshal.GetReference(v);
        ref double pw = ref MemoryMarshal.GetReference(w);
        ref double pn = ref MemoryMarshal.GetReference(nextV);
        ref double py = ref MemoryMarshal.GetReference(y);
        double dot = 0;
        if (Vector256.IsHardwareAccelerated && length >= 4)
        {
            var mvr = Vector256.Create(-vr);
            var mwr = Vector256.Create(-wr);
            var nvr = Vector256.Create(nextVr);
            Vector256<double> acc0 = default, acc1 = default;
            for (; i <= length - 8; i += 8)
            {
                nuint i0 = (nuint)i, i1 = (nuint)(i + 4);
                var x0 = Vector256.MultiplyAddEstimate(mvr, Vector256.LoadUnsafe(ref pw, i0), Vector256.LoadUnsafe(ref r, i0));
                var x1 = Vector256.MultiplyAddEstimate(mvr, Vector256.LoadUnsafe(ref pw, i1), Vector256.LoadUnsafe(ref r, i1));
                x0 = Vector256.MultiplyAddEstimate(mwr, Vector256.LoadUnsafe(ref pv, i0), x0);
                x1 = Vector256.MultiplyAddEstimate(mwr, Vector256.LoadUnsafe(ref pv, i1), x1);
                x0.StoreUnsafe(ref r, i0);
                x1.StoreUnsafe(ref r, i1);
                acc0 = Vector256.MultiplyAddEstimate(x0, Vector256.LoadUnsafe(ref pn, i0), acc0);
                acc1 = Vector256.MultiplyAddEstimate(x1, Vector256.LoadUnsafe(ref pn, i1), acc1);
                Vector256.MultiplyAddEstimate(x0, nvr, Vector256.LoadUnsafe(ref py, i0)).StoreUnsafe(ref py, i0);
                Vector256.MultiplyAddEstimate(x1, nvr, Vector256.LoadUnsafe(ref py, i1)).StoreUnsafe(ref py, i1);
            }
            for (; i <= length - 4; i += 4)
            {
                nuint i0 = (nuint)i;
                var x0 = Vector256.MultiplyAddEstimate(mvr, Vector256.LoadUnsafe(ref pw, i0), Vector256.LoadUnsafe(ref r, i0));
                x0 = Vector256.MultiplyAddEstimate(mwr, Vector256.LoadUnsafe(ref pv, i0), x0);
                x0.StoreUnsafe(ref r, i0);
                acc0 = Vector256.MultiplyAddEstimate(x0, Vector256.LoadUnsafe(ref pn, i0), acc0);
                Vector256.MultiplyAddEstimate(x0, nvr, Vector256.LoadUnsafe(ref py, i0)).StoreUnsafe(ref py, i0);
            }
            dot = Vector256.Sum(acc0 + acc1);
        }
        else if (Vector128.IsHardwareAccelerated && length >= 2)
        {
            var mvr = Vector128.Create(-vr);
            var mwr = Vector128.Create(-wr);
            var nvr = Vector128.Create(nextVr);
            Vector128<double> acc0 = default, acc1 = default;
            for (; i <= length - 4; i += 4)
            {
                nuint i0 = (nuint)i, i1 = (nuint)(i + 2);
                var x0 = Vector128.MultiplyAddEstimate(mvr, Vector128.LoadUnsafe(ref pw, i0), Vector128.LoadUnsafe(ref r, i0));
                var x1 = Vector128.MultiplyAddEstimate(mvr, Vector128.LoadUnsafe(ref pw, i1), Vector128.LoadUnsafe(ref r, i1));
                x0 = Vector128.MultiplyAddEstimate(mwr, Vector128.LoadUnsafe(ref pv, i0), x0);
                x1 = Vector128.MultiplyAddEstimate(mwr, Vector128.LoadUnsafe(ref pv, i1), x1);
                x0.StoreUnsafe(ref r, i0);
                x1.StoreUnsafe(ref r, i1);
                acc0 = Vector128.MultiplyAddEstimate(x0, Vector128.LoadUnsafe(ref pn, i0), acc0);
                acc1 = Vector128.MultiplyAddEstimate(x1, Vector128.LoadUnsafe(ref pn, i1), acc1);
                Vector128.MultiplyAddEstimate(x0, nvr, Vector128.LoadUnsafe(ref py, i0)).StoreUnsafe(ref py, i0);
                Vector128.MultiplyAddEstimate(x1, nvr, Vector128.LoadUnsafe(ref py, i1)).StoreUnsafe(ref py, i1);
            }
            dot = Vector128.Sum(acc0 + acc1);
        }
        for (; i < length; i++)
        {
            double x = row[i] - vr * w[i] - wr * v[i];
            row[i] = x;
            dot += x * nextV[i];
            y[i] += x * nextVr;
        }
        return dot;
    }

    /// <summary>
    /// The Householder reflector that maps <paramref name="x"/> to α e₁, stored in <paramref name="v"/> (as long as x).
    /// Returns β = 0 when there is nothing to reflect (x is zero or has one element; α is then x's only value or 0).
    /// </summary>
    private static (double Beta, double Alpha) Reflector(ReadOnlySpan<double> x, Span<double> v)
    {
        if (x.Length == 0) return (0, 0);
        if (x.Length == 1) return (0, x[0]);
        double norm = Math.Sqrt(Dot(x, x));
        if (norm == 0) return (0, 0);
        double x0 = x[0];
        double alpha = x0 >= 0 ? -norm : norm;
        x.CopyTo(v);
        v[0] = x0 - alpha;
        return (1.0 / (norm * (norm + Math.Abs(x0))), alpha);
    }

    /// <summary>The Golub–Kahan tridiagonal of the block's bidiagonal form: zero diagonal, eigenvalues ±σᵢ.</summary>
    private static SymmetricTridiagonal GolubKahanTridiagonal(ReadOnlySpan<byte> block, DataType type, int rows, int columns, RankWorkspace workspace)
    {
        var (d, e) = Bidiagonalize(block, type, rows, columns, workspace);
        var offDiagonal = new double[2 * d.Length - 1];
        for (int i = 0; i < offDiagonal.Length; i++) offDiagonal[i] = (i & 1) == 0 ? d[i >> 1] : e[i >> 1];
        return new SymmetricTridiagonal(new double[2 * d.Length], offDiagonal);
    }

    /// <summary>
    /// Householder bidiagonalization of the block decoded into the workspace (transposed when it is wide, so rows ≥ columns).
    /// Returns the diagonal d (length n) and superdiagonal e (length n−1) of B with the same singular values.
    /// </summary>
    private static (double[] D, double[] E) Bidiagonalize(ReadOnlySpan<byte> block, DataType type, int rows, int columns, RankWorkspace workspace)
    {
        int m = Math.Max(rows, columns), n = Math.Min(rows, columns);
        int elementBytes = ElementTypes.BitsPerElement(type) / 8;
        var a = workspace.Matrix((long)m * n <= Array.MaxLength ? m * n : throw new ArgumentException($"a {m}×{n} block exceeds the largest array"));
        if (rows >= columns) FloatElements.Decode(type, block, a.AsSpan(0, m * n));
        else
        {
            var row = workspace.Row(columns);
            for (int i = 0; i < rows; i++)
            {
                FloatElements.Decode(type, block.Slice(i * columns * elementBytes, columns * elementBytes), row.AsSpan(0, columns));
                for (int j = 0; j < columns; j++) a[j * n + i] = row[j];
            }
        }

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
                double x = a[i * n + k];
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
                    for (int i = k; i < m; i++) Axpy(v[i], a.AsSpan(i * n + k + 1, trailing), ws);
                    Axpy(-beta * v[k], ws, a.AsSpan(k * n + k + 1, trailing));
                }
            }
            if (trailing == 0) break;

            // Right reflector G = I − γ u uᵀ zeroes row k right of the superdiagonal.
            var row = a.AsSpan(k * n + k + 1, trailing);
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
                var ri = a.AsSpan(i * n + k + 1, trailing);
                if (beta != 0) Axpy(-beta * v[i], wk, ri);
                if (gamma != 0) Axpy(-gamma * Dot(ri, us), us, ri);
            }
        }
        return (d, e);
    }

    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        int i = 0, length = x.Length;
        ref double px = ref MemoryMarshal.GetReference(x);
        ref double py = ref MemoryMarshal.GetReference(y);
        double result = 0;
        if (Vector256.IsHardwareAccelerated && length >= 4)
        {
            Vector256<double> sum = default;
            for (; i <= length - 4; i += 4)
                sum = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), sum);
            result = Vector256.Sum(sum);
        }
        else if (Vector128.IsHardwareAccelerated && length >= 2)
        {
            Vector128<double> sum = default;
            for (; i <= length - 2; i += 2)
                sum = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref px, (nuint)i), Vector128.LoadUnsafe(ref py, (nuint)i), sum);
            result = Vector128.Sum(sum);
        }
        for (; i < length; i++) result += x[i] * y[i];
        return result;
    }

    /// <summary>y += alpha · x.</summary>
    private static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        int i = 0, length = x.Length;
        ref double px = ref MemoryMarshal.GetReference(x);
        ref double py = ref MemoryMarshal.GetReference(y);
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= length - 4; i += 4)
                Vector256.MultiplyAddEstimate(va, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            var va = Vector128.Create(alpha);
            for (; i <= length - 2; i += 2)
                Vector128.MultiplyAddEstimate(va, Vector128.LoadUnsafe(ref px, (nuint)i), Vector128.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < length; i++) y[i] += alpha * x[i];
    }

    private static void Scale(double factor, Span<double> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] *= factor;
    }
}

/// <summary>
/// The large buffers of one rank computation — the Gram (or bidiagonalisation) matrix, the decoded panel, a decoded
/// row and the reflector vectors — kept between computations, so ranking many weights in a row allocates only when a
/// weight is larger than every one before it. Not thread-safe: one per worker.
/// </summary>
internal sealed class RankWorkspace
{
    private double[] _matrix = [];
    private double[] _panel = [];
    private double[] _row = [];
    private readonly double[][] _vectors = [[], [], [], []];
    private byte[] _raw = [];

    /// <summary>Bytes held by the buffers now.</summary>
    public long HeldBytes => _raw.Length + 8L * (_matrix.Length + _panel.Length + _row.Length + _vectors.Sum(v => (long)v.Length));

    /// <summary>A buffer of at least <paramref name="length"/> bytes for a weight's raw values.</summary>
    internal byte[] Raw(int length) => Grow(ref _raw, length);

    internal double[] Matrix(int length) => Grow(ref _matrix, length);

    internal double[] Panel(int length) => Grow(ref _panel, length);

    internal double[] Row(int length) => Grow(ref _row, length);

    internal double[] Vector(int index, int length) => Grow(ref _vectors[index], length);

    private static T[] Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = []; // the old buffer can be collected while the new one is allocated
            buffer = new T[length];
        }
        return buffer;
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
