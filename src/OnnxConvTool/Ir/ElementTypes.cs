using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

using DataType = TensorProto.Types.DataType;

/// <summary>Facts about ONNX element types: size, name, which typed field holds them.</summary>
internal static class ElementTypes
{
    /// <summary>Bits per element, or 0 for types without a fixed size (string, undefined).</summary>
    public static int BitsPerElement(DataType type) => type switch
    {
        DataType.Float or DataType.Int32 or DataType.Uint32 => 32,
        DataType.Double or DataType.Int64 or DataType.Uint64 or DataType.Complex64 => 64,
        DataType.Complex128 => 128,
        DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 16,
        DataType.Int8 or DataType.Uint8 or DataType.Bool or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz
            or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz => 8,
        DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1 => 4,
        _ => 0,
    };

    /// <summary>Bytes that <paramref name="count"/> packed elements occupy in raw_data, or -1 when not fixed.</summary>
    public static long RawByteCount(DataType type, long count)
    {
        int bits = BitsPerElement(type);
        return bits == 0 ? -1 : (count * bits + 7) / 8;
    }

    public static bool IsFloatingPoint(DataType type) =>
        type is DataType.Float or DataType.Double or DataType.Float16 or DataType.Bfloat16;

    public static bool IsInteger(DataType type) =>
        type is DataType.Int8 or DataType.Int16 or DataType.Int32 or DataType.Int64
            or DataType.Uint8 or DataType.Uint16 or DataType.Uint32 or DataType.Uint64;

    public static string Name(DataType type) => type switch
    {
        DataType.Float => "float32",
        DataType.Double => "float64",
        DataType.Float16 => "float16",
        DataType.Bfloat16 => "bfloat16",
        DataType.Int8 => "int8",
        DataType.Int16 => "int16",
        DataType.Int32 => "int32",
        DataType.Int64 => "int64",
        DataType.Uint8 => "uint8",
        DataType.Uint16 => "uint16",
        DataType.Uint32 => "uint32",
        DataType.Uint64 => "uint64",
        DataType.Bool => "bool",
        DataType.String => "string",
        DataType.Complex64 => "complex64",
        DataType.Complex128 => "complex128",
        _ => type.ToString().ToLowerInvariant(),
    };

    public static string Name(int type) => Name((DataType)type);
}
