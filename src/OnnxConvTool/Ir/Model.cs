using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

/// <summary>An ONNX model: its main graph as a mutable IR plus everything else kept as protobuf.</summary>
public sealed class Model
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _nameCounters = new(StringComparer.Ordinal);

    internal Model(ModelProto shell, string? sourcePath)
    {
        Shell = shell;
        SourcePath = sourcePath;
        Graph = null!;
    }

    /// <summary>Model-level fields (IR version, opsets, producer, metadata, functions, unknown fields) with the graph detached.</summary>
    public ModelProto Shell { get; }

    /// <summary>The main graph.</summary>
    public Graph Graph { get; internal set; }

    /// <summary>
    /// Bumped by every change made through the IR (nodes, inputs, outputs, values, initializers, attributes set
    /// through <see cref="Node"/>): equal versions mean nothing changed in between.
    /// </summary>
    public long Version { get; private set; }

    internal void NoteChange() => Version++;
    /// <summary>The file the model was loaded from; null for a model built in memory.</summary>
    public string? SourcePath { get; }
    /// <summary>The ONNX IR version the model declares.</summary>
    public long IrVersion => Shell.IrVersion;
    /// <summary>The producer name and version the model declares (e.g. <c>pytorch 2.1</c>).</summary>
    public string Producer => Shell.ProducerName + (Shell.ProducerVersion.Length > 0 ? " " + Shell.ProducerVersion : "");

    /// <summary>The opset version imported for the default ONNX domain (0 when none is imported).</summary>
    public int OnnxOpset => GetOpset("");

    /// <summary>The imported opset version of <paramref name="domain"/> (empty: the standard ONNX domain), or 0 when not imported.</summary>
    public int GetOpset(string domain)
    {
        foreach (var o in Shell.OpsetImport)
            if (o.Domain == domain || (domain is "" or "ai.onnx" && o.Domain is "" or "ai.onnx")) return (int)o.Version;
        return 0;
    }

    /// <summary>Imports <paramref name="domain"/> at <paramref name="version"/> when it is not imported yet; never changes an existing import.</summary>
    public void EnsureOpset(string domain, int version)
    {
        if (GetOpset(domain) == 0) Shell.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
    }

    /// <summary>The main graph and every subgraph, depth first.</summary>
    public IEnumerable<Graph> AllGraphs() => Graph.SelfAndDescendants();

    /// <summary>Every node of every graph, subgraphs included.</summary>
    public IEnumerable<Node> AllNodes() => AllGraphs().SelectMany(g => g.Nodes);

    internal void ReserveName(string name)
    {
        if (name.Length > 0) _names.Add(name);
    }

    /// <summary>True when a value, node or initializer anywhere in the model already has <paramref name="name"/>.</summary>
    public bool IsNameTaken(string name) => _names.Contains(name);

    /// <summary>A value or node name not used anywhere in the model, derived from <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        if (hint.Length == 0) hint = "unnamed";
        if (_names.Add(hint)) return hint;
        int counter = _nameCounters.GetValueOrDefault(hint);
        string candidate;
        do candidate = $"{hint}_{++counter}";
        while (_names.Contains(candidate));
        _nameCounters[hint] = counter;
        _names.Add(candidate);
        return candidate;
    }

    /// <summary>
    /// The constant behind <paramref name="value"/>: an initializer no graph input can override, or the
    /// output of a <c>Constant</c> node. Null when the value can change at run time.
    /// </summary>
    public static Tensor? TryGetConstant(Value value)
    {
        if (value.Initializer is not null) return value.IsGraphInput ? null : value.Initializer;
        if (value.Producer is { OpType: "Constant", IsOnnxDomain: true } node) return ConstantNodeTensor(node);
        return null;
    }

    /// <summary>Where a constant comes from, for reports.</summary>
    public static ConstantSource GetConstantSource(Value value) =>
        value.Initializer is not null ? (value.IsGraphInput ? ConstantSource.Dynamic : ConstantSource.Initializer)
        : value.Producer is { OpType: "Constant", IsOnnxDomain: true } && ConstantNodeTensor(value.Producer) is not null ? ConstantSource.ConstantNode
        : ConstantSource.Dynamic;

    internal static Tensor? ConstantNodeTensor(Node node)
    {
        foreach (var a in node.Proto.Attribute)
        {
            switch (a.Name)
            {
                case "value":
                    return a.T is null ? null : new Tensor(a.T, node.Graph.Model.ExternalDataOf(a.T));
                case "value_float":
                    return Tensor.FromFloats(node.Outputs[0].Name, [], [a.F]);
                case "value_floats":
                    return Tensor.FromFloats(node.Outputs[0].Name, [a.Floats.Count], a.Floats.ToArray());
                case "value_int":
                    return Tensor.FromInt64s(node.Outputs[0].Name, [], [a.I]);
                case "value_ints":
                    return Tensor.FromInt64s(node.Outputs[0].Name, [a.Ints.Count], a.Ints.ToArray());
            }
        }
        return null;
    }

    /// <summary>External-data locations of tensors inside Constant-node attributes, resolved at load.</summary>
    internal Dictionary<TensorProto, ExternalDataLocation> AttributeExternalData { get; } = new(ReferenceEqualityComparer.Instance);

    internal ExternalDataLocation? ExternalDataOf(TensorProto proto) => AttributeExternalData.GetValueOrDefault(proto);
}

/// <summary>Where a constant operand of a node comes from.</summary>
public enum ConstantSource
{
    /// <summary>An initializer that no graph input can override.</summary>
    Initializer,
    /// <summary>The output of a <c>Constant</c> node.</summary>
    ConstantNode,
    /// <summary>Not a constant: a graph input (possibly overriding an initializer) or a computed value.</summary>
    Dynamic,
}
