using OnnxConvTool.Emit;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Rewriting;

/// <summary>
/// The one object through which rules mutate a model: emits nodes (through an <see cref="OpBuilder"/>
/// anchored at a node), redirects uses, removes nodes and the constants only they used. It records an
/// old→new value-name map (for <c>verify --localize</c>) and what it created and removed.
/// </summary>
public sealed class GraphRewriter
{
    private readonly Dictionary<string, string> _valueNameMap = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Value> _int64Constants = new(StringComparer.Ordinal);
    private readonly List<Node> _created = [];
    private readonly List<Node> _changed = [];
    private readonly List<string> _removed = [];
    private readonly HashSet<Node> _removedNodes = new(ReferenceEqualityComparer.Instance);

    public GraphRewriter(Model model, RewriteContext? context = null)
    {
        Model = model;
        Context = context ?? new RewriteContext(model);
    }

    public Model Model { get; }
    public RewriteContext Context { get; }

    /// <summary>Original value name → name of the value that carries the same tensor after the rewrites.</summary>
    public IReadOnlyDictionary<string, string> ValueNameMap => _valueNameMap;

    public IReadOnlyList<Node> CreatedNodes => _created;

    /// <summary>Nodes a rewrite kept but changed in place (inputs replaced, attributes set), in order of change.</summary>
    public IReadOnlyList<Node> ChangedNodes => _changed;

    /// <summary>Display names of removed nodes, in removal order.</summary>
    public IReadOnlyList<string> RemovedNodes => _removed;

    public bool WasRemoved(Node node) => _removedNodes.Contains(node);

    /// <summary>A builder that inserts before <paramref name="anchor"/>, in its graph, naming new nodes after it.</summary>
    public OpBuilder BuilderBefore(Node anchor) =>
        new(anchor.Graph, anchor, anchor.Name.Length > 0 ? anchor.Name : anchor.Outputs.FirstOrDefault()?.Name, _created.Add, _int64Constants);

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
        foreach (var entry in _valueNameMap.Where(e => e.Value == oldName).ToArray()) _valueNameMap[entry.Key] = replacement.Name;
        _valueNameMap[oldName] = replacement.Name;
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
        _changed.Add(node);
        if (old is not null) RemoveIfDeadConstant(old);
    }

    /// <summary>Sets an ints attribute of a node the rewrite keeps (e.g. a Conv's pads).</summary>
    public void SetAttribute(Node node, string name, IEnumerable<long> values)
    {
        node.SetAttribute(name, values);
        _changed.Add(node);
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
        foreach (var input in inputs) RemoveIfDeadConstant(input!);
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
