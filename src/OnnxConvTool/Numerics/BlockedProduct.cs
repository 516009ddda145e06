using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OnnxConvTool.Numerics;

/// <summary>
/// <c>C += A·B</c> in float64 for a row-major <c>A [rows, depth]</c> held in memory and a row-major
/// <c>B [depth, columns]</c> read a block of rows at a time, cache-blocked with a 4×8 register kernel
/// (<see cref="Vector256"/>, else <see cref="Vector128"/>, else scalar). Every element of C adds its products in
/// ascending order of the depth index, each product rounded then added (no fused multiply-add), so the result is
/// the same, bit for bit, on every machine and as the plain loop <c>c[r,n] += a[r,j]·b[j,n]</c>.
/// </summary>
internal sealed class BlockedProduct : IDisposable
{
    private const int PanelWidth = 256;
    private const int StripWidth = 8;
    private readonly int _columns;
    private readonly int _blockDepth;
    private readonly double[] _block;
    private readonly double[] _panel;

    /// <param name="columns">The columns of B and C.</param>
    public BlockedProduct(int columns)
    {
        _columns = columns;
        // about 4 MiB of B per block, at most 256 rows deep (a 256 × 256 panel is 512 KiB, within a core's L2)
        _blockDepth = Math.Clamp((1 << 19) / Math.Max(1, columns), 8, 256);
        _block = ArrayPool<double>.Shared.Rent(_blockDepth * columns);
        _panel = ArrayPool<double>.Shared.Rent(_blockDepth * PanelWidth);
    }

    private static bool Vectorized => Vector256.IsHardwareAccelerated || Vector128.IsHardwareAccelerated;

    /// <summary>
    /// <c>c[r, n] += Σⱼ a[r, j]·b[j, n]</c> for r &lt; <paramref name="rows"/>, j &lt; <paramref name="depth"/>; B's
    /// element (j, n) is element <c>bStart + j·columns + n</c> of <paramref name="b"/>.
    /// </summary>
    public void Accumulate(double[] a, int rows, int depth, ElementReader b, long bStart, double[] c)
    {
        for (int j0 = 0; j0 < depth; j0 += _blockDepth)
        {
            int blockDepth = Math.Min(_blockDepth, depth - j0);
            b(bStart + (long)j0 * _columns, _block.AsSpan(0, blockDepth * _columns));
            for (int n0 = 0; n0 < _columns; n0 += PanelWidth)
                MultiplyPanel(a, depth, j0, rows, blockDepth, n0, Math.Min(PanelWidth, _columns - n0), c);
        }
    }

    private void MultiplyPanel(double[] a, int aStride, int j0, int rows, int depth, int n0, int width, double[] c)
    {
        int strips = Vectorized ? width / StripWidth : 0;
        int fullRows = strips > 0 ? rows / 4 * 4 : 0;
        if (fullRows > 0)
        {
            for (int strip = 0; strip < strips; strip++)
                for (int j = 0; j < depth; j++)
                    _block.AsSpan(j * _columns + n0 + strip * StripWidth, StripWidth).CopyTo(_panel.AsSpan((strip * depth + j) * StripWidth));
            for (int r = 0; r < fullRows; r += 4)
                for (int strip = 0; strip < strips; strip++)
                {
                    ref double pa = ref a[r * aStride + j0];
                    ref double pb = ref _panel[strip * depth * StripWidth];
                    ref double pc = ref c[r * _columns + n0 + strip * StripWidth];
                    if (Vector256.IsHardwareAccelerated) Kernel256(ref pa, (nuint)aStride, ref pb, ref pc, (nuint)_columns, (nuint)depth);
                    else Kernel128(ref pa, (nuint)aStride, ref pb, ref pc, (nuint)_columns, (nuint)depth);
                }
        }
        int covered = fullRows > 0 ? strips * StripWidth : 0;
        Scalar(a, aStride, j0, 0, fullRows, n0 + covered, n0 + width, depth, c);
        Scalar(a, aStride, j0, fullRows, rows, n0, n0 + width, depth, c);
    }

    private void Scalar(double[] a, int aStride, int j0, int firstRow, int endRow, int firstColumn, int endColumn, int depth, double[] c)
    {
        for (int r = firstRow; r < endRow; r++)
            for (int n = firstColumn; n < endColumn; n++)
            {
                double sum = c[r * _columns + n];
                for (int j = 0; j < depth; j++) sum += a[r * aStride + j0 + j] * _block[j * _columns + n];
                c[r * _columns + n] = sum;
            }
    }

    private static void Kernel256(ref double a, nuint aStride, ref double panel, ref double c, nuint cStride, nuint depth)
    {
        var c00 = Vector256.LoadUnsafe(ref c); var c01 = Vector256.LoadUnsafe(ref c, 4);
        var c10 = Vector256.LoadUnsafe(ref c, cStride); var c11 = Vector256.LoadUnsafe(ref c, cStride + 4);
        var c20 = Vector256.LoadUnsafe(ref c, 2 * cStride); var c21 = Vector256.LoadUnsafe(ref c, 2 * cStride + 4);
        var c30 = Vector256.LoadUnsafe(ref c, 3 * cStride); var c31 = Vector256.LoadUnsafe(ref c, 3 * cStride + 4);
        for (nuint j = 0; j < depth; j++)
        {
            var b0 = Vector256.LoadUnsafe(ref panel, j * StripWidth);
            var b1 = Vector256.LoadUnsafe(ref panel, j * StripWidth + 4);
            var x = Vector256.Create(Unsafe.Add(ref a, j));
            c00 += x * b0; c01 += x * b1;
            x = Vector256.Create(Unsafe.Add(ref a, aStride + j));
            c10 += x * b0; c11 += x * b1;
            x = Vector256.Create(Unsafe.Add(ref a, 2 * aStride + j));
            c20 += x * b0; c21 += x * b1;
            x = Vector256.Create(Unsafe.Add(ref a, 3 * aStride + j));
            c30 += x * b0; c31 += x * b1;
        }
        c00.StoreUnsafe(ref c); c01.StoreUnsafe(ref c, 4);
        c10.StoreUnsafe(ref c, cStride); c11.StoreUnsafe(ref c, cStride + 4);
        c20.StoreUnsafe(ref c, 2 * cStride); c21.StoreUnsafe(ref c, 2 * cStride + 4);
        c30.StoreUnsafe(ref c, 3 * cStride); c31.StoreUnsafe(ref c, 3 * cStride + 4);
    }

    private static void Kernel128(ref double a, nuint aStride, ref double panel, ref double c, nuint cStride, nuint depth)
    {
        for (nuint half = 0; half < StripWidth; half += 4)
        {
            ref double ch = ref Unsafe.Add(ref c, half);
            var c00 = Vector128.LoadUnsafe(ref ch); var c01 = Vector128.LoadUnsafe(ref ch, 2);
            var c10 = Vector128.LoadUnsafe(ref ch, cStride); var c11 = Vector128.LoadUnsafe(ref ch, cStride + 2);
            var c20 = Vector128.LoadUnsafe(ref ch, 2 * cStride); var c21 = Vector128.LoadUnsafe(ref ch, 2 * cStride + 2);
            var c30 = Vector128.LoadUnsafe(ref ch, 3 * cStride); var c31 = Vector128.LoadUnsafe(ref ch, 3 * cStride + 2);
            for (nuint j = 0; j < depth; j++)
            {
                var b0 = Vector128.LoadUnsafe(ref panel, j * StripWidth + half);
                var b1 = Vector128.LoadUnsafe(ref panel, j * StripWidth + half + 2);
                var x = Vector128.Create(Unsafe.Add(ref a, j));
                c00 += x * b0; c01 += x * b1;
                x = Vector128.Create(Unsafe.Add(ref a, aStride + j));
                c10 += x * b0; c11 += x * b1;
                x = Vector128.Create(Unsafe.Add(ref a, 2 * aStride + j));
                c20 += x * b0; c21 += x * b1;
                x = Vector128.Create(Unsafe.Add(ref a, 3 * aStride + j));
                c30 += x * b0; c31 += x * b1;
            }
            c00.StoreUnsafe(ref ch); c01.StoreUnsafe(ref ch, 2);
            c10.StoreUnsafe(ref ch, cStride); c11.StoreUnsafe(ref ch, cStride + 2);
            c20.StoreUnsafe(ref ch, 2 * cStride); c21.StoreUnsafe(ref ch, 2 * cStride + 2);
            c30.StoreUnsafe(ref ch, 3 * cStride); c31.StoreUnsafe(ref ch, 3 * cStride + 2);
        }
    }

    public void Dispose()
    {
        ArrayPool<double>.Shared.Return(_block);
        ArrayPool<double>.Shared.Return(_panel);
    }
}
