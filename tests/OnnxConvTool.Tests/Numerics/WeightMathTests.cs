using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Tests.Numerics;

using DataType = TensorProto.Types.DataType;

public sealed class WeightMathTests
{
    [Fact]
    public void ScalesAlongOneAxis()
    {
        // [2,3,2]: scale axis 1 by 1, 10, 100.
        double[] values = Enumerable.Range(1, 12).Select(i => (double)i).ToArray();
        var scaled = WeightMath.ScaleAlongAxis(values, [2, 3, 2], 1, [1, 10, 100]);
        Assert.Equal([1, 2, 30, 40, 500, 600, 7, 8, 90, 100, 1100, 1200], scaled);
    }

    [Theory]
    [InlineData(new long[0], 1)]
    [InlineData(new long[] { 1 }, 1)]
    [InlineData(new long[] { 1, 1, 1, 1 }, 1)]
    [InlineData(new long[] { 3, 1, 1 }, 3)]
    [InlineData(new long[] { 1, 3, 1, 1 }, 3)]
    public void AcceptsScalarsAndChannelAxisConstants(long[] dims, int count)
    {
        var values = Enumerable.Range(1, count).Select(i => (double)i).ToArray();
        var perChannel = WeightMath.PerChannel(dims, values, 4, 1, 3, out string? reason);
        Assert.Null(reason);
        Assert.Equal(count == 1 ? [1.0, 1, 1] : [1.0, 2, 3], perChannel);
    }

    [Fact]
    public void MultipliesAndTransposesMatrices()
    {
        double[] a = [1, 2, 3, 4, 5, 6];
        Assert.Equal([1, 4, 2, 5, 3, 6], WeightMath.Transpose(a, 2, 3));
        Assert.Equal([14, 32, 32, 77], WeightMath.MatMul(a, WeightMath.Transpose(a, 2, 3), 2, 3, 2));
    }

    [Fact]
    public void PadsAKernelWithZerosAroundIt()
    {
        var padded = WeightMath.PadKernel([5.0, 7.0], [2, 1, 1, 1], [1, 0, 1, 2], out var dims);
        Assert.Equal([2L, 1, 3, 3], dims);
        Assert.Equal([0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0.0], padded);
    }

    [Fact]
    public void ReshapesWithoutTouchingTheSourceTensor()
    {
        var source = Tensor.FromValues("w", DataType.Float, [6, 1, 1, 1], [1, 2, 3, 4, 5, 6]);
        var reshaped = WeightMath.Reshaped(source, [2, 3], "w2");
        Assert.Equal([6L, 1, 1, 1], source.Dims);
        Assert.Equal("w", source.Name);
        Assert.Equal([2L, 3], reshaped.Dims);
        Assert.Equal(source.ToDoubleArray(), reshaped.ToDoubleArray());
        Assert.Throws<ArgumentException>(() => WeightMath.Reshaped(source, [4], "w3"));
    }

    [Fact]
    public void StoresOnceRoundedAndReportsTheDeviation()
    {
        var stored = WeightMath.Store("t", DataType.Float16, [2], [1.0, 1 + 0.00048828125]);
        Assert.Equal(0.5, stored.MaxDeviationUlps);
        Assert.Equal([1.0, 1.0], stored.Tensor.ToDoubleArray());
    }

    [Fact]
    public void FoldsAnInputAffineMapPerGroup()
    {
        // Conv weight [2 out, 1 in/group, 2 kernel], group 2: out 0 reads channel 0, out 1 reads channel 1.
        var (w, b) = ConvWeightMath.FoldInputAffine([1.0, 2, 3, 4], [2, 1, 2], [10.0, 20], [2.0, 3], [0.5, -1], 2);
        Assert.Equal([2.0, 4, 9, 12], w);
        Assert.Equal([10 + 0.5 * 3, 20 - 7.0], b);
    }

    [Fact]
    public void FoldsAnOutputAffineMapOfAConvTransposePerGroup()
    {
        // ConvTranspose weight [C=2, M/g=1, 1], group 2: output channel m is group m's only one.
        var (w, b) = ConvWeightMath.FoldOutputAffine([1.0, 2], [2, 1, 1], null, [3.0, 5], [1.0, 2], 2, transposed: true);
        Assert.Equal([3.0, 10], w);
        Assert.Equal([1.0, 2], b);
    }
}
