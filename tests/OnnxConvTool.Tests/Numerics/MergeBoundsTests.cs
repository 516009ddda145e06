using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Numerics;

using DataType = TensorProto.Types.DataType;

public sealed class MergeBoundsTests
{
    private static double[] Random(Random random, long count) => Enumerable.Range(0, (int)count).Select(_ => random.NextDouble() * 4 - 2).ToArray();

    [Theory]
    [InlineData(1, 1, 1, false)]
    [InlineData(1, 1, 9, false)]
    [InlineData(1, 1, 9, true)]
    [InlineData(2, 2, 1, false)]
    [InlineData(2, 2, 9, false)]
    [InlineData(2, 2, 9, true)]
    [InlineData(4, 1, 1, false)]
    [InlineData(1, 4, 9, false)]
    [InlineData(4, 1, 9, true)]
    [InlineData(1, 4, 9, true)]
    public void TheCompositionBoundHoldsEveryComposedValueAndBias(long firstGroup, long secondGroup, long kernelVolume, bool kernelOnSecond)
    {
        const long inChannels = 8, midChannels = 8, outChannels = 12;
        var random = new Random((int)(firstGroup * 100 + secondGroup * 10 + kernelVolume) + (kernelOnSecond ? 1000 : 0));
        long group = firstGroup == secondGroup ? firstGroup : 1;
        long firstKernel = kernelOnSecond ? 1 : kernelVolume, secondKernel = kernelOnSecond ? kernelVolume : 1;
        var first = Random(random, midChannels * inChannels / firstGroup * firstKernel);
        var second = Random(random, outChannels * midChannels / secondGroup * secondKernel);
        var firstBias = Random(random, midChannels);
        var secondBias = Random(random, outChannels);
        var firstDense = firstGroup == group ? first : ConvMergeMath.ExpandGroups(first, midChannels, inChannels / firstGroup, firstKernel, firstGroup);
        var secondDense = secondGroup == group ? second : ConvMergeMath.ExpandGroups(second, outChannels, midChannels / secondGroup, secondKernel, secondGroup);
        var (secondReader, firstReader) = (ConvMergeMath.Reader(secondDense), ConvMergeMath.Reader(firstDense));
        double weightMax = 0;
        RowsSink sink = (_, rows) =>
        {
            weightMax = Math.Max(weightMax, MergeBounds.MaxAbs(rows));
            return null;
        };
        Assert.Null(kernelOnSecond
            ? ConvMergeMath.ComposePointwiseBefore(secondReader, firstReader, outChannels, midChannels, inChannels / group, kernelVolume, group, sink)
            : ConvMergeMath.ComposePointwiseAfter(secondReader, firstReader, outChannels, midChannels, inChannels / group, kernelVolume, group, sink));
        var bias = ConvMergeMath.BiasThrough(secondReader, secondBias, firstBias, outChannels, midChannels, secondKernel, group);

        var secondTensor = Tensor.FromValues("second", DataType.Double, [outChannels, midChannels / secondGroup, secondKernel], second);
        var firstTensor = Tensor.FromValues("first", DataType.Double, [midChannels, inChannels / firstGroup, firstKernel], first);
        var (weightBound, biasBound) = MergeBounds.Composition(secondTensor, secondGroup, MergeBounds.RowMaxAbs(firstTensor, midChannels), firstBias, secondBias);

        Assert.InRange(weightMax, 0, weightBound);
        Assert.InRange(MergeBounds.MaxAbs(bias), 0, biasBound);
    }

    [Theory]
    [InlineData(DataType.Float16, 65504, true)]
    [InlineData(DataType.Float16, 65600, false)]
    [InlineData(DataType.Float, 1e38, true)]
    [InlineData(DataType.Float, 1e39, false)]
    [InlineData(DataType.Double, 1e300, true)]
    [InlineData(DataType.Float, double.PositiveInfinity, false)]
    [InlineData(DataType.Float, double.NaN, false)]
    public void ABoundFitsATypeWhenEveryValueUpToItDoes(DataType type, double bound, bool fits) => Assert.Equal(fits, MergeBounds.Fits(type, bound));

    [Fact]
    public void ANonFiniteOperandValueMakesTheBoundNotFit()
    {
        var first = Tensor.FromValues("first", DataType.Float, [2, 2, 1, 1], [1, double.NaN, 0, 1]);
        var second = Tensor.FromValues("second", DataType.Float, [2, 2, 1, 1], [0, 1, 1, 0]);
        var (weight, _) = MergeBounds.Composition(second, 1, MergeBounds.RowMaxAbs(first, 2), null, null);
        Assert.False(MergeBounds.Fits(DataType.Float, weight));
    }

    [Fact]
    public void VisitDecodedGivesEveryValueInOrderInWholeRowsAChunkAtATimeFromRawAndExternalData()
    {
        const int rows = 300, rowLength = 1000; // 1.2 MB of float32: more than one chunk
        var values = Enumerable.Range(0, rows * rowLength).Select(i => (double)(i % 977) - 400).ToArray();
        var raw = Tensor.FromValues("w", DataType.Float, [rows, rowLength], values);
        var typed = new TensorProto { Name = "w", DataType = (int)DataType.Float };
        typed.Dims.Add([rows, rowLength]);
        typed.FloatData.Add(values.Select(v => (float)v));
        using var temp = new TempDirectory();
        string file = temp.File("w.bin");
        File.WriteAllBytes(file, [.. new byte[12], .. raw.GetRawBytes().ToArray()]);
        var external = new Tensor(new TensorProto { Name = "w", DataType = (int)DataType.Float, Dims = { rows, rowLength } },
            new ExternalDataLocation(file, "w.bin", 12, raw.ByteCount));

        foreach (var (tensor, chunked) in new[] { (raw, true), (new Tensor(typed), false), (external, true) })
        {
            var seen = new List<double>();
            int chunks = 0;
            tensor.VisitDecoded(rowLength, (first, chunk) =>
            {
                Assert.Equal(seen.Count, first);
                Assert.Equal(0, chunk.Length % rowLength);
                seen.AddRange(chunk.ToArray());
                chunks++;
            });
            Assert.Equal(values, seen);
            Assert.Equal(chunked, chunks > 1);
        }
    }
}
