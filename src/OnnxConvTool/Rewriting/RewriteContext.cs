using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Rewriting;

/// <summary>
/// What rules may consult while matching: the model and the shapes of its values. Shapes are inferred once;
/// when a rewrite replaces a value, <see cref="GraphRewriter"/> carries the old value's shape over to the new one,
/// and the driver infers the outputs of the nodes a rewrite created (<see cref="RefreshShapes"/>).
/// </summary>
internal sealed class RewriteContext
{
    private ShapeInferenceResult? _shapes;
    private readonly Dictionary<Value, TensorShape> _carried = [];
    private readonly Dictionary<Value, TensorShape> _carriedInferred = [];
    private readonly HashSet<Node> _pending = new(ReferenceEqualityComparer.Instance);

    public RewriteContext(Model model, ShapeInferenceResult? shapes = null)
    {
        Model = model;
        _shapes = shapes;
    }

    public Model Model { get; }

    /// <summary>
    /// Fusions may bake in initializers that a graph input overrides (IR &lt; 4 lists every initializer as an
    /// input): the caller promises never to feed those inputs.
    /// </summary>
    public bool FoldOverridableInitializers { get; init; }

    /// <summary>The model's default-domain opset.</summary>
    public int Opset => Model.OnnxOpset;

    /// <summary>
    /// Makes every rule's <c>TryMatch</c> prove that it changed nothing (the model's <see cref="Model.Version"/> is
    /// compared around it). On in debug builds; the driver turns it on with <see cref="RewriteOptions.ValidateAfterEachRewrite"/>.
    /// </summary>
    public bool CheckMatchesArePure { get; set; }
#if DEBUG
        = true;
#endif

    /// <summary>Merge rules apply merges that increase MACs instead of refusing them (<see cref="RewriteOptions.AllowMoreMacs"/>).</summary>
    public bool AllowMoreMacs { get; set; }

    /// <summary>
    /// Matches only decide and describe (the audit's previews, never followed by a rewrite): a rule may leave out of its
    /// match what only its rewrite needs, such as merged weights, once it has proved the rewrite would succeed.
    /// </summary>
    public bool PreviewOnly { get; init; }

    public ShapeInferenceResult Shapes => _shapes ??= ShapeInference.Run(Model);

    /// <summary>The best known shape of <paramref name="value"/> (dims may be unknown or symbolic).</summary>
    public TensorShape ShapeOf(Value value)
    {
        if (_carried.TryGetValue(value, out var carried)) return carried;
        if (value.Producer is { } producer && _pending.Count > 0 && _pending.Contains(producer)) InferPending(producer);
        var inferred = Shapes.Get(value);
        if (inferred.Dims is not null || value.Initializer is null) return inferred;
        return new TensorShape(value.Initializer.ElementType, value.Initializer.Dims.Select(Dim.Known).ToArray());
    }

    /// <summary>
    /// The shape inference proved for <paramref name="value"/>, with no dim taken on trust from a declared
    /// value_info (see <see cref="ShapeInferenceResult.GetInferred"/>): what a rewrite that is only valid for
    /// some shapes must decide on.
    /// </summary>
    public TensorShape InferredShapeOf(Value value)
    {
        if (_carriedInferred.TryGetValue(value, out var carried)) return carried;
        if (_carried.ContainsKey(value)) return new TensorShape(_carried[value].ElementType, null);
        if (value.Producer is { } producer && _pending.Count > 0 && _pending.Contains(producer)) InferPending(producer);
        var inferred = Shapes.GetInferred(value);
        if (inferred.Dims is not null || value.Initializer is null) return inferred;
        return new TensorShape(value.Initializer.ElementType, value.Initializer.Dims.Select(Dim.Known).ToArray());
    }

    /// <summary>The static dims of a constant, or of a value whose shape is fully known; null otherwise.</summary>
    public long[]? StaticDims(Value value)
    {
        if (Model.TryGetConstant(value) is { } constant) return constant.Dims.ToArray();
        var shape = ShapeOf(value);
        return shape.IsFullyKnown ? shape.Dims!.Select(d => d.Value!.Value).ToArray() : null;
    }

    internal void CarryShape(Value from, Value to)
    {
        _shapes?.Carry(from, to);
        var shape = ShapeOf(from);
        if (shape.Dims is not null || shape.ElementType is not null) _carried[to] = shape;
        var inferred = InferredShapeOf(from);
        if (inferred.Dims is not null) _carriedInferred[to] = inferred;
    }

    /// <summary>
    /// Marks the outputs of <paramref name="created"/> (nodes a rewrite made) for inference from their inputs, so later
    /// matches see their shapes. Inference runs when a shape is first asked for, so values nobody asks about cost
    /// nothing. Nothing to do while shapes have not been inferred yet: the first inference sees the rewritten graph.
    /// </summary>
    public void RefreshShapes(IEnumerable<Node> created)
    {
        if (_shapes is null) return;
        foreach (var node in created) _pending.Add(node);
    }

    /// <summary>Infers a pending node after the pending producers of its inputs (iteratively: created chains can be long).</summary>
    private void InferPending(Node node)
    {
        var stack = new Stack<Node>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            var top = stack.Peek();
            var waiting = top.Inputs.FirstOrDefault(i => i?.Producer is { } p && _pending.Contains(p))?.Producer;
            if (waiting is not null)
            {
                stack.Push(waiting);
                continue;
            }
            stack.Pop();
            _pending.Remove(top);
            if (top.Graph.Contains(top)) _shapes!.InferCreated(top);
        }
    }
}
