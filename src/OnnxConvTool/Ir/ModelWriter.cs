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

    /// <summary>Allows the target to be the model's own source file (the CLI's <c>--in-place</c>).</summary>
    public bool AllowOverwritingInput { get; init; }

    /// <summary>Largest model written inline; tests lower it to exercise the switch to external data without writing 2 GiB.</summary>
    internal long InlineLimit { get; init; } = ModelWriter.ProtobufLimit;

    /// <summary>Runs just before the temp files are renamed into place; tests use it to make the rename fail.</summary>
    internal Action? BeforeRename { get; init; }
}

/// <summary>What a save wrote: the model file, and the data file when tensors went to external data.</summary>
public sealed record SaveResult(string ModelPath, long ModelBytes, string? DataPath, long DataBytes, int InlineTensors, int ExternalTensors);

/// <summary>
/// Writes the IR back to an ONNX file atomically: model and data go to temp files in the target folder and
/// are renamed into place only when complete, so a failure leaves no partial output and no temp files.
/// </summary>
public static class ModelWriter
{
    /// <summary>Largest protobuf message that can be serialised (2 GiB less a safety margin).</summary>
    public const long ProtobufLimit = int.MaxValue - (16L << 20);

    /// <param name="cancellation">Checked between tensors and once more before the rename: a cancelled save leaves no trace.</param>
    /// <exception cref="OutputNotWrittenException">The folder is missing or unwritable, or the model is too large inline.</exception>
    /// <exception cref="OnnxConvException">Usage error: the target would overwrite the input model or its external data, or is not a regular file.</exception>
    public static SaveResult Save(Model model, string path, SaveOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new SaveOptions();
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(directory)) throw new OutputNotWrittenException($"{path}: folder '{directory}' does not exist");
        string dataFileName = options.DataFileName ?? Path.GetFileName(fullPath) + ".data";
        string dataPath = Path.Combine(directory, dataFileName);

        var mode = ChooseMode(model, options, path);
        var emitter = new ProtoEmitter(mode, options.ExternalThreshold, dataFileName, cancellation);
        bool writesData = emitter.WillWriteExternal(model);
        CheckDestination(path, writesData ? dataPath : null);
        CheckNotOverwritingInput(model, path, fullPath, writesData ? dataPath : null, options.AllowOverwritingInput);

        FileStream? dataStream = null, modelStream = null;
        try
        {
            TempFiles.RemoveAbandoned(fullPath);
            if (writesData) TempFiles.RemoveAbandoned(dataPath);
            ModelProto proto;
            if (writesData)
            {
                dataStream = TempFiles.CreateBeside(dataPath);
                emitter.DataStream = dataStream;
                proto = emitter.EmitModel(model);
                dataStream.Flush(flushToDisk: false);
            }
            else
            {
                proto = emitter.EmitModel(model);
            }
            long dataBytes = dataStream?.Length ?? 0;
            dataStream?.Dispose();
            int size = proto.CalculateSize();
            if (size < 0 || size > options.InlineLimit)
                throw new OutputNotWrittenException($"{path}: the model exceeds the 2 GiB protobuf limit; save its weights as external data");
            modelStream = TempFiles.CreateBeside(fullPath);
            TensorPayloads.WriteTo(proto, modelStream);
            modelStream.Dispose();
            cancellation.ThrowIfCancellationRequested();
            options.BeforeRename?.Invoke();
            MoveIntoPlace(modelStream.Name, fullPath, dataStream?.Name, dataPath);
            return new SaveResult(fullPath, size, writesData ? dataPath : null, dataBytes, emitter.InlineTensors, emitter.ExternalTensors);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputNotWrittenException($"{path}: {TempFiles.Scrub(e.Message)}", e);
        }
        finally
        {
            dataStream?.Dispose();
            modelStream?.Dispose();
            if (modelStream is not null) TempFiles.Delete(modelStream.Name);
            if (dataStream is not null) TempFiles.Delete(dataStream.Name);
        }
    }

    /// <summary>
    /// Refuses a model destination (or its data file) that exists and is not a regular file: renaming over a
    /// device, pipe or folder would replace it, and a model cannot be streamed into one.
    /// </summary>
    /// <exception cref="OnnxConvException">Usage error naming the path and what it is.</exception>
    public static void CheckDestination(string path, string? dataPath = null)
    {
        foreach (string target in dataPath is null ? [path] : new[] { path, dataPath })
        {
            var status = FilePaths.Status(target);
            if (status.Kind is not (FileKind.Missing or FileKind.Regular))
                throw new OnnxConvException(ExitCode.UsageError,
                    $"{target}: is {status.KindText}, not a regular file; a model is only written to a regular file");
        }
    }

    /// <summary>
    /// Renames the finished temp files over the targets, data first so the new model never points at old data.
    /// When the model cannot be renamed, the data file is put back as it was, so a failure leaves no trace.
    /// </summary>
    private static void MoveIntoPlace(string tempModel, string modelPath, string? tempData, string dataPath)
    {
        if (tempData is null)
        {
            File.Move(tempModel, modelPath, overwrite: true);
            TempFiles.Committed(tempModel);
            return;
        }
        string? previousData = File.Exists(dataPath) ? TempFiles.PathBeside(dataPath) : null;
        if (previousData is not null) File.Move(dataPath, previousData);
        try
        {
            File.Move(tempData, dataPath);
            File.Move(tempModel, modelPath, overwrite: true);
        }
        catch
        {
            TempFiles.Delete(dataPath);
            if (previousData is not null) File.Move(previousData, dataPath);
            throw;
        }
        TempFiles.Committed(tempData);
        TempFiles.Committed(tempModel);
        if (previousData is not null) TempFiles.Delete(previousData);
    }

    /// <summary>Serialises the model to bytes (inline data only), for handing to a runtime in memory.</summary>
    public static byte[] ToBytes(Model model) => ToProto(model).ToByteArray();

    /// <summary>
    /// The model as a ModelProto with all data inline (external tensors are read in). The result shares
    /// unchanged tensor and attribute protos with the model: serialise it, do not modify it.
    /// </summary>
    public static ModelProto ToProto(Model model) => new ProtoEmitter(ExternalDataMode.Inline, long.MaxValue, "").EmitModel(model);

    /// <summary>The placement actually used: Keep turns into External when the inline model would pass the limit.</summary>
    internal static ExternalDataMode ChooseMode(Model model, SaveOptions options, string path)
    {
        switch (options.ExternalData)
        {
            case ExternalDataMode.Keep when InlineTensorBytes(model, includeExternal: false) > options.InlineLimit:
                return ExternalDataMode.External;
            case ExternalDataMode.Inline when InlineTensorBytes(model, includeExternal: true) > options.InlineLimit:
                throw new OutputNotWrittenException($"{path}: the weights exceed the 2 GiB protobuf limit; save them as external data");
            default:
                return options.ExternalData;
        }
    }

    private static long InlineTensorBytes(Model model, bool includeExternal)
    {
        long total = 0;
        foreach (var tensor in AllTensors(model))
            if (includeExternal || tensor.External is null) total += Math.Max(0, tensor.ByteCount);
        return total;
    }

    /// <summary>Refuses a target that is the input model (unless allowed) or one of the input's external data files.</summary>
    private static void CheckNotOverwritingInput(Model model, string path, string fullPath, string? dataPath, bool allowOverwritingInput)
    {
        string target = FilePaths.RealPath(fullPath);
        bool isInput = model.SourcePath is not null && target == FilePaths.RealPath(model.SourcePath);
        if (isInput && !allowOverwritingInput)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: refusing to overwrite the input model (use --in-place to allow it)");
        var inputDataFiles = AllTensors(model).Where(t => t.External is not null).Select(t => t.External!.FullPath).ToHashSet(StringComparer.Ordinal);
        if (inputDataFiles.Contains(target))
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: refusing to overwrite the input model's external data file");
        if (!isInput && dataPath is not null && inputDataFiles.Contains(FilePaths.RealPath(dataPath)))
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: its data file '{Path.GetFileName(dataPath)}' would overwrite the input model's external data; choose another output name");
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

    /// <summary>Builds the output protos from the IR, placing tensor data inline or in the data stream.</summary>
    private sealed class ProtoEmitter(ExternalDataMode mode, long threshold, string dataFileName, CancellationToken cancellation = default)
    {
        public Stream? DataStream { get; set; }
        public int InlineTensors { get; private set; }
        public int ExternalTensors { get; private set; }

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
            foreach (var (info, namedAValue) in graph.ValueInfos)
            {
                var value = graph.Resolve(info.Name);
                if (!namedAValue)
                {
                    if (value is null) proto.ValueInfo.Add(info);
                    continue;
                }
                if (value is null) continue;
                proto.ValueInfo.Add(ReferenceEquals(value.Graph, graph) ? EmitValueInfo(value, info) : info);
            }
            return proto;
        }

        /// <summary>The value's record: the original untouched while name and type are as loaded, else a copy brought up to date.</summary>
        private static ValueInfoProto EmitValueInfo(Value value, ValueInfoProto? original)
        {
            if (original is null) return new ValueInfoProto { Name = value.Name, Type = value.Type?.Clone() };
            bool typeUnchanged = value.Type is null || ReferenceEquals(value.Type, value.LoadedType) || value.Type.Equals(original.Type);
            if (original.Name == value.Name && typeUnchanged) return original;
            var info = original.Clone();
            info.Name = value.Name;
            if (!typeUnchanged) info.Type = value.Type!.Clone();
            return info;
        }

        private NodeProto EmitNode(Node node)
        {
            var proto = node.Proto.Clone();
            foreach (var input in node.Inputs) proto.Input.Add(input?.Name ?? "");
            foreach (var output in node.Outputs) proto.Output.Add(output.IsOmittedOutput && output.IsUnused ? "" : output.Name);
            var model = node.Graph.Model;
            for (int i = 0; i < proto.Attribute.Count; i++)
            {
                var original = node.Proto.Attribute[i];
                var attribute = proto.Attribute[i];
                if (node.Subgraphs.TryGetValue(attribute.Name, out var graphs))
                {
                    if (attribute.Type == AttributeProto.Types.AttributeType.Graphs)
                        foreach (var g in graphs) attribute.Graphs.Add(EmitGraph(g));
                    else
                        attribute.G = EmitGraph(graphs[0]);
                }
                if (original.T is not null) attribute.T = EmitTensor(new Tensor(original.T, model.ExternalDataOf(original.T)));
                for (int j = 0; j < original.Tensors.Count; j++)
                    attribute.Tensors[j] = EmitTensor(new Tensor(original.Tensors[j], model.ExternalDataOf(original.Tensors[j])));
            }
            return proto;
        }

        private TensorProto EmitTensor(Tensor tensor)
        {
            cancellation.ThrowIfCancellationRequested();
            if (GoesExternal(tensor))
            {
                ExternalTensors++;
                var stream = DataStream ?? throw new InvalidOperationException("no data stream for external tensors");
                long offset = stream.Position;
                tensor.CopyRawBytesTo(stream);
                long length = stream.Position - offset;
                var proto = WithoutData(tensor.Proto);
                proto.DataLocation = TensorProto.Types.DataLocation.External;
                proto.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataFileName });
                proto.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                proto.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                return proto;
            }
            InlineTensors++;
            if (tensor.External is null) return tensor.Proto;
            var inline = WithoutData(tensor.Proto);
            inline.RawData = UnsafeByteOperations.UnsafeWrap(tensor.GetRawBytes());
            return inline;
        }

        /// <summary>A copy of the tensor's metadata (name, type, dims, doc, unknown fields) with every data field cleared.</summary>
        private static TensorProto WithoutData(TensorProto source)
        {
            var proto = source.Clone();
            proto.ClearRawData();
            proto.FloatData.Clear();
            proto.Int32Data.Clear();
            proto.StringData.Clear();
            proto.Int64Data.Clear();
            proto.DoubleData.Clear();
            proto.Uint64Data.Clear();
            proto.ExternalData.Clear();
            proto.ClearDataLocation();
            return proto;
        }
    }
}
