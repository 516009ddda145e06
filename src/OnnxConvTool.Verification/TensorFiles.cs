using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

/// <summary>A tensor read from a file, with the name stored in it (empty for .npy or unnamed .pb).</summary>
internal sealed record NamedTensor(string Name, HostTensor Tensor);

/// <summary>Reads input tensors from NumPy <c>.npy</c> or serialized ONNX <c>TensorProto</c> (<c>.pb</c>) files.</summary>
internal static class TensorFiles
{
    /// <summary>Header room allowed beside the data: a .npy header, or a TensorProto's name, dims and doc string.</summary>
    private const long HeaderAllowance = 1L << 20;

    /// <summary>A serialized TensorProto cannot be parsed past 2 GiB; no input file is read beyond that.</summary>
    private const long ProtobufLimit = int.MaxValue;

    /// <summary>Reads by extension: <c>.npy</c> as NumPy, anything else as a TensorProto.</summary>
    /// <param name="maxBytes">Refuse, before reading, a file larger than this (see <see cref="LargestFileFor"/>).</param>
    /// <param name="path">The .npy or .pb file.</param>
    public static NamedTensor Read(string path, long? maxBytes = null)
    {
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return new NamedTensor("", NpyReader.Parse(ReadInputFile(path, maxBytes), path));
        return ReadTensorProto(path, maxBytes);
    }

    /// <summary>
    /// The largest file that can hold one tensor of <paramref name="type"/> and shape <paramref name="dims"/>, or
    /// null when a dim is not known: its data (a typed protobuf field spends at most 10 bytes an element) plus 1 MiB.
    /// </summary>
    public static long? LargestFileFor(TensorProto.Types.DataType type, IReadOnlyList<Shapes.Dim>? dims)
    {
        if (dims is null || dims.Any(d => d.Value is null)) return null;
        long elements = 1;
        foreach (var dim in dims)
        {
            if (dim.Value is not long d || d < 0) return null;
            elements = d != 0 && elements > ProtobufLimit / d ? ProtobufLimit : elements * d;
        }
        long perElement = Math.Max(10, (ElementTypes.BitsPerElement(type) + 7) / 8);
        return Math.Min(ProtobufLimit, elements > (ProtobufLimit - HeaderAllowance) / perElement ? ProtobufLimit : elements * perElement + HeaderAllowance);
    }

    /// <summary>
    /// Refuses, without opening it, a user-given input file that is not a regular file or is larger than
    /// <paramref name="maxBytes"/>, the most that <paramref name="holder"/> (e.g. "the input's tensor") can take.
    /// </summary>
    /// <exception cref="OnnxConvException">Usage error naming the file and the problem.</exception>
    internal static void CheckInputFile(string path, long? maxBytes, string holder = "the input's tensor") =>
        CheckStatus(path, FilePaths.Status(path), maxBytes, holder);

    /// <summary>
    /// The bytes of a user-given input file, after checking that it is a regular file no larger than
    /// <paramref name="maxBytes"/> (a device such as /dev/zero or a pipe would be read without end).
    /// </summary>
    /// <exception cref="OnnxConvException">Usage error naming the file and the problem.</exception>
    internal static byte[] ReadInputFile(string path, long? maxBytes, string holder = "the input's tensor")
    {
        CheckInputFile(path, maxBytes, holder);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            // Checked again on the open handle: the path may have been replaced since.
            CheckStatus(path, FilePaths.Status(stream.SafeFileHandle) ?? new FileStatus(FileKind.Regular, stream.Length, 1, 0, 0), maxBytes, holder);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: cannot be read: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    private static void CheckStatus(string path, FileStatus status, long? maxBytes, string holder)
    {
        if (status.Kind == FileKind.Missing) throw new OnnxConvException(ExitCode.UsageError, $"{path}: file not found");
        if (status.Kind != FileKind.Regular)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: is {status.KindText}, not a regular file; an input file must be a regular file");
        if (status.Size > Math.Min(maxBytes ?? ProtobufLimit, ProtobufLimit))
            throw new OnnxConvException(ExitCode.UsageError, maxBytes is { } max && max < ProtobufLimit
                ? $"{path}: {status.Size} bytes is more than {holder} can take ({max} bytes at most)"
                : $"{path}: {status.Size} bytes is more than an input file may hold (2 GiB)");
    }

    public static NamedTensor ReadTensorProto(string path, long? maxBytes = null, string holder = "the input's tensor")
    {
        byte[] bytes = ReadInputFile(path, maxBytes, holder);
        TensorProto proto;
        try
        {
            proto = TensorProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: not a serialized ONNX TensorProto ({e.Message.TrimEnd('.')})", e);
        }
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: tensors with external data are not supported as input files");
        if (proto.DataType == 0 && proto.Dims.Count == 0 && !proto.HasRawData)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: not a serialized ONNX TensorProto (no data type, dims or data)");
        return new NamedTensor(proto.Name, HostTensor.FromTensor(new Tensor(proto), path));
    }
}
