using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Rewriting;

/// <summary>
/// The one object through which rules mutate a model: emits nodes (through an <see cref="OpBuilder"/>
/// anchored at a node), copies nodes, redirects uses, removes nodes and the constants only they used. It records
/// an old→new value-name map (for <c>verify --localize</c>), what it created and removed, and which surviving
/// nodes a rewrite touched (so a fixpoint driver revisits them). Every operation is O(1) amortised in graph size.
/// </summary>
internal sealed class GraphRewriter
{
    private readonly Dictionary<string, string> _valueNameMap = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _originalNamesByCurrent = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Value> _int64Constants = new(StringComparer.Ordinal);
    private readonly List<Node> _created = [];
    private readonly List<string> _removed = [];
    private readonly HashSet<Node> _removedNodes = new(ReferenceEqualityComparer.Instance);
    private readonly List<Node> _touched = [];
    private double? _deviationUlps;

    public GraphRewriter(Model model, RewriteContext? context = null)
    {
        Model = model;
        Context = context ?? new RewriteContext(model);
    }

    public Model Model { get; }
    public RewriteContext Context { get; }

    /// <summary>Original value name → name of the value that carries the same tensor after the rewrites.</summary>
    public IReadOnlyDictionary<string, string> ValueNameMap => _valueNameMap;

    /// <summary>Every node created so far, in creation order (including nodes a later rewrite removed again).</summary>
    public IReadOnlyList<Node> CreatedNodes => _created;

    /// <summary>Display names of removed nodes, in removal order.</summary>
    public IReadOnlyList<string> RemovedNodes => _removed;

    public bool WasRemoved(Node node) => _removedNodes.Contains(node);

    /// <summary>A builder that inserts before <paramref name="anchor"/>, in its graph, naming new nodes after it.</summary>
    public OpBuilder BuilderBefore(Node anchor) =>
        new(anchor.Graph, anchor, anchor.Name.Length > 0 ? anchor.Name : anchor.Outputs.FirstOrDefault()?.Name, _created.Add, _int64Constants);

    /// <summary>
    /// A copy of <paramref name="node"/> inserted just before it: same op type, domain, every attribute (including
    /// <c>auto_pad</c>, dilations, group and subgraph-free attributes of any type), doc string, and the same inputs
    /// except those given in <paramref name="inputOverrides"/> (index → value; null omits an optional input).
    /// The copy gets fresh outputs; the original is left as it was. Graph-valued attributes are refused: a copy
    /// would need its own subgraph scope. With <paramref name="before"/> the copy goes just before that node instead.
    /// </summary>
    /// <exception cref="InvalidOperationException">The node has subgraphs.</exception>
    public Node CopyNode(Node node, IReadOnlyDictionary<int, Value?>? inputOverrides = null, Node? before = null)
    {
        if (node.HasSubgraphs) throw new InvalidOperationException($"cannot copy '{node.DisplayName}': it holds subgraphs");
        var inputs = new Value?[node.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = node.Inputs[i];
        if (inputOverrides is not null)
            foreach (var (index, value) in inputOverrides)
            {
                if (index >= inputs.Length) Array.Resize(ref inputs, index + 1);
                inputs[index] = value;
            }
        int count = inputs.Length;
        while (count > 0 && inputs[count - 1] is null) count--;
        string hint = node.Name.Length > 0 ? node.Name : node.OpType;
        var copy = node.Graph.CreateNode(node.OpType, inputs.Take(count), node.Outputs.Count, node.Domain, hint, before: before ?? node);
        foreach (var attribute in node.Proto.Attribute) copy.Proto.Attribute.Add(attribute.Clone());
        if (node.Proto.DocString.Length > 0) copy.Proto.DocString = node.Proto.DocString;
        _created.Add(copy);
        return copy;
    }

    /// <summary>
    /// Points every use of <paramref name="old"/> (including graph outputs) at <paramref name="replacement"/>;
    /// with <paramref name="keepName"/> the replacement takes the old name, so consumers and graph outputs see
    /// the same name as before.
    /// </summary>
    public void ReplaceAllUsesWith(Value old, Value replacement, bool keepName = true)
    {
        string oldName = old.Name;
        Context.CarryShape(old, replacement);
        old.Graph.ReplaceAllUsesWith(old, replacement, keepName);
        foreach (var use in replacement.Uses) _touched.Add(use.Node);
        if (replacement.Producer is { } producer) _touched.Add(producer);
        RecordRename(oldName, replacement.Name);
    }

    private void RecordRename(string oldName, string newName)
    {
        var originals = _originalNamesByCurrent.Remove(oldName, out var set) ? set : new HashSet<string>(StringComparer.Ordinal);
        foreach (var original in originals) _valueNameMap[original] = newName;
        _valueNameMap[oldName] = newName;
        originals.Add(oldName);
        if (_originalNamesByCurrent.TryGetValue(newName, out var existing)) existing.UnionWith(originals);
        else _originalNamesByCurrent[newName] = originals;
    }

    /// <summary>
    /// Tells a fixpoint driver that <paramref name="node"/> changed in place (an attribute or an input): it and the
    /// consumers of its outputs are matched again. Rules that edit a node instead of replacing it call this.
    /// </summary>
    public void MarkModified(Node node)
    {
        _touched.Add(node);
        foreach (var output in node.Outputs)
            foreach (var use in output.Uses) _touched.Add(use.Node);
    }

    /// <summary>
    /// Records how far, in ULPs of its element type, a value this rewrite stored deviates from its float64
    /// recomputation; the attempt reports the largest figure recorded during its rewrite.
    /// </summary>
    public void ReportDeviationUlps(double ulps)
    {
        if (double.IsNaN(ulps) || ulps < 0) throw new ArgumentOutOfRangeException(nameof(ulps), ulps, "a deviation is a non-negative number of ULPs");
        _deviationUlps = _deviationUlps is { } current ? Math.Max(current, ulps) : ulps;
    }

    internal void BeginRewrite() => _deviationUlps = null;

    internal double? EndRewrite()
    {
        var deviation = _deviationUlps;
        _deviationUlps = null;
        return deviation;
    }

    /// <summary>Surviving nodes touched since the last call (users of replaced values, producers of removed nodes' inputs).</summary>
    internal List<Node> TakeTouched()
    {
        var touched = new List<Node>(_touched.Count);
        foreach (var node in _touched)
            if (!_removedNodes.Contains(node)) touched.Add(node);
        _touched.Clear();
        return touched;
    }

    /// <summary>
    /// Points input <paramref name="index"/> of <paramref name="node"/> at <paramref name="value"/> (null omits an
    /// optional input; omitted inputs at the end are dropped). The old input, when it was a constant that
    /// nothing reads any more, is removed.
    /// </summary>
    public void ReplaceInput(Node node, int index, Value? value)
    {
        var old = node.Input(index);
        if (ReferenceEquals(old, value)) return;
        node.SetInput(index, value);
        int count = node.Inputs.Count;
        while (count > 0 && node.Inputs[count - 1] is null) count--;
        node.TruncateInputs(count);
        MarkModified(node);
        if (old is not null) RemoveIfDeadConstant(old);
    }

    /// <summary>
    /// Records in a value_info what the rewrite proved of <paramref name="value"/>'s shape (null dims unknown) and the
    /// nodes it removes no longer imply: a Conv proves its input has rank 2 + its spatial rank, a MatMul does not.
    /// </summary>
    public void DeclareShape(Value value, TensorProto.Types.DataType elementType, IReadOnlyList<long?> dims) =>
        value.Graph.DeclareType(value, Graph.TypeFor(elementType, dims));

    /// <summary>Sets an ints attribute of a node the rewrite keeps (e.g. a Conv's pads).</summary>
    public void SetAttribute(Node node, string name, IEnumerable<long> values)
    {
        node.SetAttribute(name, values);
        MarkModified(node);
    }

    /// <summary>
    /// Removes <paramref name="node"/> (its outputs must be unused by now), then every initializer or
    /// <c>Constant</c> node that only it used. Weights shared with other nodes stay.
    /// </summary>
    public void RemoveNode(Node node)
    {
        var inputs = node.Inputs.Where(i => i is not null).Distinct().ToArray();
        node.Graph.RemoveNode(node);
        _removed.Add(node.DisplayName);
        _removedNodes.Add(node);
        foreach (var input in inputs)
        {
            RemoveIfDeadConstant(input!);
            // A producer that lost a consumer may now pass a single-consumer guard.
            foreach (var use in input!.Uses) _touched.Add(use.Node);
            if (input.Producer is { } producer && !_removedNodes.Contains(producer)) _touched.Add(producer);
        }
    }

    private void RemoveIfDeadConstant(Value value)
    {
        if (value.Uses.Count > 0 || value.IsGraphOutput || value.IsGraphInput) return;
        if (value.IsInitializer)
        {
            value.Graph.RemoveInitializer(value);
            return;
        }
        if (value.Producer is { OpType: "Constant", IsOnnxDomain: true } constant && constant.Outputs.Count == 1)
            RemoveNode(constant);
    }
}
