using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// A dense tensor in host memory as little-endian raw bytes: model inputs (generated, constant, or read
/// from .npy/.pb files) and stored reference outputs.
/// </summary>
internal sealed class HostTensor
{
    public HostTensor(DataType elementType, long[] shape, byte[] data)
    {
        if (!ElementKinds.IsSupported(elementType))
            throw new ArgumentException($"element type {ElementTypes.Name(elementType)} is not supported", nameof(elementType));
        long expected = ElementCountOf(shape) * ElementKinds.ByteSize(elementType);
        if (data.LongLength != expected)
            throw new ArgumentException($"{data.LongLength} bytes do not fit shape [{string.Join(",", shape)}] of {ElementTypes.Name(elementType)} ({expected} bytes)", nameof(data));
        ElementType = elementType;
        Shape = shape;
        Data = data;
    }

    public DataType ElementType { get; }
    public long[] Shape { get; }
    public byte[] Data { get; }
    public long ElementCount => ElementCountOf(Shape);

    public static long ElementCountOf(IReadOnlyList<long> shape)
    {
        long count = 1;
        foreach (long d in shape) count *= d;
        return count;
    }

    /// <summary>A tensor filled with <paramref name="value"/>, converted to the element type.</summary>
    public static HostTensor Filled(DataType type, long[] shape, double value)
    {
        long count = ElementCountOf(shape);
        int size = ElementKinds.ByteSize(type);
        var data = new byte[count * size];
        if (count > 0)
        {
            ElementKinds.Write(type, data.AsSpan(0, size), value);
            for (long i = 1; i < count; i++) data.AsSpan(0, size).CopyTo(data.AsSpan((int)(i * size), size));
        }
        return new HostTensor(type, shape, data);
    }

    /// <summary>
    /// Seeded random data: floating types uniform in [-1, 1), integer types uniform in
    /// {0, 1, 2, 3} (small and non-negative, so index-like inputs stay in range), bools half true.
    /// </summary>
    /// <summary>A tensor whose element i is <paramref name="valueAt"/>(i), converted to <paramref name="type"/>.</summary>
    public static HostTensor Generate(DataType type, long[] shape, Func<long, double> valueAt)
    {
        long count = ElementCountOf(shape);
        int size = ElementKinds.ByteSize(type);
        var data = new byte[count * size];
        for (long i = 0; i < count; i++) ElementKinds.Write(type, data.AsSpan((int)(i * size), size), valueAt(i));
        return new HostTensor(type, shape, data);
    }

    public static HostTensor Random(DataType type, long[] shape, Random random)
    {
        long count = ElementCountOf(shape);
        int size = ElementKinds.ByteSize(type);
        var data = new byte[count * size];
        var span = data.AsSpan();
        for (long i = 0; i < count; i++)
        {
            var slot = span.Slice((int)(i * size), size);
            double value = ElementKinds.IsFloating(type) ? random.NextDouble() * 2 - 1
                : type == DataType.Bool ? random.Next(2)
                : random.Next(4);
            ElementKinds.Write(type, slot, value);
        }
        return new HostTensor(type, shape, data);
    }

    /// <summary>Copies an ONNX tensor (as stored in a .pb file or an initializer).</summary>
    public static HostTensor FromTensor(Tensor tensor, string origin)
    {
        if (!ElementKinds.IsSupported(tensor.ElementType))
            throw new OnnxConvException(ExitCode.UsageError, $"{origin}: tensors of type {ElementTypes.Name(tensor.ElementType)} are not supported");
        if (tensor.FindDataProblem() is { } problem) throw new OnnxConvException(ExitCode.UsageError, $"{origin}: {problem}");
        return new HostTensor(tensor.ElementType, tensor.Dims.ToArray(), tensor.GetRawBytes().ToArray());
    }

    internal OrtValue ToOrtValue()
    {
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, (TensorElementType)(int)ElementType, Shape);
        Data.AsSpan().CopyTo(value.GetTensorMutableRawData());
        return value;
    }

    public string Describe() => $"{ElementKinds.Name(ElementType)}[{string.Join(",", Shape)}]";
}

/// <summary>Facts about the element types verification can feed and compare.</summary>
internal static class ElementKinds
{
    public static bool IsSupported(DataType type) => type is DataType.Float or DataType.Double or DataType.Float16
        or DataType.Bfloat16 or DataType.Int8 or DataType.Int16 or DataType.Int32 or DataType.Int64 or DataType.Uint8
        or DataType.Uint16 or DataType.Uint32 or DataType.Uint64 or DataType.Bool;

    /// <summary>The element type named by <see cref="Name"/> (e.g. "float32"), or null.</summary>
    public static DataType? FromName(string name)
    {
        foreach (var type in Enum.GetValues<DataType>())
            if (IsSupported(type) && Name(type) == name) return type;
        return null;
    }

    public static bool IsFloating(DataType type) => ElementTypes.IsFloatingPoint(type);

    public static int ByteSize(DataType type) => ElementTypes.BitsPerElement(type) / 8;

    /// <summary>Short numpy-style names used in reports: float32, float16, int64, bool…</summary>
    public static string Name(DataType type) => ElementTypes.Name(type);

    /// <summary>Default tolerances: float32 rtol 1e-4 / atol 1e-5, float16 1e-2 / 1e-3, bfloat16 2e-2 / 1e-2, float64 1e-10 / 1e-12, integers and bool exact.</summary>
    public static (double Rtol, double Atol) DefaultTolerance(DataType type) => type switch
    {
        DataType.Float => (1e-4, 1e-5),
        DataType.Float16 => (1e-2, 1e-3),
        DataType.Bfloat16 => (2e-2, 1e-2),
        DataType.Double => (1e-10, 1e-12),
        _ => (0, 0),
    };

    internal static void Write(DataType type, Span<byte> slot, double value)
    {
        switch (type)
        {
            case DataType.Float or DataType.Double or DataType.Float16 or DataType.Bfloat16: FloatElements.Encode(type, [value], slot); break;
            case DataType.Int8: slot[0] = (byte)(sbyte)value; break;
            case DataType.Uint8: slot[0] = (byte)value; break;
            case DataType.Bool: slot[0] = value != 0 ? (byte)1 : (byte)0; break;
            case DataType.Int16: BinaryPrimitives.WriteInt16LittleEndian(slot, (short)value); break;
            case DataType.Uint16: BinaryPrimitives.WriteUInt16LittleEndian(slot, (ushort)value); break;
            case DataType.Int32: BinaryPrimitives.WriteInt32LittleEndian(slot, (int)value); break;
            case DataType.Uint32: BinaryPrimitives.WriteUInt32LittleEndian(slot, (uint)value); break;
            case DataType.Int64: BinaryPrimitives.WriteInt64LittleEndian(slot, (long)value); break;
            case DataType.Uint64: BinaryPrimitives.WriteUInt64LittleEndian(slot, (ulong)value); break;
            default: throw new ArgumentException($"element type {ElementTypes.Name(type)} is not supported", nameof(type));
        }
    }

    /// <summary>Converts floating-point raw data to doubles.</summary>
    internal static void ToDoubles(DataType type, ReadOnlySpan<byte> raw, Span<double> destination) =>
        FloatElements.Decode(type, raw, destination);

    /// <summary>Converts integer or bool raw data to int64 (uint64 above 2^63 wraps, which keeps equality exact).</summary>
    internal static void ToInt64s(DataType type, ReadOnlySpan<byte> raw, Span<long> destination)
    {
        switch (type)
        {
            case DataType.Int64:
            case DataType.Uint64:
                MemoryMarshal.Cast<byte, long>(raw)[..destination.Length].CopyTo(destination);
                break;
            case DataType.Int32:
                var i32 = MemoryMarshal.Cast<byte, int>(raw);
                for (int i = 0; i < destination.Length; i++) destination[i] = i32[i];
                break;
            case DataType.Uint32:
                var u32 = MemoryMarshal.Cast<byte, uint>(raw);
                for (int i = 0; i < destination.Length; i++) destination[i] = u32[i];
                break;
            case DataType.Int16:
                var i16 = MemoryMarshal.Cast<byte, short>(raw);
                for (int i = 0; i < destination.Length; i++) destination[i] = i16[i];
                break;
            case DataType.Uint16:
                var u16 = MemoryMarshal.Cast<byte, ushort>(raw);
                for (int i = 0; i < destination.Length; i++) destination[i] = u16[i];
                break;
            case DataType.Int8:
                for (int i = 0; i < destination.Length; i++) destination[i] = (sbyte)raw[i];
                break;
            case DataType.Uint8:
            case DataType.Bool:
                for (int i = 0; i < destination.Length; i++) destination[i] = raw[i];
                break;
            default:
                throw new ArgumentException($"element type {ElementTypes.Name(type)} is not an integer type", nameof(type));
        }
    }
}
