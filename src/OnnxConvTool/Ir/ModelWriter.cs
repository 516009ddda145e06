using Google.Protobuf;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

/// <summary>How tensor data is placed when saving.</summary>
public enum ExternalDataMode
{
    /// <summary>Inline tensors stay inline, external ones go to the output's data file; switches to External past 2 GiB.</summary>
    Keep,
    /// <summary>Every tensor inline (fails past the 2 GiB protobuf limit).</summary>
    Inline,
    /// <summary>Tensors of at least <see cref="SaveOptions.ExternalThreshold"/> bytes go to the output's data file.</summary>
    External,
}

public sealed record SaveOptions
{
    public ExternalDataMode ExternalData { get; init; } = ExternalDataMode.Keep;

    /// <summary>Smallest tensor (bytes) moved to external data in External mode.</summary>
    public long ExternalThreshold { get; init; } = 1024;

    /// <summary>Data file name next to the model; defaults to the model's file name plus ".data".</summary>
    public string? DataFileName { get; init; }
}

/// <summary>Writes the IR back to an ONNX file atomically (temp file in the target folder, then rename).</summary>
public static class ModelWriter
{
    /// <summary>Largest protobuf message that can be serialised (2 GiB less a safety margin).</summary>
    public const long ProtobufLimit = int.MaxValue - (16L << 20);

    public static void Save(Model model, string path, SaveOptions? options = null)
    {
        options ??= new SaveOptions();
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(directory)) throw new OutputNotWrittenException($"{path}: folder '{directory}' does not exist");
        string dataFileName = options.DataFileName ?? Path.GetFileName(fullPath) + ".data";

        var mode = options.ExternalData;
        if (mode == ExternalDataMode.Keep && EstimateInlineSize(model) > ProtobufLimit) mode = ExternalDataMode.External;
        if (mode == ExternalDataMode.Inline && EstimateInlineSize(model, includeExternal: true) > ProtobufLimit)
            throw new OutputNotWrittenException($"{path}: the weights exceed the 2 GiB protobuf limit; save them as external data");

        string dataPath = Path.Combine(directory, dataFileName);
        string? tempData = null;
        string tempModel = TempPathBeside(fullPath);
        try
        {
            var emitter = new ProtoEmitter(mode, options.ExternalThreshold, dataFileName);
            ModelProto proto;
            if (emitter.WillWriteExternal(model))
            {
                tempData = TempPathBeside(dataPath);
                using var dataStream = new FileStream(tempData, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                emitter.DataStream = dataStream;
                proto = emitter.EmitModel(model);
                dataStream.Flush(flushToDisk: true);
            }
            else
            {
                proto = emitter.EmitModel(model);
            }
            if (proto.CalculateSize() > ProtobufLimit || proto.CalculateSize() < 0)
                throw new OutputNotWrittenException($"{path}: the model exceeds the 2 GiB protobuf limit; save its weights as external data");
            using (var modelStream = new FileStream(tempModel, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                proto.WriteTo(modelStream);
                modelStream.Flush(flushToDisk: true);
            }
            if (tempData is not null) File.Move(tempData, dataPath, overwrite: true);
            File.Move(tempModel, fullPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputNotWrittenException($"{path}: {e.Message}", e);
        }
        finally
        {
            TryDelete(tempModel);
            if (tempData is not null) TryDelete(tempData);
        }
    }

    /// <summary>Serialises the model to bytes (inline data only), for handing to a runtime in memory.</summary>
    public static byte[] ToBytes(Model model)
    {
        var emitter = new ProtoEmitter(ExternalDataMode.Inline, long.MaxValue, "");
        return emitter.EmitModel(model).ToByteArray();
    }

    /// <summary>The model as a ModelProto with all data inline (external tensors are read in).</summary>
    public static ModelProto ToProto(Model model) => new ProtoEmitter(ExternalDataMode.Inline, long.MaxValue, "").EmitModel(model);

    private static long EstimateInlineSize(Model model, bool includeExternal = false)
    {
        long total = 0;
        foreach (var tensor in AllTensors(model))
            if (includeExternal || tensor.External is null) total += Math.Max(0, tensor.ByteCount);
        return total;
    }

    internal static IEnumerable<Tensor> AllTensors(Model model)
    {
        foreach (var graph in model.AllGraphs())
        {
            foreach (var value in graph.Initializers) yield return value.Initializer!;
            foreach (var node in graph.Nodes)
                foreach (var attribute in node.Proto.Attribute)
                {
                    if (attribute.T is not null) yield return new Tensor(attribute.T, model.ExternalDataOf(attribute.T));
                    foreach (var t in attribute.Tensors) yield return new Tensor(t, model.ExternalDataOf(t));
                }
        }
    }

    private static string TempPathBeside(string path) =>
        Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    private static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Builds the output protos from the IR, placing tensor data inline or in the data stream.</summary>
    private sealed class ProtoEmitter(ExternalDataMode mode, long threshold, string dataFileName)
    {
        public Stream? DataStream { get; set; }

        public bool WillWriteExternal(Model model) => AllTensors(model).Any(GoesExternal);

        private bool GoesExternal(Tensor tensor) => mode switch
        {
            ExternalDataMode.Inline => false,
            ExternalDataMode.Keep => tensor.External is not null,
            _ => tensor.ElementType != TensorProto.Types.DataType.String && tensor.ByteCount >= threshold,
        };

        public ModelProto EmitModel(Model model)
        {
            var proto = model.Shell.Clone();
            proto.Graph = EmitGraph(model.Graph);
            return proto;
        }

        private GraphProto EmitGraph(Graph graph)
        {
            var proto = graph.Shell.Clone();
            foreach (var node in graph.Nodes) proto.Node.Add(EmitNode(node));
            foreach (var value in graph.Initializers) proto.Initializer.Add(EmitTensor(value.Initializer!));
            foreach (var value in graph.Inputs) proto.Input.Add(EmitValueInfo(value, value.Info));
            for (int i = 0; i < graph.Outputs.Count; i++) proto.Output.Add(EmitValueInfo(graph.Outputs[i], graph.OutputInfos[i]));
            foreach (var info in graph.ValueInfos)
            {
                if (graph.Find(info.Name) is not { } value) continue;
                proto.ValueInfo.Add(ReferenceEquals(value.Type, info.Type) || value.Type is null ? info : EmitValueInfo(value, info));
            }
            return proto;
        }

        private static ValueInfoProto EmitValueInfo(Value value, ValueInfoProto? original)
        {
            if (original is not null && original.Name == value.Name && (value.Type is null || ReferenceEquals(original.Type, value.Type)))
                return original;
            var info = original?.Clone() ?? new ValueInfoProto();
            info.Name = value.Name;
            if (value.Type is not null) info.Type = value.Type.Clone();
            return info;
        }

        private NodeProto EmitNode(Node node)
        {
            var proto = node.Proto.Clone();
            foreach (var input in node.Inputs) proto.Input.Add(input?.Name ?? "");
            foreach (var output in node.Outputs) proto.Output.Add(output.Name);
            foreach (var attribute in proto.Attribute)
            {
                if (node.Subgraphs.TryGetValue(attribute.Name, out var graphs))
                {
                    if (attribute.Type == AttributeProto.Types.AttributeType.Graphs)
                        foreach (var g in graphs) attribute.Graphs.Add(EmitGraph(g));
                    else
                        attribute.G = EmitGraph(graphs[0]);
                }
                if (attribute.T is not null) attribute.T = EmitAttributeTensor(node, attribute.Name, attribute.T);
                for (int i = 0; i < attribute.Tensors.Count; i++) attribute.Tensors[i] = EmitAttributeTensor(node, attribute.Name, attribute.Tensors[i]);
            }
            return proto;
        }

        private TensorProto EmitAttributeTensor(Node node, string attributeName, TensorProto cloned)
        {
            var original = node.Proto.Attribute.First(a => a.Name == attributeName);
            var source = original.T is not null && original.T.Equals(cloned) ? original.T : cloned;
            return EmitTensor(new Tensor(cloned, node.Graph.Model.ExternalDataOf(source)));
        }

        private TensorProto EmitTensor(Tensor tensor)
        {
            if (GoesExternal(tensor))
            {
                var stream = DataStream ?? throw new InvalidOperationException("no data stream for external tensors");
                long offset = stream.Position;
                tensor.CopyRawBytesTo(stream);
                long length = stream.Position - offset;
                var proto = StripData(tensor.Proto);
                proto.DataLocation = TensorProto.Types.DataLocation.External;
                proto.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataFileName });
                proto.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                proto.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                return proto;
            }
            if (tensor.External is null) return tensor.Proto;
            var inline = StripData(tensor.Proto);
            inline.RawData = UnsafeByteOperations.UnsafeWrap(tensor.GetRawBytes());
            return inline;
        }

        private static TensorProto StripData(TensorProto source)
        {
            var proto = new TensorProto { DataType = source.DataType, Name = source.Name };
            proto.Dims.AddRange(source.Dims);
            if (source.HasDocString) proto.DocString = source.DocString;
            if (source.Segment is not null) proto.Segment = source.Segment.Clone();
            proto.MetadataProps.AddRange(source.MetadataProps.Select(m => m.Clone()));
            return proto;
        }
    }
}
