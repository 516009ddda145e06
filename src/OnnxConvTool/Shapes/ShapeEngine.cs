using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>Walks graphs in topological order and applies the shape rule of each node.</summary>
internal sealed class ShapeEngine
{
    private readonly Model _model;
    private readonly int _opset;

    public ShapeEngine(Model model)
    {
        _model = model;
        _opset = model.OnnxOpset;
    }

    public Dictionary<Value, InferredTensor> State { get; } = [];
    public SortedSet<string> UnsupportedOps { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Values whose shape rests on a declaration inference could not check (a value_info or graph output that
    /// filled in what the rules left unknown, an op without a rule, a subgraph input), directly or through an input.
    /// </summary>
    public HashSet<Value> FromDeclarations { get; } = [];

    public InferredTensor Get(Value value) => State.TryGetValue(value, out var t) ? t : Declared(value);

    public void InferMain(IReadOnlyDictionary<string, IReadOnlyList<Dim>>? overrides, IReadOnlyDictionary<string, double>? values = null)
    {
        var graph = _model.Graph;
        var inputs = new InferredTensor?[graph.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            var input = graph.Inputs[i];
            if (overrides is not null && overrides.TryGetValue(input.Name, out var dims))
                inputs[i] = new InferredTensor(input.ElementType, dims.Select(FromDim).ToArray());
            if (values is not null && values.TryGetValue(input.Name, out double value))
                inputs[i] = Filled(inputs[i] ?? Declared(input), value);
        }
        InferGraph(graph, inputs, mergeDeclared: false);
    }

    /// <summary>
    /// Infers <paramref name="graph"/>. <paramref name="inputs"/> gives what the caller knows of the graph
    /// inputs (null entries: use the declaration); with <paramref name="mergeDeclared"/> a given input
    /// is merged with its declaration, else it replaces it (as an override does).
    /// </summary>
    public void InferGraph(Graph graph, IReadOnlyList<InferredTensor?>? inputs = null, bool mergeDeclared = true)
    {
        for (int i = 0; i < graph.Inputs.Count; i++)
        {
            var input = graph.Inputs[i];
            var given = inputs is not null && i < inputs.Count ? inputs[i] : null;
            State[input] = given is null ? Declared(input) : mergeDeclared ? InferredTensor.Merge(given, Declared(input)) : given;
            if (graph.Parent is not null) FromDeclarations.Add(input);
        }
        foreach (var value in graph.Initializers)
            if (!value.IsGraphInput) State[value] = FromConstant(value.Initializer!);

        var order = IsInOrder(graph) ? graph.Nodes : graph.TopologicalOrder(out _) ?? graph.Nodes;
        foreach (var node in order) InferNode(node);
    }

    /// <summary>
    /// Whether every node comes after the producers of its inputs and of the outer values its subgraphs
    /// use (the usual case, which spares a topological sort).
    /// </summary>
    private static bool IsInOrder(Graph graph)
    {
        var position = new Dictionary<Node, int>(graph.Nodes.Count);
        for (int i = 0; i < graph.Nodes.Count; i++) position[graph.Nodes[i]] = i;
        for (int i = 0; i < graph.Nodes.Count; i++)
            if (!InputsComeBefore(graph.Nodes[i], graph, position, i)) return false;
        return true;
    }

    private static bool InputsComeBefore(Node node, Graph graph, Dictionary<Node, int> position, int index)
    {
        foreach (var input in node.Inputs)
            if (input?.Producer is { } p && ReferenceEquals(p.Graph, graph) && position[p] >= index) return false;
        foreach (var list in node.Subgraphs.Values)
            foreach (var sub in list)
                foreach (var inner in sub.Nodes)
                    if (!InputsComeBefore(inner, graph, position, index)) return false;
        return true;
    }

    internal void InferNode(Node node)
    {
        if (!node.IsOnnxDomain || !ShapeRules.All.TryGetValue(node.OpType, out var rule))
        {
            UnsupportedOps.Add(node.IsOnnxDomain ? node.OpType : $"{node.Domain}.{node.OpType}");
            foreach (var list in node.Subgraphs.Values)
                foreach (var sub in list) InferGraph(sub);
            foreach (var output in node.Outputs)
            {
                State[output] = Declared(output);
                FromDeclarations.Add(output);
            }
            return;
        }

        var context = new NodeContext(this, node, _opset);
        try
        {
            rule(context);
        }
        catch (Exception e) when (e is OverflowException or ArgumentException or IndexOutOfRangeException or InvalidCastException
                                      or DivideByZeroException or OnnxConvException)
        {
            // A rule met input it cannot make sense of (a malformed attribute, an overflow): its outputs stay unknown.
            for (int i = 0; i < context.OutputCount; i++) context.SetOutput(i, InferredTensor.Unknown);
        }
        bool inputFromDeclarations = node.Inputs.Any(input => input is not null && FromDeclarations.Contains(input));
        for (int i = 0; i < node.Outputs.Count; i++)
        {
            var output = node.Outputs[i];
            var inferred = context.Outputs[i] ?? InferredTensor.Unknown;
            var merged = InferredTensor.Merge(inferred, Declared(output));
            State[output] = merged;
            if (inputFromDeclarations || !SameDims(inferred.Dims, merged.Dims)) FromDeclarations.Add(output);
            else FromDeclarations.Remove(output);
        }
    }

    internal static bool SameDims(DimExpr?[]? a, DimExpr?[]? b) =>
        a is null ? b is null : b is not null && a.Length == b.Length && a.Zip(b).All(p => Equals(p.First, p.Second));

    /// <summary>What the model declares for a value (graph input/output or value_info), or an initializer's own shape.</summary>
    private static InferredTensor Declared(Value value)
    {
        var declared = InferredTensor.FromType(value.Type);
        if (declared.Dims is null && value.Initializer is { } init)
            return new InferredTensor(init.ElementType, init.Dims.Select(d => (DimExpr?)DimExpr.Of(d)).ToArray());
        return declared;
    }

    /// <summary>A constant's type and dims, with its elements when it is a small integer or bool tensor.</summary>
    public static InferredTensor FromConstant(Tensor tensor)
    {
        var dims = tensor.Dims.Select(d => (DimExpr?)DimExpr.Of(d)).ToArray();
        DimExpr?[]? values = null;
        if (ShapeRules.IsIntegerOrBool(tensor.ElementType) && ShapeMath.IsFoldable(tensor.Dims.ToArray()))
            values = Array.ConvertAll(tensor.ToInt64Array(), v => (DimExpr?)DimExpr.Of(v));
        return new InferredTensor(tensor.ElementType, dims, values);
    }

    /// <summary>An integer or bool input every element of which is <paramref name="value"/>: its elements become known (so an If on it picks its branch).</summary>
    private static InferredTensor Filled(InferredTensor input, double value)
    {
        if (!ShapeRules.IsIntegerOrBool(input.Type) || ShapeMath.AllConstant(input.Dims) is not { } dims || !ShapeMath.IsFoldable(dims)) return input;
        long element = input.Type == DataType.Bool ? (value != 0 ? 1 : 0) : (long)value;
        long count = dims.Aggregate(1L, (a, d) => a * d);
        return input with { Values = Enumerable.Repeat((DimExpr?)DimExpr.Of(element), (int)count).ToArray() };
    }

    private static DimExpr? FromDim(Dim dim) => dim.Value is { } v ? DimExpr.Of(v) : dim.Symbol is { } s ? DimExpr.Symbol(s) : null;
}
