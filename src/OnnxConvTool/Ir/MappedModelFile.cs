using System.Buffers.Binary;
using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

/// <summary>
/// A read-only memory mapping of a model file. Large tensor payloads parsed from the file point into it
/// instead of being copied, so loading a model costs almost no memory and its weights are read only when
/// something touches them. Once a model refers to it, the mapping stays until the process exits: a
/// finalizer could unmap it while a span over a payload is still in use (CA2015), and the pages are
/// file-backed, so the kernel can drop them under memory pressure anyway.
/// </summary>
internal sealed unsafe class MappedModelFile : MemoryManager<byte>
{
    private readonly MemoryMappedFile _mapping;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    private MappedModelFile(string path, FileStream file, MemoryMappedFile mapping, MemoryMappedViewAccessor view, int length)
    {
        Path = path;
        File = file;
        _mapping = mapping;
        _view = view;
        Length = length;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        _pointer += view.PointerOffset;
    }

    public string Path { get; }

    /// <summary>The open file behind the mapping (for in-kernel copies of its ranges).</summary>
    public FileStream File { get; }

    public int Length { get; }

    public static MappedModelFile Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        try
        {
            long length = file.Length;
            if (length is 0 or > int.MaxValue) throw new IOException($"{path} is {length} bytes, which cannot be mapped as one protobuf message");
            var mapping = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            var view = mapping.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new MappedModelFile(path, file, mapping, view, (int)length);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public ReadOnlySpan<byte> Bytes => new(_pointer, Length);

    public override Span<byte> GetSpan() => new(_pointer, Length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (_pointer is null) return;
        _pointer = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mapping.Dispose();
        File.Dispose();
    }

    /// <summary>The mapped file and byte range behind <paramref name="bytes"/>, when it points into a mapping.</summary>
    public static bool TryGetRange(ByteString bytes, out MappedModelFile file, out long offset, out int length)
    {
        if (MemoryMarshal.TryGetMemoryManager(bytes.Memory, out MappedModelFile? manager, out int start, out length))
        {
            file = manager!;
            offset = start;
            return true;
        }
        file = null!;
        offset = 0;
        return false;
    }
}

/// <summary>
/// Just enough of the protobuf wire format, and of where ONNX keeps tensors, to lift large tensor payloads
/// out of a serialized model (so the stock parser sees a small message) and to put them back when writing.
/// Anything unexpected makes the caller fall back to the ordinary parser, which also gives the error messages.
/// </summary>
internal static class TensorPayloads
{
    /// <summary>Payloads from this size up are left in the mapped file rather than copied.</summary>
    public const int MinimumPayload = 4096;

    private const int MarkerLength = 16;
    private const int RawDataField = 9;
    private const int MaxNesting = 4 * ModelReader.MaxSubgraphDepth + 16;

    private enum Kind { Model, Graph, Node, Attribute, Tensor, SparseTensor }

    /// <summary>The message kind a length-delimited field holds, for the fields on the way to tensors.</summary>
    private static Kind? Child(Kind kind, int field) => (kind, field) switch
    {
        (Kind.Model, 7) => Kind.Graph,
        (Kind.Graph, 1) => Kind.Node,
        (Kind.Graph, 5) => Kind.Tensor,
        (Kind.Graph, 15) => Kind.SparseTensor,
        (Kind.Node, 5) => Kind.Attribute,
        (Kind.Attribute, 5) or (Kind.Attribute, 10) => Kind.Tensor,
        (Kind.Attribute, 6) or (Kind.Attribute, 11) => Kind.Graph,
        (Kind.SparseTensor, 1) or (Kind.SparseTensor, 2) => Kind.Tensor,
        _ => null,
    };

    /// <summary>
    /// Parses the mapped model with every large raw_data payload left in place: the wire bytes are copied
    /// with each payload replaced by a marker, the small result is parsed, and each marker becomes a
    /// ByteString over the mapping. Null when the bytes are not what a well-formed model looks like.
    /// </summary>
    public static ModelProto? TryParse(MappedModelFile file, int recursionLimit, out int payloadCount)
    {
        payloadCount = 0;
        var payloads = new List<(int Offset, int Length)>();
        var nonce = new byte[8];
        Random.Shared.NextBytes(nonce);
        var reduced = new ArrayBufferWriter<byte>(1 << 16);
        if (!Reduce(file.Bytes, 0, Kind.Model, reduced, payloads, nonce, 0)) return null;
        ModelProto proto;
        try
        {
            var input = CodedInputStream.CreateWithLimits(new MemoryStream(reduced.WrittenMemory.ToArray(), writable: false), int.MaxValue, recursionLimit);
            proto = new ModelProto();
            proto.MergeFrom(input);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
        var memory = file.Memory;
        int restored = 0;
        foreach (var tensor in Tensors(proto))
        {
            var raw = tensor.RawData.Span;
            if (raw.Length != MarkerLength || !raw[..8].SequenceEqual(nonce)) continue;
            var (offset, length) = payloads[(int)BinaryPrimitives.ReadInt64LittleEndian(raw[8..])];
            tensor.RawData = UnsafeByteOperations.UnsafeWrap(memory.Slice(offset, length));
            restored++;
        }
        payloadCount = restored;
        return restored == payloads.Count ? proto : null;
    }

    /// <summary>Every tensor in the places <see cref="Child"/> descends into.</summary>
    public static IEnumerable<TensorProto> Tensors(ModelProto model) => model.Graph is null ? [] : Tensors(model.Graph);

    private static IEnumerable<TensorProto> Tensors(GraphProto graph)
    {
        foreach (var node in graph.Node)
            foreach (var attribute in node.Attribute)
            {
                if (attribute.T is not null) yield return attribute.T;
                foreach (var t in attribute.Tensors) yield return t;
                if (attribute.G is not null)
                    foreach (var t in Tensors(attribute.G)) yield return t;
                foreach (var g in attribute.Graphs)
                    foreach (var t in Tensors(g)) yield return t;
            }
        foreach (var t in graph.Initializer) yield return t;
        foreach (var sparse in graph.SparseInitializer)
        {
            if (sparse.Values is not null) yield return sparse.Values;
            if (sparse.Indices is not null) yield return sparse.Indices;
        }
    }

    private static bool Reduce(ReadOnlySpan<byte> message, int baseOffset, Kind kind, ArrayBufferWriter<byte> output,
        List<(int, int)> payloads, byte[] nonce, int depth)
    {
        if (depth > MaxNesting) return false;
        int position = 0;
        while (position < message.Length)
        {
            if (!TryReadField(message, ref position, out var f)) return false;
            if (f.IsLengthDelimited)
            {
                var tagBytes = message[f.Start..f.TagEnd];
                if (Child(kind, f.Number) is { } child)
                {
                    var inner = new ArrayBufferWriter<byte>(Math.Min(f.PayloadLength, 1 << 16) + 16);
                    if (!Reduce(message.Slice(f.PayloadStart, f.PayloadLength), baseOffset + f.PayloadStart, child, inner, payloads, nonce, depth + 1)) return false;
                    output.Write(tagBytes);
                    WriteVarint(output, (ulong)inner.WrittenCount);
                    output.Write(inner.WrittenSpan);
                    continue;
                }
                if (kind == Kind.Tensor && f.Number == RawDataField && f.PayloadLength >= MinimumPayload)
                {
                    output.Write(tagBytes);
                    WriteVarint(output, MarkerLength);
                    output.Write(nonce);
                    BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), payloads.Count);
                    output.Advance(8);
                    payloads.Add((baseOffset + f.PayloadStart, f.PayloadLength));
                    continue;
                }
            }
            output.Write(message[f.Start..position]);
        }
        return true;
    }

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="output"/> exactly as <c>model.WriteTo</c> would, but
    /// copies each large payload that points into a mapped file straight from that file (in the kernel where
    /// it can), so the weights never pass through this process's memory.
    /// </summary>
    public static void WriteTo(ModelProto model, FileStream output)
    {
        var mapped = new Dictionary<TensorProto, int>(ReferenceEqualityComparer.Instance);
        var payloads = new List<(MappedModelFile File, long Offset, int Length)>();
        var nonce = new byte[8];
        Random.Shared.NextBytes(nonce);
        ReplaceTensors(model, tensor =>
        {
            if (tensor.RawData.Length < MinimumPayload || !MappedModelFile.TryGetRange(tensor.RawData, out var file, out long offset, out int length))
                return tensor;
            var marked = tensor.Clone();
            var marker = new byte[MarkerLength];
            nonce.CopyTo(marker, 0);
            BinaryPrimitives.WriteInt64LittleEndian(marker.AsSpan(8), payloads.Count);
            marked.RawData = UnsafeByteOperations.UnsafeWrap(marker);
            payloads.Add((file, offset, length));
            return marked;
        });
        if (payloads.Count == 0)
        {
            model.WriteTo(output);
            return;
        }
        var pieces = new List<object>();
        if (!Expand(model.ToByteArray(), Kind.Model, pieces, payloads, nonce, 0, out _))
            throw new InvalidOperationException("the serialized model did not have the shape it was built with");
        foreach (var piece in pieces)
        {
            if (piece is byte[] bytes)
            {
                output.Write(bytes);
                continue;
            }
            var (file, offset, length) = ((MappedModelFile, long, int))piece;
            FileRanges.Copy(file.File, offset, length, output, () => file.Bytes.Slice((int)offset, length));
        }
    }

    /// <summary>Replaces each tensor found where <see cref="Child"/> descends with <paramref name="map"/>'s result (in the containers, not the tensors).</summary>
    private static void ReplaceTensors(ModelProto model, Func<TensorProto, TensorProto> map)
    {
        if (model.Graph is not null) ReplaceTensors(model.Graph, map);
    }

    private static void ReplaceTensors(GraphProto graph, Func<TensorProto, TensorProto> map)
    {
        foreach (var node in graph.Node)
            foreach (var attribute in node.Attribute)
            {
                if (attribute.T is not null) attribute.T = map(attribute.T);
                for (int i = 0; i < attribute.Tensors.Count; i++) attribute.Tensors[i] = map(attribute.Tensors[i]);
                if (attribute.G is not null) ReplaceTensors(attribute.G, map);
                foreach (var g in attribute.Graphs) ReplaceTensors(g, map);
            }
        for (int i = 0; i < graph.Initializer.Count; i++) graph.Initializer[i] = map(graph.Initializer[i]);
        foreach (var sparse in graph.SparseInitializer)
        {
            if (sparse.Values is not null) sparse.Values = map(sparse.Values);
            if (sparse.Indices is not null) sparse.Indices = map(sparse.Indices);
        }
    }

    /// <summary>
    /// The output as pieces: byte arrays, and payload ranges where markers stood, with every enclosing length
    /// prefix grown to match. <paramref name="length"/> is the message's expanded size.
    /// </summary>
    private static bool Expand(ReadOnlySpan<byte> message, Kind kind, List<object> pieces,
        List<(MappedModelFile File, long Offset, int Length)> payloads, byte[] nonce, int depth, out long length)
    {
        length = 0;
        if (depth > MaxNesting) return false;
        var literal = new ArrayBufferWriter<byte>();
        void FlushLiteral()
        {
            if (literal.WrittenCount == 0) return;
            pieces.Add(literal.WrittenSpan.ToArray());
            literal.Clear();
        }
        int position = 0;
        while (position < message.Length)
        {
            if (!TryReadField(message, ref position, out var f)) return false;
            if (f.IsLengthDelimited)
            {
                var content = message.Slice(f.PayloadStart, f.PayloadLength);
                int tagLength = f.TagEnd - f.Start;
                if (Child(kind, f.Number) is { } child)
                {
                    var inner = new List<object>();
                    if (!Expand(content, child, inner, payloads, nonce, depth + 1, out long innerLength)) return false;
                    literal.Write(message[f.Start..f.TagEnd]);
                    WriteVarint(literal, (ulong)innerLength);
                    length += tagLength + VarintLength((ulong)innerLength) + innerLength;
                    FlushLiteral();
                    pieces.AddRange(inner);
                    continue;
                }
                if (kind == Kind.Tensor && f.Number == RawDataField && f.PayloadLength == MarkerLength && content[..8].SequenceEqual(nonce))
                {
                    var payload = payloads[(int)BinaryPrimitives.ReadInt64LittleEndian(content[8..])];
                    literal.Write(message[f.Start..f.TagEnd]);
                    WriteVarint(literal, (ulong)payload.Length);
                    length += tagLength + VarintLength((ulong)payload.Length) + payload.Length;
                    FlushLiteral();
                    pieces.Add(payload);
                    continue;
                }
            }
            literal.Write(message[f.Start..position]);
            length += position - f.Start;
        }
        FlushLiteral();
        return true;
    }

    /// <summary>One protobuf field: its number, where it and its tag end, and for length-delimited fields the payload.</summary>
    private readonly record struct WireField(int Number, int Start, int TagEnd, int PayloadStart, int PayloadLength)
    {
        public bool IsLengthDelimited => PayloadStart >= 0;
    }

    /// <summary>Reads the field at <paramref name="position"/> and moves past it; false on malformed bytes.</summary>
    private static bool TryReadField(ReadOnlySpan<byte> message, ref int position, out WireField field)
    {
        field = default;
        int start = position;
        if (!TryReadVarint(message, ref position, out ulong tag) || tag >> 3 == 0 || tag >> 3 > int.MaxValue) return false;
        int number = (int)(tag >> 3);
        int tagEnd = position;
        switch ((int)(tag & 7))
        {
            case 0:
                if (!TryReadVarint(message, ref position, out _)) return false;
                break;
            case 1:
                position += 8;
                break;
            case 5:
                position += 4;
                break;
            case 2:
                if (!TryReadVarint(message, ref position, out ulong size) || size > (ulong)(message.Length - position)) return false;
                field = new WireField(number, start, tagEnd, position, (int)size);
                position += (int)size;
                return true;
            default:
                return false;
        }
        if (position > message.Length) return false;
        field = new WireField(number, start, tagEnd, -1, 0);
        return true;
    }

    private static int VarintLength(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length) return false;
            byte b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }

    private static void WriteVarint(IBufferWriter<byte> output, ulong value)
    {
        var span = output.GetSpan(10);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        output.Advance(i);
    }
}
