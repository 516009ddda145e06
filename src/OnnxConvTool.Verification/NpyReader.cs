using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Reads NumPy <c>.npy</c> files (format versions 1–3): little-endian (or single-byte) numeric and bool
/// arrays in C order. Big-endian data, Fortran order and object arrays are refused with a reason.
/// </summary>
internal static partial class NpyReader
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <exception cref="OnnxConvException">The file is missing, malformed, or holds an unsupported array (usage error).</exception>
    public static HostTensor Read(string path) => Parse(TensorFiles.ReadInputFile(path, null), path);

    public static HostTensor Parse(byte[] bytes, string origin)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic)) throw Fail(origin, "not a NumPy .npy file (bad magic)");
        int major = bytes[6];
        int headerLength, headerStart;
        switch (major)
        {
            case 1:
                headerLength = bytes[8] | (bytes[9] << 8);
                headerStart = 10;
                break;
            case 2 or 3 when bytes.Length >= 12:
                headerLength = (int)BitConverter.ToUInt32(bytes, 8);
                headerStart = 12;
                break;
            default:
                throw Fail(origin, $"unsupported .npy format version {major}");
        }
        if (headerLength < 0 || headerStart + headerLength > bytes.Length) throw Fail(origin, "the header is truncated");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, headerStart, headerLength);

        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success) throw Fail(origin, $"cannot read the header {header.Trim()}");
        if (fortran.Groups[1].Value == "True") throw Fail(origin, "the array is in Fortran order; save it in C order (np.ascontiguousarray)");
        var type = ElementTypeOf(descr.Groups[1].Value) ?? throw Fail(origin, $"unsupported dtype '{descr.Groups[1].Value}' (supported: little-endian float16/32/64, int8-64, uint8-64, bool)");
        long[] shape = shapeMatch.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw Fail(origin, $"bad dimension '{d}' in shape"))
            .ToArray();

        int dataStart = headerStart + headerLength;
        long expected = HostTensor.ElementCountOf(shape) * ElementKinds.ByteSize(type);
        if (bytes.Length - dataStart != expected)
            throw Fail(origin, $"holds {bytes.Length - dataStart} data bytes but shape ({string.Join(",", shape)}) of {ElementKinds.Name(type)} needs {expected}");
        return new HostTensor(type, shape, bytes.AsSpan(dataStart).ToArray());
    }

    private static DataType? ElementTypeOf(string descr)
    {
        if (descr.Length < 3) return null;
        char order = descr[0];
        string code = descr[1..];
        bool singleByte = code is "b1" or "i1" or "u1";
        if (!(order == '<' || order == '|' && singleByte || order == '=' && BitConverter.IsLittleEndian)) return null;
        return code switch
        {
            "f2" => DataType.Float16,
            "f4" => DataType.Float,
            "f8" => DataType.Double,
            "i1" => DataType.Int8,
            "i2" => DataType.Int16,
            "i4" => DataType.Int32,
            "i8" => DataType.Int64,
            "u1" => DataType.Uint8,
            "u2" => DataType.Uint16,
            "u4" => DataType.Uint32,
            "u8" => DataType.Uint64,
            "b1" => DataType.Bool,
            _ => null,
        };
    }

    private static OnnxConvException Fail(string origin, string problem) => new(ExitCode.UsageError, $"{origin}: {problem}");

    [GeneratedRegex(@"['""]descr['""]\s*:\s*['""]([^'""]+)['""]")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"['""]fortran_order['""]\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"['""]shape['""]\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
