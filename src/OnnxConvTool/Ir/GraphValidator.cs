namespace OnnxConvTool.Ir;

/// <summary>
/// Checks the IR's invariants: every input defined before use and in scope (outer-scope values too),
/// single assignment, producers and use lists consistent in both directions, graph outputs produced,
/// opset imports present for every domain used, and initializer data sizes matching dims × element size.
/// Linear in the size of the model.
/// </summary>
internal static class GraphValidator
{
    /// <summary>All violations, as sentences; empty when the model is valid.</summary>
    public static List<string> Validate(Model model)
    {
        var check = new Checker(model);
        check.Graph(model.Graph, outer: null);
        check.UseListsAndOutputSlots();
        check.OpsetImports();
        return check.Problems;
    }

    public static void ThrowIfInvalid(Model model, string path)
    {
        var problems = Validate(model);
        if (problems.Count > 0) throw new ModelRejectedException(path, problems[0]);
    }

    /// <summary>Values defined so far in one graph, chained to the enclosing graph's scope at the owner node.</summary>
    private sealed class Scope(Scope? outer)
    {
        public HashSet<Value> Defined { get; } = [];

        public bool IsDefined(Value value)
        {
            for (var s = this; s is not null; s = s.Outer)
                if (s.Defined.Contains(value)) return true;
            return false;
        }

        public Scope? Outer => outer;
    }

    private sealed class Checker(Model model)
    {
        private readonly HashSet<string> _domains = new(StringComparer.Ordinal);
        private readonly HashSet<Node> _liveNodes = new(model.AllNodes());
        private readonly Dictionary<Value, int> _outputSlots = [];

        public List<string> Problems { get; } = [];

        public void Graph(Graph graph, Scope? outer)
        {
            var scope = new Scope(outer);
            foreach (var (name, value) in graph.NameTable)
            {
                if (value.Name != name) Problems.Add($"value '{value.Name}' is registered under the name '{name}' in graph {graph.Path}");
                if (!ReferenceEquals(value.Graph, graph)) Problems.Add($"value '{name}' is registered in graph {graph.Path} but belongs to graph {value.Graph.Path}");
            }
            foreach (var input in graph.Inputs)
            {
                if (!ReferenceEquals(graph.Find(input.Name), input)) Problems.Add($"graph {graph.Path} input '{input.Name}' is not defined in the graph's scope");
                if (!scope.Defined.Add(input)) Problems.Add($"graph {graph.Path} lists input '{input.Name}' twice");
            }
            foreach (var value in graph.Initializers)
            {
                if (!ReferenceEquals(graph.Find(value.Name), value)) Problems.Add($"initializer '{value.Name}' is not defined in the scope of graph {graph.Path}");
                if (!scope.Defined.Add(value) && !value.IsGraphInput) Problems.Add($"initializer '{value.Name}' is listed twice in graph {graph.Path}");
                if (value.Initializer!.FindDataProblem() is { } problem) Problems.Add(problem);
            }
            foreach (var value in graph.Values)
                if (value.Producer is null && !value.IsGraphInput && !value.IsInitializer) scope.Defined.Add(value);

            foreach (var node in graph.Nodes)
            {
                if (!ReferenceEquals(node.Graph, graph)) Problems.Add($"node '{node.DisplayName}' thinks it belongs to graph {node.Graph.Path}, not {graph.Path}");
                _domains.Add(node.IsOnnxDomain ? "" : node.Domain);
                for (int i = 0; i < node.Inputs.Count; i++)
                {
                    var input = node.Inputs[i];
                    if (input is null) continue;
                    if (!scope.IsDefined(input))
                        Problems.Add(IsAlive(input) && IsInScope(input, graph)
                            ? $"node '{node.DisplayName}' in graph {graph.Path} uses '{input.Name}' before it is defined"
                            : $"node '{node.DisplayName}' in graph {graph.Path} uses '{input.Name}', which is not defined in its scope");
                    if (!HasUse(input, new Usage(node, i))) Problems.Add($"use list of '{input.Name}' misses node '{node.DisplayName}' input {i}");
                }
                foreach (var list in node.Subgraphs.Values)
                    foreach (var sub in list)
                    {
                        if (!ReferenceEquals(sub.Parent, graph) || !ReferenceEquals(sub.OwnerNode, node))
                            Problems.Add($"subgraph {sub.Path} does not name node '{node.DisplayName}' in graph {graph.Path} as its owner");
                        Graph(sub, scope);
                    }
                for (int i = 0; i < node.Outputs.Count; i++)
                {
                    var output = node.Outputs[i];
                    if (!ReferenceEquals(output.Producer, node) || output.ProducerOutputIndex != i)
                        Problems.Add($"value '{output.Name}' does not name '{node.DisplayName}' output {i} as its producer");
                    if (!ReferenceEquals(graph.Find(output.Name), output))
                        Problems.Add($"output '{output.Name}' of node '{node.DisplayName}' is not defined in the scope of graph {graph.Path}");
                    if (!scope.Defined.Add(output)) Problems.Add($"value '{output.Name}' is assigned twice in graph {graph.Path}");
                }
            }
            foreach (var output in graph.Outputs)
            {
                _outputSlots[output] = _outputSlots.GetValueOrDefault(output) + 1;
                if (!scope.IsDefined(output)) Problems.Add($"graph {graph.Path} output '{output.Name}' is not produced");
            }
        }

        /// <summary>Every recorded use points at a live node whose input really is that value; output-slot counts agree.</summary>
        public void UseListsAndOutputSlots()
        {
            foreach (var graph in model.AllGraphs())
                foreach (var value in graph.Values)
                {
                    foreach (var use in value.Uses)
                        if (!_liveNodes.Contains(use.Node) || !ReferenceEquals(use.Node.Input(use.InputIndex), value))
                            Problems.Add($"use list of '{value.Name}' names node '{use.Node.DisplayName}' input {use.InputIndex}, which does not read it");
                    if (value.GraphOutputSlots != _outputSlots.GetValueOrDefault(value))
                        Problems.Add($"value '{value.Name}' counts {value.GraphOutputSlots} graph-output slots but {_outputSlots.GetValueOrDefault(value)} graphs list it");
                }
        }

        public void OpsetImports()
        {
            var functionDomains = model.Shell.Functions.Select(f => f.Domain).ToHashSet(StringComparer.Ordinal);
            foreach (string domain in _domains.Order(StringComparer.Ordinal))
                if (model.GetOpset(domain) == 0 && !functionDomains.Contains(domain))
                    Problems.Add($"nodes use domain '{(domain.Length == 0 ? "ai.onnx" : domain)}' but the model imports no opset for it");
        }

        private readonly Dictionary<Value, HashSet<Usage>> _useSets = [];

        /// <summary>Whether the value's use list holds <paramref name="use"/>; widely shared values get a set, so checking stays linear.</summary>
        private bool HasUse(Value value, Usage use)
        {
            if (value.Uses.Count <= 8) return value.Uses.Contains(use);
            if (!_useSets.TryGetValue(value, out var set)) _useSets[value] = set = [.. value.Uses];
            return set.Contains(use);
        }

        private static bool IsAlive(Value value) => ReferenceEquals(value.Graph.Find(value.Name), value);

        private static bool IsInScope(Value value, Graph graph)
        {
            for (var g = graph; g is not null; g = g.Parent)
                if (ReferenceEquals(g, value.Graph)) return true;
            return false;
        }
    }
}
