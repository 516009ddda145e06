using Google.Protobuf;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

using AttributeType = AttributeProto.Types.AttributeType;

/// <summary>Loads an ONNX file into the IR, rejecting malformed or unsafe input with <see cref="ModelRejectedException"/>.</summary>
public static class ModelReader
{
    /// <summary>Subgraphs nested deeper than this are refused (If inside Loop inside … counts one per level).</summary>
    public const int MaxSubgraphDepth = 32;

    /// <summary>Message nesting the parser allows: room for <see cref="MaxSubgraphDepth"/> levels of graph→node→attribute plus types.</summary>
    private const int ProtobufRecursionLimit = 8 * MaxSubgraphDepth + 64;

    /// <summary>
    /// Files from this size up are parsed from a read-only memory mapping, and their large weights stay in
    /// the file (mapped, read on demand, never copied) until the process exits. Smaller files are read whole.
    /// </summary>
    public const long MappedLoadThreshold = 64L << 20;

    /// <summary>Loads and validates the model at <paramref name="path"/>.</summary>
    public static Model Load(string path) => Load(path, MappedLoadThreshold);

    /// <summary>Load with another threshold for mapping, so tests can exercise both paths with small files.</summary>
    internal static Model Load(string path, long mappedLoadThreshold)
    {
        var proto = ParseFile(path, mappedLoadThreshold);
        return Build(proto, path, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
    }

    /// <summary>Parses the file as a ModelProto and checks it is one (not an empty file or another message).</summary>
    public static ModelProto ParseFile(string path) => ParseFile(path, MappedLoadThreshold);

    private static ModelProto ParseFile(string path, long mappedLoadThreshold)
    {
        FileInfo info;
        try
        {
            info = new FileInfo(path);
            if (!info.Exists)
                throw new ModelRejectedException(path, Directory.Exists(path) ? "is a directory, not a model file" : "file not found");
            // A device or a pipe reports length 0 and could be read without end (or block until a writer comes).
            var status = FilePaths.Status(path);
            if (status.Kind is not (FileKind.Regular or FileKind.Missing))
                throw new ModelRejectedException(path, $"is {status.KindText}, not a model file");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ModelRejectedException(path, e.Message.ReplaceLineEndings(" "), e);
        }
        if (info.Length == 0) throw new ModelRejectedException(path, "file is empty");
        var proto = info.Length >= mappedLoadThreshold && !OperatingSystem.IsWindows() ? TryParseMapped(path) : null;
        proto ??= ParseStream(path);
        CheckIsModel(path, proto);
        return proto;
    }

    /// <summary>
    /// The model with large tensor payloads pointing into a read-only mapping of the file (see
    /// <see cref="TensorPayloads"/>), or null to fall back to the ordinary parser. Windows is left out
    /// because a mapped file cannot be replaced there, which an in-place save must do.
    /// </summary>
    private static ModelProto? TryParseMapped(string path)
    {
        MappedModelFile file;
        try
        {
            file = MappedModelFile.Open(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var proto = TensorPayloads.TryParse(file, ProtobufRecursionLimit, out int payloads);
        if (proto is null || payloads == 0) ((IDisposable)file).Dispose();
        return proto;
    }

    private static ModelProto ParseStream(string path)
    {
        ModelProto proto;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            using var input = CodedInputStream.CreateWithLimits(stream, int.MaxValue, ProtobufRecursionLimit);
            proto = new ModelProto();
            proto.MergeFrom(input);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelRejectedException(path, Describe(e), e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelRejectedException(path, $"cannot be read: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        return proto;
    }

    private static string Describe(InvalidProtocolBufferException e) =>
        e.Message.Contains("truncated", StringComparison.OrdinalIgnoreCase) ? "not a complete ONNX model: the file is truncated"
        : e.Message.Contains("recursion", StringComparison.OrdinalIgnoreCase) ? $"messages are nested too deeply to parse (subgraph nesting is limited to {MaxSubgraphDepth} levels)"
        : $"not an ONNX model: the protobuf does not parse ({e.Message.ReplaceLineEndings(" ").TrimEnd('.')})";

    private static void CheckIsModel(string path, ModelProto proto)
    {
        if (proto.Graph is null)
            throw new ModelRejectedException(path, "not an ONNX model: it has no graph (is it another kind of protobuf file?)");
        if (!proto.HasIrVersion || proto.IrVersion <= 0)
            throw new ModelRejectedException(path, "not an ONNX model: ir_version is missing");
        if (proto.IrVersion >= 3 && proto.OpsetImport.Count == 0)
            throw new ModelRejectedException(path, "model imports no opset (opset_import is empty)");
        foreach (var o in proto.OpsetImport)
            if (o.Version <= 0) throw new ModelRejectedException(path, $"opset import of domain '{o.Domain}' has version {o.Version}");
    }

    /// <summary>Builds the IR from a parsed proto; <paramref name="baseDirectory"/> resolves external data.</summary>
    public static Model Build(ModelProto proto, string path, string baseDirectory)
    {
        var graphProto = proto.Graph;
        proto.Graph = null;
        var model = new Model(proto, path);
        ReserveNames(model, graphProto, depth: 0);
        var context = new BuildContext(model, path, baseDirectory);
        model.Graph = context.BuildGraph(graphProto, parent: null, owner: null, "main");
        GraphValidator.ThrowIfInvalid(model, path);
        return model;
    }

    /// <summary>
    /// Reserves every name the file uses, in all graphs, before any is generated, so a made-up name
    /// (for an omitted output) can never collide with one defined later in the file or in a subgraph.
    /// </summary>
    private static void ReserveNames(Model model, GraphProto graph, int depth)
    {
        if (depth > MaxSubgraphDepth) return;
        foreach (var input in graph.Input) model.ReserveName(input.Name);
        foreach (var initializer in graph.Initializer) model.ReserveName(initializer.Name);
        foreach (var node in graph.Node)
        {
            model.ReserveName(node.Name);
            foreach (string output in node.Output) model.ReserveName(output);
            foreach (var attribute in node.Attribute)
            {
                if (attribute.G is not null) ReserveNames(model, attribute.G, depth + 1);
                foreach (var sub in attribute.Graphs) ReserveNames(model, sub, depth + 1);
            }
        }
    }

    private sealed class BuildContext(Model model, string path, string baseDirectory)
    {
        private readonly ExternalDataResolver _external = new(path, baseDirectory);

        private ModelRejectedException Reject(string problem) => new(path, problem);

        public Graph BuildGraph(GraphProto proto, Graph? parent, Node? owner, string graphPath)
        {
            var depthGraph = parent;
            int depth = 0;
            while (depthGraph is not null) { depth++; depthGraph = depthGraph.Parent; }
            if (depth > MaxSubgraphDepth)
                throw Reject($"subgraphs are nested deeper than the limit of {MaxSubgraphDepth} levels (at {graphPath})");

            var nodes = proto.Node.ToArray();
            var initializers = proto.Initializer.ToArray();
            var inputs = proto.Input.ToArray();
            var outputs = proto.Output.ToArray();
            var valueInfo = proto.ValueInfo.ToArray();
            proto.Node.Clear();
            proto.Initializer.Clear();
            proto.Input.Clear();
            proto.Output.Clear();
            proto.ValueInfo.Clear();

            var graph = new Graph(model, proto, parent, owner) { Path = graphPath };

            foreach (var input in inputs)
            {
                if (string.IsNullOrEmpty(input.Name)) throw Reject($"graph {graphPath} has an input with no name");
                if (graph.Find(input.Name) is not null) throw Reject($"graph {graphPath} lists input '{input.Name}' twice");
                var value = graph.AddInput(input.Name, input.Type);
                value.Info = input;
            }

            foreach (var tensorProto in initializers)
            {
                if (string.IsNullOrEmpty(tensorProto.Name)) throw Reject($"graph {graphPath} has an initializer with no name");
                var tensor = new Tensor(tensorProto, _external.Resolve(tensorProto));
                if (tensor.FindDataProblem() is { } problem) throw Reject(problem);
                var value = graph.Find(tensorProto.Name);
                if (value is null)
                {
                    value = graph.Define(tensorProto.Name);
                    value.Type = Graph.TypeFor(tensor);
                }
                else if (value.Initializer is not null)
                {
                    throw Reject($"initializer '{tensorProto.Name}' is defined twice in graph {graphPath}");
                }
                graph.AttachInitializer(value, tensor);
            }

            foreach (var sparse in proto.SparseInitializer)
            {
                string? name = sparse.Values?.Name;
                if (string.IsNullOrEmpty(name)) throw Reject($"graph {graphPath} has a sparse initializer with no name");
                if (graph.Find(name) is null) graph.Define(name);
            }

            var irNodes = new List<(Node Node, NodeProto Proto)>(nodes.Length);
            foreach (var nodeProto in nodes)
            {
                var node = new Node(graph, nodeProto);
                if (nodeProto.HasName && nodeProto.Name.Length > 0) model.ReserveName(nodeProto.Name);
                foreach (string outputName in nodeProto.Output)
                {
                    if (outputName.Length == 0)
                    {
                        var omitted = graph.Define(model.UniqueName($"{node.DisplayName}_omitted_output"));
                        omitted.IsOmittedOutput = true;
                        node.AddOutput(omitted);
                        continue;
                    }
                    if (graph.Find(outputName) is not null)
                        throw Reject($"value '{outputName}' is assigned more than once in graph {graphPath} (node '{node.DisplayName}')");
                    node.AddOutput(graph.Define(outputName));
                }
                irNodes.Add((node, nodeProto));
            }

            foreach (var (node, nodeProto) in irNodes)
            {
                foreach (string inputName in nodeProto.Input)
                {
                    if (inputName.Length == 0)
                    {
                        node.AddInput(null);
                        continue;
                    }
                    var value = graph.Resolve(inputName)
                        ?? throw Reject($"node '{node.DisplayName}' ({node.OpType}) in graph {graphPath} uses '{inputName}', which no node, initializer or graph input defines");
                    node.AddInput(value);
                }
                graph.AddNodeFromReader(node);
            }

            foreach (var (node, nodeProto) in irNodes)
                BuildAttributes(graph, node, nodeProto, graphPath);

            foreach (var (node, nodeProto) in irNodes)
                nodeProto.Output.Clear();
            foreach (var (node, nodeProto) in irNodes)
                nodeProto.Input.Clear();

            foreach (var output in outputs)
            {
                var value = graph.Resolve(output.Name ?? "")
                    ?? throw Reject($"graph {graphPath} output '{output.Name}' is not produced by any node, initializer or input");
                if (parent is null && graph.Outputs.Contains(value))
                    throw Reject($"graph {graphPath} lists output '{output.Name}' twice");
                value.Type ??= output.Type;
                graph.AddOutput(value);
                graph.OutputInfos[^1] = output;
            }

            foreach (var info in valueInfo)
            {
                var value = graph.Resolve(info.Name ?? "");
                graph.ValueInfos.Add((info, value is not null));
                if (value is not null && ReferenceEquals(value.Graph, graph) && !value.IsGraphInput) value.Type ??= info.Type;
            }

            foreach (var value in graph.Values) value.LoadedType = value.Type;

            // ONNX requires topological order; a file that lists nodes out of order but has no cycle is
            // sorted rather than refused, as ONNX Runtime does. A sorted file keeps its order.
            var order = graph.TopologicalOrder(out var cycleNode)
                ?? throw Reject($"graph {graphPath} has a cycle through node '{cycleNode!.DisplayName}'");
            graph.SetNodeOrder(order);
            return graph;
        }

        /// <summary>The attributes of which a Constant node must have exactly one.</summary>
        private static readonly HashSet<string> ConstantValueAttributes =
            ["value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings", "sparse_value"];

        private void BuildAttributes(Graph graph, Node node, NodeProto nodeProto, string graphPath)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var attribute in nodeProto.Attribute)
                if (!names.Add(attribute.Name))
                    throw Reject($"node '{node.DisplayName}' ({node.OpType}) in graph {graphPath} has attribute '{attribute.Name}' more than once");
            if (node.OpType == "Constant" && node.IsOnnxDomain)
            {
                var values = nodeProto.Attribute.Select(a => a.Name).Where(ConstantValueAttributes.Contains).ToList();
                if (values.Count != 1)
                    throw Reject($"Constant node '{node.DisplayName}' in graph {graphPath} has {(values.Count == 0 ? "no value attribute" : $"{values.Count} value attributes ({string.Join(", ", values)})")}; it must have exactly one");
            }
            foreach (var attribute in nodeProto.Attribute)
            {
                switch (attribute.Type)
                {
                    case AttributeType.Graph when attribute.G is not null:
                        node.AddSubgraph(attribute.Name, BuildGraph(attribute.G, graph, node, $"{graphPath}/{node.DisplayName}.{attribute.Name}"));
                        attribute.G = null;
                        break;
                    case AttributeType.Graphs:
                        for (int i = 0; i < attribute.Graphs.Count; i++)
                            node.AddSubgraph(attribute.Name, BuildGraph(attribute.Graphs[i], graph, node, $"{graphPath}/{node.DisplayName}.{attribute.Name}[{i}]"));
                        attribute.Graphs.Clear();
                        break;
                    case AttributeType.Tensor when attribute.T is not null:
                        RegisterAttributeTensor(attribute.T);
                        break;
                    case AttributeType.Tensors:
                        foreach (var t in attribute.Tensors) RegisterAttributeTensor(t);
                        break;
                    case AttributeType.Undefined when attribute.G is not null:
                        throw Reject($"node '{node.DisplayName}' attribute '{attribute.Name}' holds a graph but has no type");
                }
            }
        }

        private void RegisterAttributeTensor(TensorProto tensorProto)
        {
            var location = _external.Resolve(tensorProto);
            var tensor = new Tensor(tensorProto, location);
            if (tensor.FindDataProblem() is { } problem) throw Reject(problem);
            if (location is not null) model.AttributeExternalData[tensorProto] = location;
        }
    }
}
