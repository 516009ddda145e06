using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

/// <summary>One use of a value: input <see cref="InputIndex"/> of <see cref="Node"/> (which may sit in a subgraph).</summary>
public readonly record struct Usage(Node Node, int InputIndex);

/// <summary>
/// A named tensor in a graph: a graph input, an initializer, or a node output. It knows its producer
/// and every use, including uses by nodes inside subgraphs that capture it from the outer scope.
/// </summary>
public sealed class Value
{
    private readonly List<Usage> _uses = [];
    private string _name;
    private TypeProto? _type;

    internal Value(Graph graph, string name)
    {
        Graph = graph;
        _name = name;
    }

    /// <summary>The graph whose scope defines this value.</summary>
    public Graph Graph { get; }

    /// <summary>The value's name, unique in the model; renaming keeps every reference current.</summary>
    public string Name
    {
        get => _name;
        set
        {
            if (value == _name) return;
            Graph.RenameValue(this, _name, value);
            Graph.Model.NoteChange();
            _name = value;
            if (Initializer is not null) Initializer.Name = value;
        }
    }

    /// <summary>The node that computes the value; null for graph inputs and initializers.</summary>
    public Node? Producer { get; internal set; }
    /// <summary>Which output of <see cref="Producer"/> the value is.</summary>
    public int ProducerOutputIndex { get; internal set; }
    /// <summary>Every (node, input index) that reads the value.</summary>
    public IReadOnlyList<Usage> Uses => _uses;

    /// <summary>Initializer data, when this value is an initializer (possibly also a graph input).</summary>
    public Tensor? Initializer { get; internal set; }

    /// <summary>Declared type and shape (from graph inputs/outputs or value_info), if any.</summary>
    public TypeProto? Type
    {
        get => _type;
        set
        {
            if (ReferenceEquals(value, _type)) return;
            _type = value;
            Graph.Model.NoteChange();
        }
    }

    /// <summary>
    /// The type <see cref="Type"/> held right after loading. While it still holds it, every record that named
    /// the value (input, output, value_info) is written back as it was, each with its own type.
    /// </summary>
    internal TypeProto? LoadedType { get; set; }

    /// <summary>The original graph-input record (keeps its doc string and metadata on save).</summary>
    internal ValueInfoProto? Info { get; set; }

    /// <summary>True when the value is listed as a graph input.</summary>
    public bool IsGraphInput { get; internal set; }

    /// <summary>
    /// True when some graph lists this value among its outputs: its own graph, or a subgraph that
    /// returns the captured outer value directly. Either way the value must keep existing under its name.
    /// </summary>
    public bool IsGraphOutput => GraphOutputSlots > 0;

    /// <summary>How many graph-output slots (in this value's graph or any subgraph) hold this value.</summary>
    internal int GraphOutputSlots { get; set; }

    /// <summary>
    /// A value the loader made up for an omitted optional output (an empty name in ONNX); it is written
    /// back as an empty name while nothing uses it.
    /// </summary>
    internal bool IsOmittedOutput { get; set; }

    /// <summary>True while nothing reads the value: no node input and no graph-output slot.</summary>
    public bool IsUnused => _uses.Count == 0 && GraphOutputSlots == 0;

    /// <summary>True when an initializer gives the value's data.</summary>
    public bool IsInitializer => Initializer is not null;

    /// <summary>True for an initializer that no graph input can override.</summary>
    public bool IsConstantInitializer => Initializer is not null && !IsGraphInput;

    /// <summary>The element type from the value's type, or null when it is not a tensor or the type is unknown.</summary>
    public TensorProto.Types.DataType? ElementType =>
        Type?.TensorType is { } t && t.HasElemType ? (TensorProto.Types.DataType)t.ElemType
        : Initializer?.ElementType;

    internal void AddUse(Usage use) => _uses.Add(use);

    /// <summary>Uses are usually removed soon after they are added (a rewrite rewires what it just built), so the search starts at the end.</summary>
    internal void RemoveUse(Usage use)
    {
        int index = _uses.LastIndexOf(use);
        if (index >= 0) _uses.RemoveAt(index);
    }

    /// <summary>Points every use of this value at <paramref name="replacement"/>, in use order; O(uses).</summary>
    internal void MoveUsesTo(Value replacement)
    {
        if (_uses.Count == 0) return;
        foreach (var use in _uses) use.Node.RedirectInput(use.InputIndex, replacement);
        replacement._uses.AddRange(_uses);
        _uses.Clear();
        Graph.Model.NoteChange();
    }

    /// <summary>The value's name.</summary>
    public override string ToString() => _name;
}
