using System.Runtime.InteropServices;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Numerics;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The one conversion between float64 and the stored floating-point element types (float32, float64, float16,
/// bfloat16): decoding raw little-endian data, encoding with a single round-to-nearest-even step (never via an
/// intermediate type), overflow detection, and the distance of a stored value from its float64 truth in ULPs.
/// </summary>
internal static class FloatElements
{
    /// <summary>True for the types this class converts: float, double, float16, bfloat16.</summary>
    public static bool IsSupported(DataType type) => ElementTypes.IsFloatingPoint(type);

    /// <summary>Decodes <paramref name="destination"/>.Length values of <paramref name="type"/> from raw bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="type"/> is not a float type.</exception>
    public static void Decode(DataType type, ReadOnlySpan<byte> raw, Span<double> destination)
    {
        switch (type)
        {
            case DataType.Float:
                var f = MemoryMarshal.Cast<byte, float>(raw);
                for (int i = 0; i < destination.Length; i++) destination[i] = f[i];
                break;
            case DataType.Double:
                MemoryMarshal.Cast<byte, double>(raw)[..destination.Length].CopyTo(destination);
                break;
            case DataType.Float16:
                var h = MemoryMarshal.Cast<byte, Half>(raw);
                for (int i = 0; i < destination.Length; i++) destination[i] = (double)h[i];
                break;
            case DataType.Bfloat16:
                var b = MemoryMarshal.Cast<byte, ushort>(raw);
                for (int i = 0; i < destination.Length; i++) destination[i] = BfloatToDouble(b[i]);
                break;
            default:
                throw new ArgumentException($"element type {ElementTypes.Name(type)} is not floating-point", nameof(type));
        }
    }

    /// <summary>Encodes <paramref name="values"/> as raw bytes of <paramref name="type"/>, each rounded once to nearest even.</summary>
    /// <exception cref="ArgumentException"><paramref name="type"/> is not a float type.</exception>
    public static byte[] Encode(DataType type, ReadOnlySpan<double> values)
    {
        var raw = new byte[values.Length * (ElementTypes.BitsPerElement(type) / 8)];
        Encode(type, values, raw);
        return raw;
    }

    /// <summary>Writes <paramref name="values"/> into <paramref name="raw"/> as <paramref name="type"/>, each rounded once.</summary>
    public static void Encode(DataType type, ReadOnlySpan<double> values, Span<byte> raw)
    {
        switch (type)
        {
            case DataType.Float:
                var f = MemoryMarshal.Cast<byte, float>(raw);
                for (int i = 0; i < values.Length; i++) f[i] = (float)values[i];
                break;
            case DataType.Double:
                values.CopyTo(MemoryMarshal.Cast<byte, double>(raw));
                break;
            case DataType.Float16:
                var h = MemoryMarshal.Cast<byte, Half>(raw);
                for (int i = 0; i < values.Length; i++) h[i] = (Half)values[i];
                break;
            case DataType.Bfloat16:
                var b = MemoryMarshal.Cast<byte, ushort>(raw);
                for (int i = 0; i < values.Length; i++) b[i] = DoubleToBfloat(values[i]);
                break;
            default:
                throw new ArgumentException($"element type {ElementTypes.Name(type)} is not floating-point", nameof(type));
        }
    }

    /// <summary>The value <paramref name="value"/> becomes once stored as <paramref name="type"/> (one rounding).</summary>
    public static double Round(DataType type, double value) => type switch
    {
        DataType.Float => (float)value,
        DataType.Double => value,
        DataType.Float16 => (double)(Half)value,
        DataType.Bfloat16 => BfloatToDouble(DoubleToBfloat(value)),
        _ => throw new ArgumentException($"element type {ElementTypes.Name(type)} is not floating-point", nameof(type)),
    };

    /// <summary>The largest finite value of <paramref name="type"/>.</summary>
    public static double MaxFinite(DataType type) => type switch
    {
        DataType.Float => float.MaxValue,
        DataType.Double => double.MaxValue,
        DataType.Float16 => (double)Half.MaxValue,
        DataType.Bfloat16 => BfloatToDouble(0x7F7F),
        _ => throw new ArgumentException($"element type {ElementTypes.Name(type)} is not floating-point", nameof(type)),
    };

    /// <summary>True when a finite <paramref name="value"/> rounds to infinity in <paramref name="type"/>.</summary>
    public static bool Overflows(DataType type, double value) => double.IsFinite(value) && !double.IsFinite(Round(type, value));

    /// <summary>
    /// The spacing of <paramref name="type"/>'s values at the magnitude of <paramref name="value"/> (the gap to
    /// the next larger magnitude; the smallest subnormal step at zero).
    /// </summary>
    public static double Ulp(DataType type, double value)
    {
        double magnitude = Math.Abs(Round(type, value));
        if (!double.IsFinite(magnitude)) return double.PositiveInfinity;
        double next = type switch
        {
            DataType.Float => MathF.BitIncrement((float)magnitude),
            DataType.Double => Math.BitIncrement(magnitude),
            DataType.Float16 => (double)BitConverter.UInt16BitsToHalf((ushort)(BitConverter.HalfToUInt16Bits((Half)magnitude) + 1)),
            DataType.Bfloat16 => BfloatToDouble((ushort)(DoubleToBfloat(magnitude) + 1)),
            _ => throw new ArgumentException($"element type {ElementTypes.Name(type)} is not floating-point", nameof(type)),
        };
        // At the largest finite value the next step is infinity; the spacing below it is the same.
        if (!double.IsFinite(next)) return magnitude - PreviousMagnitude(type, magnitude);
        return next - magnitude;
    }

    /// <summary>
    /// How far <paramref name="stored"/> (a value of <paramref name="type"/>) lies from <paramref name="truth"/>,
    /// in ULPs of <paramref name="type"/> at the truth's magnitude. Zero when both are equal (including equal
    /// infinities); infinity when exactly one is not finite or either is NaN.
    /// </summary>
    public static double UlpDistance(DataType type, double stored, double truth)
    {
        if (stored.Equals(truth)) return 0;
        if (!double.IsFinite(stored) || !double.IsFinite(truth)) return double.PositiveInfinity;
        return Math.Abs(stored - truth) / Ulp(type, truth);
    }

    /// <summary>The largest <see cref="UlpDistance"/> over parallel arrays (0 for none).</summary>
    public static double MaxUlpDistance(DataType type, ReadOnlySpan<double> stored, ReadOnlySpan<double> truth)
    {
        double max = 0;
        for (int i = 0; i < stored.Length; i++) max = Math.Max(max, UlpDistance(type, stored[i], truth[i]));
        return max;
    }

    private static double PreviousMagnitude(DataType type, double magnitude) => type switch
    {
        DataType.Float => MathF.BitDecrement((float)magnitude),
        DataType.Double => Math.BitDecrement(magnitude),
        DataType.Float16 => (double)BitConverter.UInt16BitsToHalf((ushort)(BitConverter.HalfToUInt16Bits((Half)magnitude) - 1)),
        _ => BfloatToDouble((ushort)(DoubleToBfloat(magnitude) - 1)),
    };

    private static double BfloatToDouble(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>
    /// Rounds a double to bfloat16 to nearest even in one step. Going through float first would round twice
    /// (a double just above a bfloat16 midpoint can land exactly on the midpoint as a float, then round down).
    /// </summary>
    private static ushort DoubleToBfloat(double value)
    {
        if (double.IsNaN(value)) return 0x7FC0;
        float truncated = (float)value;
        // Make the float a sticky-rounded version of the double: if the float rounding lost bits, force the
        // lowest float bit to 1 (round-to-odd), which keeps the later rounding to bfloat16 correct.
        uint bits = BitConverter.SingleToUInt32Bits(truncated);
        if (float.IsFinite(truncated) && (double)truncated != value)
        {
            double towardZero = Math.Abs((double)truncated) > Math.Abs(value)
                ? (double)BitConverter.UInt32BitsToSingle(bits - 1) : truncated;
            bits = BitConverter.SingleToUInt32Bits((float)towardZero) | 1;
        }
        if (float.IsInfinity(BitConverter.UInt32BitsToSingle(bits)))
            return (ushort)(bits >> 16);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
