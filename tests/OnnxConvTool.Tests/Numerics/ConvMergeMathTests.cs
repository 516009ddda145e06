using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Numerics;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The blocked compositions of merge-conv-chain give the same bits as the plain loops (written out here as the
/// reference) on sizes that leave partial register tiles, panels, depth blocks and row blocks, with groups, zero
/// factors and non-finite values.
/// </summary>
public sealed class ConvMergeMathTests
{
    public static TheoryData<long, long, long, long, long> Shapes => new()
    {
        // out, mid, in per group, kernel volume, group
        { 1, 1, 1, 1, 1 },
        { 13, 9, 7, 1, 1 },
        { 12, 6, 5, 3, 3 },
        { 10, 300, 270, 1, 1 },       // two depth blocks, two panels, a 2-row edge
        { 20, 30, 4445, 9, 1 },       // rows 40,005 wide: row blocks of 12, depth blocks of 13
        { 24, 16, 11, 2, 4 },
        { 64, 64, 64, 1, 1 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PointwiseAfterMatchesThePlainLoopBitForBit(long outChannels, long midChannels, long inPerGroup, long kernelVolume, long group)
    {
        var random = new Random(7);
        var first = Values(random, midChannels * inPerGroup * kernelVolume, zeros: false);
        var second = Values(random, outChannels * (midChannels / group), zeros: true);
        var expected = PlainPointwiseAfter(second, first, outChannels, midChannels, inPerGroup, kernelVolume, group);
        var actual = Collect(outChannels * inPerGroup * kernelVolume, inPerGroup * kernelVolume, sink =>
            ConvMergeMath.ComposePointwiseAfter(ConvMergeMath.Reader(second), ConvMergeMath.Reader(first), outChannels, midChannels, inPerGroup, kernelVolume, group, sink));
        AssertSameBits(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PointwiseBeforeMatchesThePlainLoopBitForBit(long outChannels, long midChannels, long inPerGroup, long kernelVolume, long group)
    {
        var random = new Random(11);
        var first = Values(random, midChannels * inPerGroup, zeros: false);
        var second = Values(random, outChannels * (midChannels / group) * kernelVolume, zeros: true);
        var expected = PlainPointwiseBefore(second, first, outChannels, midChannels, inPerGroup, kernelVolume, group);
        var actual = Collect(outChannels * inPerGroup * kernelVolume, inPerGroup * kernelVolume, sink =>
            ConvMergeMath.ComposePointwiseBefore(ConvMergeMath.Reader(second), ConvMergeMath.Reader(first), outChannels, midChannels, inPerGroup, kernelVolume, group, sink));
        AssertSameBits(expected, actual);
    }

    [Fact]
    public void AZeroFactorLeavesOutAnInfiniteValueAsThePlainLoopDoes()
    {
        // the first's row 1 holds ∞; the second's factors for it are 0 in rows 0 and 2, so those rows stay finite
        double[] first = [1, 2, 3, 4, double.PositiveInfinity, 6, 7, 8, 9, 10, 11, 12];
        double[] second = [1, 0, 2, 3, 4, 5, 6, 7, 8, 0, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
        var expected = PlainPointwiseAfter(second, first, 5, 4, 3, 1, 1);
        var actual = Collect(15, 3, sink =>
            ConvMergeMath.ComposePointwiseAfter(ConvMergeMath.Reader(second), ConvMergeMath.Reader(first), 5, 4, 3, 1, 1, sink));
        AssertSameBits(expected, actual);
        Assert.All(actual[0..3].Concat(actual[6..9]), v => Assert.True(double.IsFinite(v)));
        Assert.True(double.IsPositiveInfinity(actual[3 + 1]));
    }

    [Fact]
    public void ASinkSentenceStopsTheComposition()
    {
        var random = new Random(3);
        var first = Values(random, 40_000 * 16, zeros: false);
        var second = Values(random, 64 * 16, zeros: false);
        int calls = 0;
        string? stop = ConvMergeMath.ComposePointwiseAfter(ConvMergeMath.Reader(second), ConvMergeMath.Reader(first), 64, 16, 40_000, 1, 1,
            (_, _) => ++calls == 2 ? "stop here" : null);
        Assert.Equal("stop here", stop);
        Assert.Equal(2, calls);
    }

    [Theory]
    [InlineData(6L, 4L, 1L, 1L)]
    [InlineData(6L, 6L, 3L, 3L)]
    public void BiasThroughReadsRowsAsThePlainSum(long outChannels, long midChannels, long kernelVolume, long group)
    {
        var random = new Random(5);
        var second = Values(random, outChannels * midChannels / group * kernelVolume, zeros: true);
        var secondBias = Values(random, outChannels, zeros: false);
        var firstBias = Values(random, midChannels, zeros: false);
        long outPerGroup = outChannels / group, midPerGroup = midChannels / group;
        var expected = secondBias.ToArray();
        for (long m = 0; m < outChannels; m++)
        {
            double sum = 0;
            for (long j = 0; j < midPerGroup; j++)
                for (long k = 0; k < kernelVolume; k++)
                    sum += second[(m * midPerGroup + j) * kernelVolume + k] * firstBias[m / outPerGroup * midPerGroup + j];
            expected[m] += sum;
        }
        AssertSameBits(expected, ConvMergeMath.BiasThrough(ConvMergeMath.Reader(second), secondBias, firstBias, outChannels, midChannels, kernelVolume, group));
    }

    [Theory]
    [InlineData(DataType.Float)]
    [InlineData(DataType.Float16)]
    [InlineData(DataType.Bfloat16)]
    [InlineData(DataType.Double)]
    public void ARoundedTensorBuiltInBlocksEqualsOneStoredWhole(DataType type)
    {
        var truth = Values(new Random(9), 10_000, zeros: true);
        var whole = WeightMath.Store("w", type, [100, 100], truth);
        var builder = new RoundedTensorBuilder("w", type, [100, 100]);
        int start = 0;
        foreach (int size in new[] { 1, 4_095, 4_097, 1_807 })
        {
            builder.AppendRepresentable(truth.AsSpan(start, size));
            start += size;
        }
        var blocks = builder.Finish();
        Assert.Equal(whole.Tensor.GetRawBytes().ToArray(), blocks.Tensor.GetRawBytes().ToArray());
        Assert.Equal(whole.MaxDeviationUlps, blocks.MaxDeviationUlps);
        Assert.True(blocks.MaxDeviationUlps is > 0 and <= 0.5 || type == DataType.Double);
    }

    [Fact]
    public void ARoundedTensorBuilderNamesTheFirstValueThatDoesNotFitByItsIndexInTheWholeArray()
    {
        var builder = new RoundedTensorBuilder("w", DataType.Float16, [8]);
        Assert.Null(builder.TryAppend([1, 2, 3], "the merged weight"));
        string? reason = builder.TryAppend([4, 1e6, double.NaN], "the merged weight");
        Assert.Equal("the merged weight overflows float16: 1E+06 at index 4 is beyond its largest value 65504", reason);
    }

    [Fact]
    public void ATensorDecodesARangeFromItsFileAsFromMemory()
    {
        var values = Values(new Random(2), 3_000, zeros: true).Select(v => (float)v).ToArray();
        var inMemory = Tensor.FromFloats("w", [3_000], values);
        using var temp = new TempDirectory();
        string path = temp.File("decode-range.bin");
        File.WriteAllBytes(path, inMemory.GetRawBytes().ToArray());
        var proto = inMemory.Proto.Clone();
        proto.ClearRawData();
        var inFile = new Tensor(proto, new ExternalDataLocation(path, Path.GetFileName(path), 0, 12_000));
        var fromMemory = new double[1_234];
        var fromFile = new double[1_234];
        inMemory.DecodeRange(1_001, fromMemory);
        inFile.DecodeRange(1_001, fromFile);
        Assert.Equal(values.Skip(1_001).Take(1_234).Select(v => (double)v), fromFile);
        Assert.Equal(fromMemory, fromFile);
    }

    private static double[] Values(Random random, long count, bool zeros)
    {
        var values = new double[count];
        for (long i = 0; i < count; i++)
            values[i] = zeros && random.Next(5) == 0 ? (random.Next(2) == 0 ? 0.0 : -0.0) : random.NextDouble() * 2 - 1;
        return values;
    }

    private static double[] Collect(long length, long row, Func<RowsSink, string?> compose)
    {
        var result = new double[length];
        long next = 0;
        Assert.Null(compose((firstRow, rows) =>
        {
            Assert.Equal(next, firstRow);
            Assert.Equal(0, rows.Length % row);
            rows.CopyTo(result.AsSpan((int)(firstRow * row)));
            next = firstRow + rows.Length / row;
            return null;
        }));
        Assert.Equal(length, next * row);
        return result;
    }

    private static void AssertSameBits(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.DoubleToInt64Bits(expected[i]) != BitConverter.DoubleToInt64Bits(actual[i]))
                Assert.Fail($"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    private static double[] PlainPointwiseAfter(double[] second, double[] first, long outChannels, long midChannels, long inPerGroup, long kernelVolume, long group)
    {
        long outPerGroup = outChannels / group, midPerGroup = midChannels / group, row = inPerGroup * kernelVolume;
        var result = new double[outChannels * row];
        for (long m = 0; m < outChannels; m++)
            for (long j = 0; j < midPerGroup; j++)
            {
                double factor = second[m * midPerGroup + j];
                if (factor == 0) continue;
                for (long i = 0; i < row; i++) result[m * row + i] += factor * first[(m / outPerGroup * midPerGroup + j) * row + i];
            }
        return result;
    }

    private static double[] PlainPointwiseBefore(double[] second, double[] first, long outChannels, long midChannels, long inPerGroup, long kernelVolume, long group)
    {
        long outPerGroup = outChannels / group, midPerGroup = midChannels / group;
        var result = new double[outChannels * inPerGroup * kernelVolume];
        for (long m = 0; m < outChannels; m++)
            for (long j = 0; j < midPerGroup; j++)
                for (long k = 0; k < kernelVolume; k++)
                {
                    double factor = second[(m * midPerGroup + j) * kernelVolume + k];
                    if (factor == 0) continue;
                    for (long c = 0; c < inPerGroup; c++)
                        result[(m * inPerGroup + c) * kernelVolume + k] += factor * first[(m / outPerGroup * midPerGroup + j) * inPerGroup + c];
                }
        return result;
    }
}
