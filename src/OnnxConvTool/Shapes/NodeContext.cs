using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>One node as a shape rule sees it: its inputs' inferred tensors, attributes, opset; collects outputs.</summary>
internal sealed class NodeContext
{
    private readonly InferredTensor?[] _outputs;

    public NodeContext(ShapeEngine engine, Node node, int opset)
    {
        Engine = engine;
        Node = node;
        Opset = opset;
        _outputs = new InferredTensor?[node.Outputs.Count];
    }

    public ShapeEngine Engine { get; }
    public Node Node { get; }

    /// <summary>The model's opset for the ONNX domain; rules use it to pick the attribute or the input form.</summary>
    public int Opset { get; }

    public int InputCount => Node.Inputs.Count;
    public int OutputCount => Node.Outputs.Count;
    public IReadOnlyList<InferredTensor?> Outputs => _outputs;

    public bool HasInput(int index) => Node.Input(index) is not null;

    public InferredTensor Input(int index) => Node.Input(index) is { } v ? Engine.Get(v) : InferredTensor.Unknown;

    public DimExpr?[]? Dims(int index) => Input(index).Dims;

    public int? Rank(int index) => Input(index).Rank;

    public DataType? Type(int index) => Input(index).Type;

    /// <summary>Folded elements of a small integer or bool input, or null.</summary>
    public DimExpr?[]? Values(int index) => Input(index).Values;

    /// <summary>The input's elements when every one is a known integer.</summary>
    public long[]? ConstInts(int index) => ShapeMath.AllConstant(Values(index));

    /// <summary>Elements of a constant floating-point (or integer) input, read from its initializer or Constant node.</summary>
    public double[]? ConstDoubles(int index)
    {
        if (Node.Input(index) is not { } value) return null;
        if (ConstInts(index) is { } ints) return Array.ConvertAll(ints, i => (double)i);
        var tensor = Model.TryGetConstant(value);
        if (tensor is null || tensor.ElementCount > InferredTensor.MaxFoldedElements) return null;
        return tensor.ElementType is DataType.Float or DataType.Double or DataType.Float16 or DataType.Bfloat16 ? tensor.ToDoubleArray() : null;
    }

    public long Int(string name, long fallback) => Node.GetInt(name, fallback);
    public float Float(string name, float fallback) => Node.GetFloat(name, fallback);
    public string String(string name, string fallback) => Node.GetString(name, fallback);
    public long[]? Ints(string name) => Node.GetInts(name);
    public bool HasAttribute(string name) => Node.HasAttribute(name);

    /// <summary>
    /// Integers <paramref name="name"/> that older opsets keep in an attribute and newer ones take as an input
    /// (<see cref="AttrOrInput.Locate"/> knows which), folded when the input is computed.
    /// <paramref name="present"/> is false when the node gives neither.
    /// </summary>
    public long[]? AttrOrInputInts(string name, out bool present)
    {
        var read = AttrOrInput.Ints(Node, name, Opset, value => ShapeMath.AllConstant(Engine.Get(value).Values));
        present = read.Source != AttrOrInputSource.Absent;
        return read.Values;
    }

    /// <summary>
    /// Like <see cref="AttrOrInputInts"/>, for values that may be symbolic (a Reshape target built from Shape):
    /// the attribute's ints, or the input's folded elements.
    /// </summary>
    public DimExpr?[]? AttrOrInputValues(string name, out bool present)
    {
        var slot = AttrOrInput.Locate(Node.OpType, name, Opset);
        if (slot.Attribute is { } attribute)
        {
            present = HasAttribute(attribute);
            return Ints(attribute) is { } ints ? ShapeMath.Known(ints) : null;
        }
        present = slot.Input >= 0 && HasInput(slot.Input);
        return present ? Values(slot.Input) : null;
    }

    /// <summary>The index of input <paramref name="name"/> at the model's opset, or -1 when the op keeps it elsewhere or lacks it.</summary>
    public int InputIndexOf(string name) => AttrOrInput.Locate(Node.OpType, name, Opset).Input;

    public void SetOutput(int index, DataType? type, DimExpr?[]? dims, DimExpr?[]? values = null)
    {
        if (index >= _outputs.Length) return;
        if (values is not null && (dims is null || ShapeMath.AllConstant(dims) is not { } d || d.Aggregate(1L, (a, b) => a * b) != values.Length))
            values = null;
        _outputs[index] = new InferredTensor(type, dims, values);
    }

    public void SetOutput(int index, InferredTensor tensor) => SetOutput(index, tensor.Type, tensor.Dims, tensor.Values);

    /// <summary>Output 0 gets the shape of <paramref name="input"/> and its type (or <paramref name="type"/>), as for elementwise unary ops.</summary>
    public void SameAsInput(int input = 0, DataType? type = null)
    {
        var x = Input(input);
        SetOutput(0, type ?? x.Type, x.Dims);
    }
}
