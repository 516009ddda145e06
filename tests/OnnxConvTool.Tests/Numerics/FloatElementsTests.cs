using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Tests.Numerics;

using DataType = TensorProto.Types.DataType;

public sealed class FloatElementsTests
{
    [Theory]
    [InlineData(DataType.Float)]
    [InlineData(DataType.Double)]
    [InlineData(DataType.Float16)]
    [InlineData(DataType.Bfloat16)]
    public void EncodingThenDecodingGivesTheOnceRoundedValue(DataType type)
    {
        double[] values = [0, -0.0, 1, -2.5, 1.0 / 3, 1e-3, 123.456, -7e-5];
        var decoded = new double[values.Length];
        FloatElements.Decode(type, FloatElements.Encode(type, values), decoded);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(FloatElements.Round(type, values[i]), decoded[i]);
            Assert.InRange(FloatElements.UlpDistance(type, decoded[i], values[i]), 0, 0.5);
        }
    }

    /// <summary>
    /// 1 + 2^-8 + 2^-30 lies just above the midpoint between the bfloat16 neighbours 1 and 1 + 2^-7. Through float
    /// first it lands exactly on the midpoint and rounds to even (1); rounded once it goes up.
    /// </summary>
    [Fact]
    public void Bfloat16RoundsADoubleOnceNotThroughFloat()
    {
        double value = 1 + Math.Pow(2, -8) + Math.Pow(2, -30);
        Assert.Equal(1 + Math.Pow(2, -7), FloatElements.Round(DataType.Bfloat16, value));
        Assert.Equal(1.0, FloatElements.Round(DataType.Bfloat16, 1 + Math.Pow(2, -8)));
        Assert.Equal(1 + Math.Pow(2, -6), FloatElements.Round(DataType.Bfloat16, 1 + 3 * Math.Pow(2, -8)));
    }

    [Theory]
    [InlineData(DataType.Float16, 65504.0, false)]
    [InlineData(DataType.Float16, 65520.0, true)]
    [InlineData(DataType.Float16, -1e5, true)]
    [InlineData(DataType.Bfloat16, 3.3e38, false)]
    [InlineData(DataType.Bfloat16, 3.4e38, true)]
    [InlineData(DataType.Float, 3.4e38, false)]
    [InlineData(DataType.Float, 1e39, true)]
    [InlineData(DataType.Double, 1e300, false)]
    public void DetectsOverflow(DataType type, double value, bool overflows) => Assert.Equal(overflows, FloatElements.Overflows(type, value));

    [Theory]
    [InlineData(DataType.Float, 1.0, 1.1920928955078125e-7)]
    [InlineData(DataType.Float16, 1.0, 0.0009765625)]
    [InlineData(DataType.Bfloat16, 1.0, 0.0078125)]
    [InlineData(DataType.Double, 1.0, 2.220446049250313e-16)]
    [InlineData(DataType.Float16, 65504.0, 32.0)]
    public void MeasuresTheSpacingOfEachType(DataType type, double at, double ulp) => Assert.Equal(ulp, FloatElements.Ulp(type, at));

    [Fact]
    public void UlpDistanceIsRelativeToTheTypeAndInfiniteForNonFiniteDisagreement()
    {
        Assert.Equal(1.0, FloatElements.UlpDistance(DataType.Float, 1 + 1.1920928955078125e-7, 1.0));
        Assert.Equal(0.5, FloatElements.UlpDistance(DataType.Float16, 1.0, 1 + 0.00048828125));
        Assert.Equal(0, FloatElements.UlpDistance(DataType.Float, double.PositiveInfinity, double.PositiveInfinity));
        Assert.Equal(double.PositiveInfinity, FloatElements.UlpDistance(DataType.Float, double.PositiveInfinity, 1));
    }
}
