using System.Buffers.Binary;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Numerics;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// A constant tensor decoded for evaluation: floating-point elements (float, double, float16, bfloat16) as exact
/// float64 values in <see cref="Reals"/>, integer and bool elements as int64 in <see cref="Integers"/> (uint64
/// keeps its bits). Row-major, with known dims.
/// </summary>
internal sealed class ConstantTensor
{
    private ConstantTensor(DataType type, long[] dims, double[]? reals, long[]? integers)
    {
        Type = type;
        Dims = dims;
        Reals = reals;
        Integers = integers;
    }

    public DataType Type { get; }
    public long[] Dims { get; }
    public double[]? Reals { get; }
    public long[]? Integers { get; }
    public int Rank => Dims.Length;
    public long Count => WeightMath.ElementCount(Dims);
    public bool IsReal => Reals is not null;

    public static ConstantTensor OfReals(DataType type, long[] dims, double[] values) => new(type, dims, values, null);

    public static ConstantTensor OfIntegers(DataType type, long[] dims, long[] values) => new(type, dims, null, values);

    /// <summary>True for the element types the evaluator handles: float, double, float16, bfloat16, the integer types and bool.</summary>
    public static bool IsSupported(DataType type) => ElementTypes.IsFloatingPoint(type) || ElementTypes.IsInteger(type) || type == DataType.Bool;

    /// <summary>Decodes <paramref name="tensor"/>, or returns null for an element type the evaluator does not handle.</summary>
    public static ConstantTensor? From(Tensor tensor)
    {
        if (!IsSupported(tensor.ElementType)) return null;
        var dims = tensor.Dims.ToArray();
        return ElementTypes.IsFloatingPoint(tensor.ElementType)
            ? OfReals(tensor.ElementType, dims, tensor.ToDoubleArray())
            : OfIntegers(tensor.ElementType, dims, tensor.ToInt64Array());
    }

    /// <summary>The same elements under other dims (Reshape, Squeeze, Unsqueeze, Identity).</summary>
    public ConstantTensor WithDims(long[] dims) => new(Type, dims, Reals, Integers);

    /// <summary>A tensor of this type whose element i is this tensor's element <c>sources[i]</c>.</summary>
    public ConstantTensor Pick(long[] dims, long[] sources)
    {
        if (Reals is { } reals)
        {
            var picked = new double[sources.Length];
            for (int i = 0; i < sources.Length; i++) picked[i] = reals[sources[i]];
            return OfReals(Type, dims, picked);
        }
        var ints = new long[sources.Length];
        for (int i = 0; i < sources.Length; i++) ints[i] = Integers![sources[i]];
        return OfIntegers(Type, dims, ints);
    }

    /// <summary>Element <paramref name="index"/> as a double (integers converted).</summary>
    public double RealAt(long index) => Reals is { } r ? r[index] : Integers![index];

    /// <summary>The elements as int64, for shape-like inputs (integer tensors only).</summary>
    public long[]? AsIndices() => Integers;

    /// <summary>Encodes the tensor as an initializer named <paramref name="name"/>, every element stored exactly.</summary>
    public Tensor ToTensor(string name)
    {
        if (Reals is { } reals) return Tensor.FromRawBytes(name, Type, Dims, FloatElements.Encode(Type, reals));
        var ints = Integers!;
        int size = ElementTypes.BitsPerElement(Type) / 8;
        var raw = new byte[ints.Length * size];
        var span = raw.AsSpan();
        for (int i = 0; i < ints.Length; i++)
        {
            switch (size)
            {
                case 8: BinaryPrimitives.WriteInt64LittleEndian(span[(8 * i)..], ints[i]); break;
                case 4: BinaryPrimitives.WriteInt32LittleEndian(span[(4 * i)..], unchecked((int)ints[i])); break;
                case 2: BinaryPrimitives.WriteInt16LittleEndian(span[(2 * i)..], unchecked((short)ints[i])); break;
                default: raw[i] = unchecked((byte)ints[i]); break;
            }
        }
        return Tensor.FromRawBytes(name, Type, Dims, raw);
    }

    /// <summary>The smallest and largest value integer type <paramref name="type"/> holds (bool: 0 and 1).</summary>
    public static (long Min, long Max) IntegerRange(DataType type) => type switch
    {
        DataType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        DataType.Int16 => (short.MinValue, short.MaxValue),
        DataType.Int32 => (int.MinValue, int.MaxValue),
        DataType.Uint8 => (0, byte.MaxValue),
        DataType.Uint16 => (0, ushort.MaxValue),
        DataType.Uint32 => (0, uint.MaxValue),
        DataType.Bool => (0, 1),
        _ => (long.MinValue, long.MaxValue),
    };
}
