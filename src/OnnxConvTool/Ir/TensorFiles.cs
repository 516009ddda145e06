using Google.Protobuf;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

/// <summary>
/// Single serialized TensorProto files, such as the <c>input_N.pb</c> and <c>output_N.pb</c> files of
/// ONNX test cases.
/// </summary>
public static class TensorProtoFile
{
    /// <summary>Reads the tensor at <paramref name="path"/> and checks its data agrees with its dims and type.</summary>
    /// <exception cref="ModelRejectedException">The file is missing, empty, not a TensorProto, or its data is inconsistent.</exception>
    public static Tensor Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelRejectedException(path, $"cannot be read: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        if (bytes.Length == 0) throw new ModelRejectedException(path, "file is empty");
        TensorProto proto;
        try
        {
            proto = TensorProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelRejectedException(path, $"not a serialized TensorProto ({e.Message.ReplaceLineEndings(" ").TrimEnd('.')})", e);
        }
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tensor = new Tensor(proto, new ExternalDataResolver(path, folder).Resolve(proto));
        if (tensor.FindDataProblem() is { } problem) throw new ModelRejectedException(path, problem);
        return tensor;
    }

    /// <summary>Writes <paramref name="tensor"/> with its data inline, atomically.</summary>
    /// <exception cref="OutputNotWrittenException">The file could not be written.</exception>
    public static void Write(string path, Tensor tensor)
    {
        var proto = tensor.Proto;
        if (tensor.External is not null)
        {
            proto = proto.Clone();
            proto.ExternalData.Clear();
            proto.ClearDataLocation();
            proto.RawData = UnsafeByteOperations.UnsafeWrap(tensor.GetRawBytes());
        }
        try
        {
            TempFiles.ReplaceAtomically(Path.GetFullPath(path), proto.WriteTo);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputNotWrittenException($"{path}: {TempFiles.Scrub(e.Message)}", e);
        }
    }
}
