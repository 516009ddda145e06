using System.Text;
using Google.Protobuf;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

using AttributeType = AttributeProto.Types.AttributeType;

/// <summary>
/// An operator application. Attributes live in <see cref="Proto"/> (which also keeps doc strings and
/// unknown fields); graph-valued attributes are held as IR <see cref="Graph"/>s in <see cref="Subgraphs"/>.
/// </summary>
public sealed class Node
{
    private readonly List<Value?> _inputs = [];
    private readonly List<Value> _outputs = [];
    private readonly Dictionary<string, List<Graph>> _subgraphs = new(StringComparer.Ordinal);

    internal Node(Graph graph, NodeProto proto)
    {
        Graph = graph;
        Proto = proto;
    }

    /// <summary>The graph the node belongs to.</summary>
    public Graph Graph { get; internal set; }

    /// <summary>Attributes, name, domain, doc string; inputs and outputs are written from the IR on save.</summary>
    public NodeProto Proto { get; }

    /// <summary>The operator, e.g. <c>Conv</c>.</summary>
    public string OpType => Proto.OpType;
    /// <summary>The operator's domain: empty (or <c>ai.onnx</c>) for the standard operators.</summary>
    public string Domain => Proto.Domain;
    /// <summary>True for the standard ONNX operators (domain empty or <c>ai.onnx</c>).</summary>
    public bool IsOnnxDomain => Proto.Domain is "" or "ai.onnx";
    /// <summary>The node's name (may be empty); setting it marks the model changed.</summary>
    public string Name
    {
        get => Proto.Name;
        set
        {
            Proto.Name = value;
            Graph.Model.NoteChange();
        }
    }

    /// <summary>Inputs; null stands for an omitted optional input (an empty name in ONNX).</summary>
    public IReadOnlyList<Value?> Inputs => _inputs;
    /// <summary>The values the node produces, in output order.</summary>
    public IReadOnlyList<Value> Outputs => _outputs;

    /// <summary>Subgraphs by attribute name (one for GRAPH attributes, several for GRAPHS).</summary>
    public IReadOnlyDictionary<string, List<Graph>> Subgraphs => _subgraphs;

    /// <summary>True when an attribute holds a subgraph (If, Loop, Scan).</summary>
    public bool HasSubgraphs => _subgraphs.Count > 0;

    /// <summary>A label for messages: the node name, or op type and first output when unnamed.</summary>
    public string DisplayName => Proto.Name.Length > 0 ? Proto.Name : $"{OpType}->{(_outputs.Count > 0 ? _outputs[0].Name : "?")}";

    /// <summary>Input <paramref name="index"/>, or null when it is omitted or past the last input.</summary>
    public Value? Input(int index) => index < _inputs.Count ? _inputs[index] : null;

    /// <summary>Connects input <paramref name="index"/> to <paramref name="value"/> (null omits it), padding with omitted inputs and keeping use lists current.</summary>
    public void SetInput(int index, Value? value)
    {
        while (_inputs.Count <= index) _inputs.Add(null);
        var old = _inputs[index];
        if (ReferenceEquals(old, value)) return;
        Graph.Model.NoteChange();
        old?.RemoveUse(new Usage(this, index));
        _inputs[index] = value;
        value?.AddUse(new Usage(this, index));
    }

    /// <summary>Sets input <paramref name="index"/> without touching use lists (the caller moves the uses).</summary>
    internal void RedirectInput(int index, Value value) => _inputs[index] = value;

    internal void AddInput(Value? value) => SetInput(_inputs.Count, value);

    /// <summary>Drops trailing inputs from <paramref name="count"/> on.</summary>
    public void TruncateInputs(int count)
    {
        if (count < _inputs.Count) Graph.Model.NoteChange();
        for (int i = _inputs.Count - 1; i >= count; i--)
        {
            _inputs[i]?.RemoveUse(new Usage(this, i));
            _inputs.RemoveAt(i);
        }
    }

    internal void DetachInputs() => TruncateInputs(0);

    internal void AddOutput(Value value)
    {
        Graph.Model.NoteChange();
        value.Producer = this;
        value.ProducerOutputIndex = _outputs.Count;
        _outputs.Add(value);
    }

    internal void AddSubgraph(string attribute, Graph graph)
    {
        if (!_subgraphs.TryGetValue(attribute, out var list)) _subgraphs[attribute] = list = [];
        list.Add(graph);
    }

    /// <summary>The attribute named <paramref name="name"/> as stored in the file, or null.</summary>
    public AttributeProto? Attribute(string name)
    {
        foreach (var a in Proto.Attribute)
            if (a.Name == name) return a;
        return null;
    }

    /// <summary>True when the node has an attribute named <paramref name="name"/>.</summary>
    public bool HasAttribute(string name) => Attribute(name) is not null;
    /// <summary>The integer attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public long GetInt(string name, long fallback) => Attribute(name) is { } a ? a.I : fallback;
    /// <summary>The float attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public float GetFloat(string name, float fallback) => Attribute(name) is { } a ? a.F : fallback;
    /// <summary>The string attribute <paramref name="name"/> (UTF-8), or <paramref name="fallback"/> when absent.</summary>
    public string GetString(string name, string fallback) => Attribute(name) is { } a ? a.S.ToStringUtf8() : fallback;
    /// <summary>The integer-list attribute <paramref name="name"/>, or null when absent.</summary>
    public long[]? GetInts(string name) => Attribute(name) is { } a ? a.Ints.ToArray() : null;
    /// <summary>The float-list attribute <paramref name="name"/>, or null when absent.</summary>
    public float[]? GetFloats(string name) => Attribute(name) is { } a ? a.Floats.ToArray() : null;
    /// <summary>The tensor attribute <paramref name="name"/>, or null when absent.</summary>
    public TensorProto? GetTensor(string name) => Attribute(name)?.T;

    /// <summary>Sets (or replaces) the integer attribute <paramref name="name"/>.</summary>
    public void SetAttribute(string name, long value) => Replace(new AttributeProto { Name = name, Type = AttributeType.Int, I = value });
    /// <summary>Sets (or replaces) the float attribute <paramref name="name"/>.</summary>
    public void SetAttribute(string name, float value) => Replace(new AttributeProto { Name = name, Type = AttributeType.Float, F = value });
    /// <summary>Sets (or replaces) the string attribute <paramref name="name"/>.</summary>
    public void SetAttribute(string name, string value) => Replace(new AttributeProto { Name = name, Type = AttributeType.String, S = ByteString.CopyFromUtf8(value) });
    /// <summary>Sets (or replaces) the tensor attribute <paramref name="name"/>.</summary>
    public void SetAttribute(string name, TensorProto value) => Replace(new AttributeProto { Name = name, Type = AttributeType.Tensor, T = value });

    /// <summary>Sets (or replaces) the integer-list attribute <paramref name="name"/>.</summary>
    public void SetAttribute(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeType.Ints };
        a.Ints.AddRange(values);
        Replace(a);
    }

    /// <summary>Sets (or replaces) the float-list attribute <paramref name="name"/>.</summary>
    public void SetAttribute(string name, IEnumerable<float> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeType.Floats };
        a.Floats.AddRange(values);
        Replace(a);
    }

    /// <summary>Removes the attribute <paramref name="name"/> when present.</summary>
    public void RemoveAttribute(string name)
    {
        Graph.Model.NoteChange();
        for (int i = Proto.Attribute.Count - 1; i >= 0; i--)
            if (Proto.Attribute[i].Name == name) Proto.Attribute.RemoveAt(i);
    }

    private void Replace(AttributeProto attribute)
    {
        Graph.Model.NoteChange();
        for (int i = 0; i < Proto.Attribute.Count; i++)
        {
            if (Proto.Attribute[i].Name != attribute.Name) continue;
            Proto.Attribute[i] = attribute;
            return;
        }
        Proto.Attribute.Add(attribute);
    }

    /// <summary>The node as <c>outputs = OpType(inputs)</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(string.Join(", ", _outputs.Select(o => o.Name))).Append(" = ").Append(OpType).Append('(');
        text.Append(string.Join(", ", _inputs.Select(i => i?.Name ?? ""))).Append(')');
        return text.ToString();
    }
}
