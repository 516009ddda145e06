using OnnxConvTool.Ir;

namespace OnnxConvTool.Shapes;

/// <summary>Shapes of every value in a model, keyed by value; unknown values give a shape with null dims.</summary>
public sealed class ShapeInferenceResult
{
    private readonly Dictionary<Value, InferredTensor> _tensors;
    private readonly Dictionary<Value, TensorShape> _shapes;
    private readonly SortedSet<string> _unsupportedOps;
    private readonly ShapeEngine? _engine;

    private readonly HashSet<Value> _fromDeclarations;

    internal ShapeInferenceResult(Dictionary<Value, InferredTensor> tensors, SortedSet<string> unsupportedOps, ShapeEngine? engine = null)
    {
        _engine = engine;
        _tensors = tensors;
        _fromDeclarations = engine?.FromDeclarations ?? [];
        _unsupportedOps = unsupportedOps;
        _shapes = new Dictionary<Value, TensorShape>(tensors.Count);
        foreach (var (value, tensor) in tensors) _shapes[value] = tensor.ToTensorShape();
    }

    /// <summary>The inferred shape; for a value inference never reached, its declared type and shape.</summary>
    public TensorShape Get(Value value) => _shapes.GetValueOrDefault(value) ?? TensorShape.FromType(value.Type);

    /// <summary>Gives <paramref name="to"/> what is known of <paramref name="from"/> (a rewrite replaced one by the other).</summary>
    internal void Carry(Value from, Value to)
    {
        if (!_tensors.TryGetValue(from, out var tensor)) return;
        var merged = _tensors.TryGetValue(to, out var own) ? InferredTensor.Merge(own, tensor) : tensor;
        _tensors[to] = merged;
        if (_fromDeclarations.Contains(from)) _fromDeclarations.Add(to);
        _shapes[to] = merged.ToTensorShape();
    }

    /// <summary>
    /// Infers the outputs of a node a rewrite created, from what is known of its inputs; what was already known
    /// of an output (a shape carried over from the value it replaced) is kept where inference knows less.
    /// </summary>
    internal void InferCreated(Node node)
    {
        if (_engine is null) return;
        var before = node.Outputs.Select(o => _tensors.GetValueOrDefault(o)).ToArray();
        var beforeFromDeclarations = node.Outputs.Select(_fromDeclarations.Contains).ToArray();
        _engine.InferNode(node);
        for (int i = 0; i < node.Outputs.Count; i++)
        {
            var output = node.Outputs[i];
            if (before[i] is { } known)
            {
                var merged = InferredTensor.Merge(_tensors[output], known);
                // A dim taken over from a carried shape that rested on a declaration is still only declared.
                if (beforeFromDeclarations[i] && !ShapeEngine.SameDims(merged.Dims, _tensors[output].Dims)) _fromDeclarations.Add(output);
                _tensors[output] = merged;
            }
            _shapes[output] = _tensors[output].ToTensorShape();
        }
    }
    /// <summary>
    /// The shape derived from the graph inputs, constants and op rules alone. Where it rests on a declared
    /// value_info (or graph output) that inference could not confirm, the dims are unknown: a stale
    /// declaration must not decide a rewrite. A declaration that agrees with what the rules inferred stands.
    /// </summary>
    public TensorShape GetInferred(Value value)
    {
        bool reached = _shapes.ContainsKey(value);
        if (_fromDeclarations.Contains(value) || !reached && value.Producer is not null)
            return new TensorShape(Get(value).ElementType, null);
        return Get(value);
    }

    /// <summary>
    /// Op types whose outputs were left unknown because inference does not cover them (ops of other
    /// domains as <c>domain.OpType</c>).
    /// </summary>
    public IReadOnlyCollection<string> UnsupportedOps => _unsupportedOps;

    /// <summary>
    /// The elements of a small integer tensor whose values inference computed (shape tensors built with
    /// Shape, Gather, Concat and the like, or integer constants), when every element is known; else null.
    /// </summary>
    public long[]? TryGetInts(Value value) => _tensors.TryGetValue(value, out var t) ? ShapeMath.AllConstant(t.Values) : null;
}

/// <summary>
/// Static and symbolic shape inference for the ops CNN and audio models use, through every subgraph.
/// </summary>
/// <remarks>
/// Symbolic dims keep the model's names and derived dims get expression names (see <see cref="DimExpr"/>
/// for the convention, e.g. <c>ceil(H/2)</c>). Small integer tensors that compute shapes are folded
/// (Shape, Gather, Concat, Slice, Unsqueeze, Squeeze, Cast, arithmetic, …) so Reshape, Slice, Resize,
/// Expand and ConstantOfShape can use them. Ops without a rule, and ops whose inputs are not known
/// well enough, leave their outputs unknown; inference never fails on a model that loaded.
/// Runs in time linear in the number of nodes (subgraphs of Loop/Scan bodies at most three times).
/// </remarks>
public static class ShapeInference
{
    /// <summary>
    /// Infers shapes through every graph; <paramref name="inputOverrides"/> fixes main-graph input dims by
    /// input name (see <see cref="ShapeOverrides"/>).
    /// </summary>
    /// <exception cref="OnnxConvException">
    /// Exit code <see cref="ExitCode.UsageError"/>: an override names no input of the main graph, or gives
    /// a rank that contradicts the input's declared rank (checked by <see cref="ShapeOverrides.Validate"/>).
    /// </exception>
    /// <param name="inputValues">Main-graph inputs filled with one constant (<c>--value</c>): integer and bool ones are folded like constants.</param>
    public static ShapeInferenceResult Run(Model model, IReadOnlyDictionary<string, IReadOnlyList<Dim>>? inputOverrides = null,
        IReadOnlyDictionary<string, double>? inputValues = null)
    {
        if (inputOverrides is not null) ShapeOverrides.Validate(model, inputOverrides);
        var engine = new ShapeEngine(model);
        engine.InferMain(inputOverrides, inputValues);
        return new ShapeInferenceResult(engine.State, engine.UnsupportedOps, engine);
    }
}
