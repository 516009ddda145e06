using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

using DataType = TensorProto.Types.DataType;

/// <summary>Where an external tensor's bytes live: a resolved, validated file range.</summary>
public sealed record ExternalDataLocation(string FullPath, string Location, long Offset, long Length);

/// <summary>
/// A constant tensor: wraps a <see cref="TensorProto"/> without copying its data. Data stored as
/// external data is read from its file only when asked for.
/// </summary>
public sealed class Tensor
{
    /// <summary>Wraps <paramref name="proto"/>, whose data lies at <paramref name="external"/> when it is in an external data file.</summary>
    public Tensor(TensorProto proto, ExternalDataLocation? external = null)
    {
        Proto = proto;
        External = external;
    }

    /// <summary>The ONNX tensor record (data inline, or a reference to external data).</summary>
    public TensorProto Proto { get; }
    /// <summary>Where the tensor's data lies in an external data file; null when it is inline.</summary>
    public ExternalDataLocation? External { get; }
    /// <summary>The tensor's name (an initializer's name is its value's name).</summary>
    public string Name { get => Proto.Name; set => Proto.Name = value; }
    /// <summary>The element type.</summary>
    public DataType ElementType => (DataType)Proto.DataType;
    /// <summary>The tensor's dims.</summary>
    public IReadOnlyList<long> Dims => Proto.Dims;
    /// <summary>The number of dims.</summary>
    public int Rank => Proto.Dims.Count;

    /// <summary>The number of elements: the product of the dims (1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (long d in Proto.Dims) count *= d;
            return count;
        }
    }

    /// <summary>Bytes of the data in little-endian raw form (-1 for strings).</summary>
    public long ByteCount => ElementTypes.RawByteCount(ElementType, ElementCount);

    /// <summary>Returns null when the stored data agrees with dims and type, else the problem in words.</summary>
    public string? FindDataProblem()
    {
        foreach (long d in Proto.Dims)
            if (d < 0) return $"tensor '{Name}' has a negative dimension {d}";
        if (ElementType == DataType.Undefined) return $"tensor '{Name}' has no data_type";
        if (!Enum.IsDefined(ElementType)) return $"tensor '{Name}' has an unknown data_type {(int)ElementType}";
        if (!Proto.Dims.Contains(0))
        {
            // Room for 16 bytes per element (complex128), so no byte count below can overflow.
            long limit = long.MaxValue / 16, product = 1;
            foreach (long d in Proto.Dims)
            {
                if (product > limit / d) return $"tensor '{Name}' has dims {FormatDims()} whose element count overflows";
                product *= d;
            }
        }
        long count = ElementCount;
        if (External is not null)
        {
            long expected = ElementTypes.RawByteCount(ElementType, count);
            return expected >= 0 && External.Length != expected
                ? $"tensor '{Name}' has {External.Length} bytes of external data but dims {FormatDims()} of {ElementTypes.Name(ElementType)} need {expected}"
                : null;
        }
        if (Proto.HasRawData)
        {
            long expected = ElementTypes.RawByteCount(ElementType, count);
            return expected >= 0 && Proto.RawData.Length != expected
                ? $"tensor '{Name}' has {Proto.RawData.Length} bytes of raw_data but dims {FormatDims()} of {ElementTypes.Name(ElementType)} need {expected}"
                : null;
        }
        (long stored, string field) = TypedFieldCount();
        long needed = ElementType switch
        {
            DataType.Complex64 or DataType.Complex128 => 2 * count,
            DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1 => (count + 1) / 2,
            _ => count,
        };
        if (stored == 0 && needed != 0 && Proto.Segment is null)
            return $"tensor '{Name}' has no data for dims {FormatDims()}";
        return stored != needed && Proto.Segment is null
            ? $"tensor '{Name}' has {stored} values in {field} but dims {FormatDims()} need {needed}"
            : null;
    }

    private (long Count, string Field) TypedFieldCount() => ElementType switch
    {
        DataType.Float or DataType.Complex64 => (Proto.FloatData.Count, "float_data"),
        DataType.Double or DataType.Complex128 => (Proto.DoubleData.Count, "double_data"),
        DataType.Int64 => (Proto.Int64Data.Count, "int64_data"),
        DataType.Uint32 or DataType.Uint64 => (Proto.Uint64Data.Count, "uint64_data"),
        DataType.String => (Proto.StringData.Count, "string_data"),
        _ => (Proto.Int32Data.Count, "int32_data"),
    };

    /// <summary>The dims as <c>[d0,d1,...]</c>.</summary>
    public string FormatDims() => "[" + string.Join(",", Proto.Dims) + "]";

    /// <summary>The data as little-endian raw bytes (reads external data from its file).</summary>
    public ReadOnlyMemory<byte> GetRawBytes()
    {
        if (External is not null) return ReadExternal();
        if (Proto.HasRawData) return Proto.RawData.Memory;
        return EncodeTypedFields();
    }

    /// <summary>
    /// Writes the raw bytes to <paramref name="destination"/> without holding a second copy of large data:
    /// external data and payloads mapped from the model file go file to file (in the kernel on Linux).
    /// </summary>
    public void CopyRawBytesTo(Stream destination)
    {
        if (External is not null)
        {
            using var source = new FileStream(External.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            if (destination is FileStream file)
            {
                FileRanges.Copy(source, External.Offset, External.Length, file, fallback: null);
                return;
            }
            var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                source.Seek(External.Offset, SeekOrigin.Begin);
                long remaining = External.Length;
                while (remaining > 0)
                {
                    int read = source.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
                    if (read == 0) throw new IOException($"external data of tensor '{Name}' ended early in {External.FullPath}");
                    destination.Write(buffer, 0, read);
                    remaining -= read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            return;
        }
        if (destination is FileStream output && Proto.HasRawData && MappedModelFile.TryGetRange(Proto.RawData, out var mapped, out long offset, out int length))
        {
            FileRanges.Copy(mapped.File, offset, length, output, () => mapped.Bytes.Slice((int)offset, length));
            return;
        }
        destination.Write(GetRawBytes().Span);
    }

    /// <summary>
    /// Copies raw bytes from byte <paramref name="start"/> of the data into <paramref name="destination"/> (filled).
    /// External data and payloads mapped from the model file are read from their file, so the mapping's pages never
    /// join the process's resident memory and nothing larger than the destination is allocated.
    /// </summary>
    public void ReadRawBytes(Span<byte> destination, long start = 0)
    {
        if (External is not null)
        {
            using var handle = File.OpenHandle(External.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            ReadExactly(handle, destination, External.Offset + start, External.FullPath);
            return;
        }
        if (IsMapped(out var mapped, out long offset))
        {
            ReadExactly(mapped.File.SafeFileHandle, destination, offset + start, mapped.Path);
            return;
        }
        GetRawBytes().Span.Slice(checked((int)start), destination.Length).CopyTo(destination);
    }

    private bool IsMapped(out MappedModelFile file, out long offset) =>
        MappedModelFile.TryGetRange(Proto.RawData, out file, out offset, out _);

    private void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> destination, long offset, string path)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(file, destination, offset);
            if (read == 0) throw new IOException($"the data of tensor '{Name}' ended early in {path}");
            destination = destination[read..];
            offset += read;
        }
    }

    /// <summary>True when the data is raw bytes (inline, mapped or external), so a range of it can be read without the rest.</summary>
    internal bool HasRawForm => External is not null || Proto.HasRawData;

    /// <summary>
    /// Decodes the float values from element <paramref name="firstElement"/> on into <paramref name="destination"/>
    /// (filled). Data that lives in a file is read a megabyte at a time, so a weight in a file costs its decoded
    /// range and never its raw bytes in memory; typed-field data (no raw form) is encoded whole first.
    /// </summary>
    /// <exception cref="ArgumentException">The element type is not a float type.</exception>
    internal void DecodeRange(long firstElement, Span<double> destination)
    {
        int elementBytes = ElementTypes.BitsPerElement(ElementType) / 8;
        if (External is null && !IsMapped(out _, out _))
        {
            FloatElements.Decode(ElementType, GetRawBytes().Span.Slice(checked((int)(firstElement * elementBytes)), destination.Length * elementBytes), destination);
            return;
        }
        int chunk = (1 << 20) / elementBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(chunk * elementBytes);
        try
        {
            for (int first = 0; first < destination.Length; first += chunk)
            {
                int count = Math.Min(chunk, destination.Length - first);
                var bytes = buffer.AsSpan(0, count * elementBytes);
                ReadRawBytes(bytes, (firstElement + first) * elementBytes);
                FloatElements.Decode(ElementType, bytes, destination.Slice(first, count));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private byte[] ReadExternal()
    {
        var bytes = new byte[External!.Length];
        using var source = new FileStream(External.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        source.Seek(External.Offset, SeekOrigin.Begin);
        source.ReadExactly(bytes);
        return bytes;
    }

    private byte[] EncodeTypedFields()
    {
        long count = ElementCount;
        switch (ElementType)
        {
            case DataType.Float:
            case DataType.Complex64:
                return MemoryMarshal.AsBytes(Proto.FloatData.ToArray().AsSpan()).ToArray();
            case DataType.Double:
            case DataType.Complex128:
                return MemoryMarshal.AsBytes(Proto.DoubleData.ToArray().AsSpan()).ToArray();
            case DataType.Int64:
                return MemoryMarshal.AsBytes(Proto.Int64Data.ToArray().AsSpan()).ToArray();
            case DataType.Uint64:
                return MemoryMarshal.AsBytes(Proto.Uint64Data.ToArray().AsSpan()).ToArray();
            case DataType.Uint32:
                return MemoryMarshal.AsBytes(Proto.Uint64Data.Select(v => (uint)v).ToArray().AsSpan()).ToArray();
            case DataType.Int32:
                return MemoryMarshal.AsBytes(Proto.Int32Data.ToArray().AsSpan()).ToArray();
            case DataType.Int16:
            case DataType.Uint16:
            case DataType.Float16:
            case DataType.Bfloat16:
                return MemoryMarshal.AsBytes(Proto.Int32Data.Select(v => (ushort)v).ToArray().AsSpan()).ToArray();
            case DataType.Int8:
            case DataType.Uint8:
            case DataType.Bool:
            case DataType.Float8E4M3Fn:
            case DataType.Float8E4M3Fnuz:
            case DataType.Float8E5M2:
            case DataType.Float8E5M2Fnuz:
            case DataType.Int4:
            case DataType.Uint4:
            case DataType.Float4E2M1:
                return Proto.Int32Data.Select(v => (byte)v).ToArray();
            default:
                throw new UnsupportedModelException($"tensor '{Name}' of type {ElementTypes.Name(ElementType)} has no numeric raw form ({count} elements)");
        }
    }

    /// <summary>Values as float (from float, double, float16, bfloat16 or integer data).</summary>
    public float[] ToFloatArray()
    {
        if (ElementType == DataType.Float && External is null && !Proto.HasRawData) return Proto.FloatData.ToArray();
        var raw = GetRawBytes().Span;
        return ElementType switch
        {
            DataType.Float => MemoryMarshal.Cast<byte, float>(raw).ToArray(),
            _ => Array.ConvertAll(ToDoubleArray(), v => (float)v),
        };
    }

    /// <summary>Values as double (from any floating-point or integer type).</summary>
    public double[] ToDoubleArray()
    {
        long count = ElementCount;
        var result = new double[count];
        if (FloatElements.IsSupported(ElementType))
        {
            DecodeRange(0, result);
            return result;
        }
        var ints = ToInt64Array();
        for (int i = 0; i < count; i++) result[i] = ints[i];
        return result;
    }

    /// <summary>Values as int64 (from any integer or bool type).</summary>
    public long[] ToInt64Array()
    {
        if (ElementType == DataType.Int64 && External is null && !Proto.HasRawData) return Proto.Int64Data.ToArray();
        var raw = GetRawBytes().Span;
        long count = ElementCount;
        var result = new long[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = ElementType switch
            {
                DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]),
                DataType.Uint64 => (long)BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * i)..]),
                DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]),
                DataType.Uint32 => BinaryPrimitives.ReadUInt32LittleEndian(raw[(4 * i)..]),
                DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(raw[(2 * i)..]),
                DataType.Uint16 => BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]),
                DataType.Int8 => (sbyte)raw[i],
                DataType.Uint8 or DataType.Bool => raw[i],
                DataType.Float => (long)MemoryMarshal.Cast<byte, float>(raw)[i],
                DataType.Double => (long)MemoryMarshal.Cast<byte, double>(raw)[i],
                _ => throw new UnsupportedModelException($"tensor '{Name}' of type {ElementTypes.Name(ElementType)} is not an integer tensor"),
            };
        }
        return result;
    }

    /// <summary>Creates a tensor of <paramref name="type"/> (float, double, float16, bfloat16, int32 or int64) from double values, float types rounded once.</summary>
    public static Tensor FromValues(string name, DataType type, IReadOnlyList<long> dims, ReadOnlySpan<double> values)
    {
        byte[] raw;
        switch (type)
        {
            case DataType.Float:
            case DataType.Double:
            case DataType.Float16:
            case DataType.Bfloat16:
                raw = FloatElements.Encode(type, values);
                break;
            case DataType.Int64:
                raw = new byte[values.Length * 8];
                var l = MemoryMarshal.Cast<byte, long>(raw.AsSpan());
                for (int i = 0; i < values.Length; i++) l[i] = (long)values[i];
                break;
            case DataType.Int32:
                raw = new byte[values.Length * 4];
                var n = MemoryMarshal.Cast<byte, int>(raw.AsSpan());
                for (int i = 0; i < values.Length; i++) n[i] = (int)values[i];
                break;
            default:
                throw new UnsupportedModelException($"cannot create a constant of type {ElementTypes.Name(type)}");
        }
        return FromRawBytes(name, type, dims, raw);
    }

    /// <summary>A float32 tensor holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromFloats(string name, IReadOnlyList<long> dims, ReadOnlySpan<float> values) =>
        FromRawBytes(name, DataType.Float, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>An int64 tensor holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromInt64s(string name, IReadOnlyList<long> dims, ReadOnlySpan<long> values) =>
        FromRawBytes(name, DataType.Int64, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Wraps <paramref name="raw"/> without copying; the caller gives up ownership of the array.</summary>
    public static Tensor FromRawBytes(string name, DataType type, IReadOnlyList<long> dims, byte[] raw)
    {
        var proto = new TensorProto { Name = name, DataType = (int)type, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        proto.Dims.AddRange(dims);
        return new Tensor(proto);
    }

    /// <summary>A copy of this tensor's metadata and data under another name (data buffers are shared, they are immutable).</summary>
    public Tensor CloneAs(string name)
    {
        var proto = Proto.Clone();
        proto.Name = name;
        return new Tensor(proto, External);
    }
}
