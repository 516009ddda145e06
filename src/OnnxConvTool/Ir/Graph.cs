using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

/// <summary>
/// A graph or subgraph: ordered nodes, inputs, outputs and initializers, and the values its scope
/// defines. Subgraphs resolve names through their parent's scope.
/// </summary>
public sealed class Graph
{
    private readonly OrderedSet<Node> _nodes = new();
    private readonly List<Value> _inputs = [];
    private readonly List<Value> _outputs = [];
    private readonly OrderedSet<Value> _initializers = new();
    private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);

    internal Graph(Model model, GraphProto shell, Graph? parent, Node? owner)
    {
        Model = model;
        Shell = shell;
        Parent = parent;
        OwnerNode = owner;
    }

    /// <summary>The model this graph (or subgraph) belongs to.</summary>
    public Model Model { get; }

    /// <summary>The graph's own proto fields (name, doc string, annotations, unknown fields) with nodes and values cleared.</summary>
    internal GraphProto Shell { get; }

    /// <summary>The graph holding the node whose attribute this subgraph is; null for the main graph.</summary>
    public Graph? Parent { get; }

    /// <summary>The If/Loop/Scan node whose attribute holds this subgraph, or null for the main graph.</summary>
    public Node? OwnerNode { get; internal set; }

    /// <summary>The graph's name as stored in the file.</summary>
    public string Name { get => Shell.Name; set => Shell.Name = value; }

    /// <summary>A path such as <c>main/If_0.then_branch</c> that names this graph in reports.</summary>
    public string Path { get; internal set; } = "main";

    /// <summary>The nodes in order (a snapshot: later edits do not change a list already returned).</summary>
    public IReadOnlyList<Node> Nodes => _nodes.View;

    /// <summary>How many nodes the graph holds (subgraphs' nodes not counted).</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>Whether <paramref name="node"/> is (still) one of this graph's nodes; O(1).</summary>
    public bool Contains(Node node) => _nodes.Contains(node);
    /// <summary>The graph inputs in order, including initializers listed as inputs (IR version 3 and older).</summary>
    public IReadOnlyList<Value> Inputs => _inputs;
    /// <summary>The graph outputs in order; a value may appear more than once.</summary>
    public IReadOnlyList<Value> Outputs => _outputs;
    /// <summary>The values backed by an initializer, in file order.</summary>
    public IReadOnlyList<Value> Initializers => _initializers.View;

    /// <summary>Values this scope defines (inputs, initializers, node outputs).</summary>
    public IEnumerable<Value> Values => _values.Values;

    /// <summary>The scope's name table, for the validator to check that names and values agree.</summary>
    internal IReadOnlyDictionary<string, Value> NameTable => _values;

    /// <summary>0 for the main graph, 1 for a subgraph of one of its nodes, and so on.</summary>
    public int Depth => Parent is null ? 0 : Parent.Depth + 1;

    /// <summary>The value named <paramref name="name"/> in this scope only.</summary>
    public Value? Find(string name) => _values.GetValueOrDefault(name);

    /// <summary>The value named <paramref name="name"/> in this scope or any enclosing one.</summary>
    public Value? Resolve(string name) => _values.GetValueOrDefault(name) ?? Parent?.Resolve(name);

    /// <summary>This graph and every subgraph below it, depth first.</summary>
    public IEnumerable<Graph> SelfAndDescendants()
    {
        yield return this;
        foreach (var node in _nodes.View)
            foreach (var list in node.Subgraphs.Values)
                foreach (var sub in list)
                    foreach (var g in sub.SelfAndDescendants())
                        yield return g;
    }

    internal Value Define(string name)
    {
        if (name.Length == 0) throw new InvalidOperationException($"a value in graph {Path} needs a name");
        if (_values.ContainsKey(name)) throw new InvalidOperationException($"value name '{name}' is already defined in graph {Path}");
        var value = new Value(this, name);
        _values.Add(name, value);
        Model.NoteChange();
        Model.ReserveName(name);
        return value;
    }

    internal void RenameValue(Value value, string oldName, string newName)
    {
        if (newName.Length == 0) throw new InvalidOperationException($"value '{oldName}' in graph {Path} cannot have an empty name");
        if (_values.ContainsKey(newName)) throw new InvalidOperationException($"value name '{newName}' is already defined in graph {Path}");
        if (Parent?.Resolve(newName) is not null) throw new InvalidOperationException($"value name '{newName}' would shadow a value of an enclosing graph of {Path}");
        _values.Remove(oldName);
        _values.Add(newName, value);
        Model.ReserveName(newName);
    }

    /// <summary>Appends a graph input named <paramref name="name"/> (unique in the model) with type <paramref name="type"/>.</summary>
    public Value AddInput(string name, TypeProto? type)
    {
        var value = Define(name);
        value.Type = type;
        AddInputValue(value);
        return value;
    }

    internal void AddInputValue(Value value)
    {
        _inputs.Add(value);
        value.IsGraphInput = true;
        Model.NoteChange();
    }

    /// <summary>The original output records, parallel to <see cref="Outputs"/> (null for outputs added later).</summary>
    internal List<ValueInfoProto?> OutputInfos { get; } = [];

    /// <summary>
    /// The original value_info records in file order. A record whose name named a value at load is written
    /// back while that name still resolves; one that named nothing is kept as it was.
    /// </summary>
    internal List<(ValueInfoProto Info, bool NamedAValue)> ValueInfos { get; } = [];

    /// <summary>Appends <paramref name="value"/> to the graph outputs.</summary>
    public void AddOutput(Value value)
    {
        _outputs.Add(value);
        value.GraphOutputSlots++;
        OutputInfos.Add(null);
        Model.NoteChange();
    }

    /// <summary>Makes graph output <paramref name="index"/> the value <paramref name="value"/>.</summary>
    public void SetOutput(int index, Value value)
    {
        var old = _outputs[index];
        if (ReferenceEquals(old, value)) return;
        old.GraphOutputSlots--;
        _outputs[index] = value;
        value.GraphOutputSlots++;
        Model.NoteChange();
    }

    /// <summary>Adds <paramref name="tensor"/> as an initializer under a name unique in the model (derived from its name).</summary>
    public Value AddInitializer(Tensor tensor)
    {
        tensor.Name = Model.UniqueName(tensor.Name.Length > 0 ? tensor.Name : "const");
        var value = Define(tensor.Name);
        value.Initializer = tensor;
        value.Type = TypeFor(tensor);
        _initializers.Add(value);
        return value;
    }

    internal void AttachInitializer(Value value, Tensor tensor)
    {
        value.Initializer = tensor;
        _initializers.Add(value);
    }

    /// <summary>Removes an initializer that nothing uses any more.</summary>
    public void RemoveInitializer(Value value)
    {
        if (value.Uses.Count > 0) throw new InvalidOperationException($"initializer '{value.Name}' is still used");
        if (value.IsGraphOutput || value.IsGraphInput) throw new InvalidOperationException($"initializer '{value.Name}' is a graph input or output");
        _initializers.Remove(value);
        value.Initializer = null;
        _values.Remove(value.Name);
        Model.NoteChange();
    }

    /// <summary>Creates a node with fresh output values and inserts it before <paramref name="before"/> (or appends it).</summary>
    public Node CreateNode(string opType, IEnumerable<Value?> inputs, int outputCount = 1, string domain = "",
        string? nameHint = null, Node? before = null, IReadOnlyList<string>? outputNames = null)
    {
        var proto = new NodeProto { OpType = opType, Name = Model.UniqueName(nameHint ?? opType) };
        if (domain.Length > 0) proto.Domain = domain;
        var node = new Node(this, proto);
        foreach (var input in inputs) node.AddInput(input);
        for (int i = 0; i < outputCount; i++)
        {
            string name = outputNames is not null ? outputNames[i] : Model.UniqueName($"{proto.Name}_out{(outputCount > 1 ? i.ToString() : "")}");
            node.AddOutput(Define(name));
        }
        InsertNode(node, before);
        return node;
    }

    internal void InsertNode(Node node, Node? before)
    {
        Model.NoteChange();
        if (before is null)
        {
            _nodes.Add(node);
            return;
        }
        if (!_nodes.InsertBefore(before, node)) throw new InvalidOperationException($"node '{before.DisplayName}' is not in graph {Path}");
    }

    /// <summary>
    /// Removes a node whose outputs nothing reads (no node input, in this graph or any subgraph, and no
    /// graph-output slot); refuses otherwise. The node's own subgraphs go with it and release what they captured.
    /// </summary>
    /// <exception cref="InvalidOperationException">An output is still read, or the node is not in this graph.</exception>
    public void RemoveNode(Node node)
    {
        if (!ReferenceEquals(node.Graph, this) || !_nodes.Contains(node))
            throw new InvalidOperationException($"node '{node.DisplayName}' is not in graph {Path}");
        foreach (var output in node.Outputs)
        {
            if (output.Uses.Count > 0)
                throw new InvalidOperationException($"cannot remove node '{node.DisplayName}': output '{output.Name}' is still used by '{output.Uses[0].Node.DisplayName}' in graph {output.Uses[0].Node.Graph.Path}");
            if (output.IsGraphOutput)
                throw new InvalidOperationException($"cannot remove node '{node.DisplayName}': output '{output.Name}' is a graph output");
        }
        _nodes.Remove(node);
        Model.NoteChange();
        DetachRecursively(node);
        foreach (var output in node.Outputs) _values.Remove(output.Name);
    }

    private static void DetachRecursively(Node node)
    {
        node.DetachInputs();
        foreach (var list in node.Subgraphs.Values)
            foreach (var sub in list)
            {
                foreach (var output in sub._outputs) output.GraphOutputSlots--;
                sub._outputs.Clear();
                sub.OutputInfos.Clear();
                foreach (var inner in sub._nodes.View)
                    DetachRecursively(inner);
            }
    }

    /// <summary>
    /// Points every use of <paramref name="old"/> (and its graph-output slots) at <paramref name="replacement"/>.
    /// With <paramref name="keepName"/>, the replacement takes over the old name so downstream
    /// consumers and graph outputs see the same name as before; names that are part of the model's
    /// interface never move: nothing is renamed when either value is a graph input or the replacement
    /// was already a graph output.
    /// </summary>
    public void ReplaceAllUsesWith(Value old, Value replacement, bool keepName = true)
    {
        if (ReferenceEquals(old, replacement)) return;
        bool replacementWasOutput = replacement.IsGraphOutput;
        old.MoveUsesTo(replacement);
        ReplaceOutputSlots(old, replacement);
        if (!keepName || old.IsGraphInput || replacement.IsGraphInput || replacementWasOutput) return;
        string name = old.Name;
        var oldType = old.Type;
        old.Name = Model.UniqueName(name + "_replaced");
        replacement.Name = name;
        replacement.Type ??= oldType;
    }

    /// <summary>
    /// Points the graph-output slots holding <paramref name="old"/> at <paramref name="replacement"/>: the value's own
    /// graph first, subgraphs (which may return a captured value) only while slots remain, so a rewrite that
    /// replaces no graph output pays nothing for it.
    /// </summary>
    private static void ReplaceOutputSlots(Value old, Value replacement)
    {
        if (old.GraphOutputSlots == 0) return;
        var own = old.Graph;
        for (int i = 0; i < own._outputs.Count; i++)
            if (ReferenceEquals(own._outputs[i], old)) own.SetOutput(i, replacement);
        if (old.GraphOutputSlots == 0) return;
        foreach (var g in own.SelfAndDescendants().Skip(1))
            for (int i = 0; i < g._outputs.Count; i++)
                if (ReferenceEquals(g._outputs[i], old)) g.SetOutput(i, replacement);
    }

    /// <summary>
    /// Reorders nodes so every value is defined before use. The order changes as little as possible: nodes
    /// keep their relative order, and a node listed too late is pulled forward to just before its first
    /// consumer (so a node appended by a rewrite lands where it is needed). A sorted graph keeps its order.
    /// </summary>
    /// <exception cref="InvalidOperationException">The graph has a cycle; the order is left unchanged.</exception>
    public void SortTopologically()
    {
        var order = TopologicalOrder(out var cycleNode);
        if (order is null) throw new InvalidOperationException($"graph {Path} has a cycle through node '{cycleNode!.DisplayName}'");
        SetNodeOrder(order);
    }

    /// <summary>
    /// The order <see cref="SortTopologically"/> would use, or null with a node on a cycle. Depth first over
    /// producers (including those of values the node's subgraphs capture); O(nodes + edges), no recursion.
    /// </summary>
    public List<Node>? TopologicalOrder(out Node? cycleNode)
    {
        const byte InProgress = 1, Done = 2;
        var nodes = _nodes.View;
        var index = new Dictionary<Node, int>(nodes.Count);
        for (int i = 0; i < nodes.Count; i++) index[nodes[i]] = i;
        var state = new byte[nodes.Count];
        var result = new List<Node>(nodes.Count);
        var stack = new Stack<(int Node, IEnumerator<Node> Producers)>();
        cycleNode = null;
        for (int start = 0; start < nodes.Count; start++)
        {
            if (state[start] == Done) continue;
            state[start] = InProgress;
            stack.Push((start, ProducersInThisGraph(nodes[start]).GetEnumerator()));
            while (stack.Count > 0)
            {
                var (current, producers) = stack.Peek();
                if (producers.MoveNext())
                {
                    if (!index.TryGetValue(producers.Current, out int p) || state[p] == Done) continue;
                    if (state[p] == InProgress)
                    {
                        cycleNode = nodes[p];
                        return null;
                    }
                    state[p] = InProgress;
                    stack.Push((p, ProducersInThisGraph(nodes[p]).GetEnumerator()));
                    continue;
                }
                stack.Pop();
                state[current] = Done;
                result.Add(nodes[current]);
            }
        }
        return result;
    }

    /// <summary>Producers in this graph of the node's inputs, including values its subgraphs capture.</summary>
    private IEnumerable<Node> ProducersInThisGraph(Node node)
    {
        foreach (var input in node.Inputs)
            if (input?.Producer is { } p && ReferenceEquals(p.Graph, this)) yield return p;
        foreach (var list in node.Subgraphs.Values)
            foreach (var sub in list)
                foreach (var captured in sub.CapturedValues())
                    if (captured.Producer is { } p && ReferenceEquals(p.Graph, this)) yield return p;
    }

    /// <summary>Values from enclosing scopes that nodes in this graph (or its subgraphs) use.</summary>
    public IEnumerable<Value> CapturedValues()
    {
        var seen = new HashSet<Value>();
        foreach (var g in SelfAndDescendants())
        {
            foreach (var node in g._nodes.View)
                foreach (var input in node.Inputs)
                    if (input is not null && !IsWithin(input.Graph) && seen.Add(input)) yield return input;
            foreach (var output in g._outputs)
                if (!IsWithin(output.Graph) && seen.Add(output)) yield return output;
        }
    }

    private bool IsWithin(Graph graph)
    {
        for (var g = graph; g is not null; g = g.Parent)
            if (ReferenceEquals(g, this)) return true;
        return false;
    }

    /// <summary>
    /// Declares <paramref name="value"/>'s type and shape, in a value_info record of this graph (one is added when the
    /// value has none), so the declaration is saved with the model.
    /// </summary>
    internal void DeclareType(Value value, TypeProto type)
    {
        value.Type = type;
        if (!value.IsGraphInput && !value.IsGraphOutput && !ValueInfos.Any(v => v.Info.Name == value.Name))
            ValueInfos.Add((new ValueInfoProto { Name = value.Name }, true));
    }

    internal static TypeProto TypeFor(Tensor tensor) => TypeFor(tensor.ElementType, tensor.Dims.Select(d => (long?)d));

    /// <summary>A tensor type of <paramref name="elementType"/> with <paramref name="dims"/> (a null dim is unknown).</summary>
    internal static TypeProto TypeFor(TensorProto.Types.DataType elementType, IEnumerable<long?> dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(d is { } known ? new TensorShapeProto.Types.Dimension { DimValue = known } : new TensorShapeProto.Types.Dimension());
        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = shape } };
    }

    internal void AddNodeFromReader(Node node) => _nodes.Add(node);

    /// <summary>Replaces the node order with <paramref name="order"/>, a permutation of the current nodes.</summary>
    internal void SetNodeOrder(List<Node> order)
    {
        if (order.Count != _nodes.Count) throw new InvalidOperationException($"new node order of graph {Path} has {order.Count} nodes, not {_nodes.Count}");
        var current = _nodes.View;
        for (int i = 0; i < order.Count; i++)
            if (!ReferenceEquals(order[i], current[i]))
            {
                _nodes.Reset(order);
                Model.NoteChange();
                return;
            }
    }

    /// <summary>The graph's path, e.g. <c>main</c> or <c>main/If_0.then_branch</c>.</summary>
    public override string ToString() => Path;
}
