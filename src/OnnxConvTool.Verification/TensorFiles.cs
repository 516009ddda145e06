using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

/// <summary>A tensor read from a file, with the name stored in it (empty for .npy or unnamed .pb).</summary>
public sealed record NamedTensor(string Name, HostTensor Tensor);

/// <summary>Reads input tensors from NumPy <c>.npy</c> or serialized ONNX <c>TensorProto</c> (<c>.pb</c>) files.</summary>
public static class TensorFiles
{
    /// <summary>Reads by extension: <c>.npy</c> as NumPy, anything else as a TensorProto.</summary>
    public static NamedTensor Read(string path)
    {
        if (!File.Exists(path)) throw new OnnxConvException(ExitCode.UsageError, $"{path}: file not found");
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return new NamedTensor("", NpyReader.Read(path));
        return ReadTensorProto(path);
    }

    public static NamedTensor ReadTensorProto(string path)
    {
        TensorProto proto;
        try
        {
            proto = TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: not a serialized ONNX TensorProto ({e.Message.TrimEnd('.')})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: cannot be read: {e.Message}", e);
        }
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: tensors with external data are not supported as input files");
        if (proto.DataType == 0 && proto.Dims.Count == 0 && !proto.HasRawData)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: not a serialized ONNX TensorProto (no data type, dims or data)");
        return new NamedTensor(proto.Name, HostTensor.FromTensor(new Tensor(proto), path));
    }
}
