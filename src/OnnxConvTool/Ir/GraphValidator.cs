namespace OnnxConvTool.Ir;

/// <summary>
/// Checks the IR's invariants: every input defined before use (in scope), single assignment,
/// graph outputs produced, opset imports present for every domain used, initializer data sizes.
/// </summary>
public static class GraphValidator
{
    /// <summary>All violations, as sentences; empty when the model is valid.</summary>
    public static List<string> Validate(Model model)
    {
        var problems = new List<string>();
        var usedDomains = new HashSet<string>(StringComparer.Ordinal);
        foreach (var graph in model.AllGraphs())
        {
            ValidateGraph(graph, problems);
            foreach (var node in graph.Nodes) usedDomains.Add(node.IsOnnxDomain ? "" : node.Domain);
        }
        var functions = model.Shell.Functions.Select(f => (f.Domain, f.Name)).ToHashSet();
        foreach (string domain in usedDomains)
            if (model.GetOpset(domain) == 0 && !functions.Any(f => f.Domain == domain))
                problems.Add($"nodes use domain '{(domain.Length == 0 ? "ai.onnx" : domain)}' but the model imports no opset for it");
        return problems;
    }

    public static void ThrowIfInvalid(Model model, string path)
    {
        var problems = Validate(model);
        if (problems.Count > 0) throw new ModelRejectedException(path, problems[0]);
    }

    private static void ValidateGraph(Graph graph, List<string> problems)
    {
        var defined = new HashSet<Value>(graph.Inputs);
        foreach (var v in graph.Initializers) defined.Add(v);
        foreach (var v in graph.Values)
            if (v.Producer is null && !v.IsGraphInput && !v.IsInitializer) defined.Add(v);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in graph.Values)
            if (!names.Add(v.Name)) problems.Add($"value '{v.Name}' is defined twice in graph {graph.Path}");

        foreach (var node in graph.Nodes)
        {
            if (!ReferenceEquals(node.Graph, graph)) problems.Add($"node '{node.DisplayName}' thinks it belongs to graph {node.Graph.Path}, not {graph.Path}");
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                var input = node.Inputs[i];
                if (input is null) continue;
                bool inScope = ReferenceEquals(input.Graph, graph) ? defined.Contains(input) : IsAncestor(input.Graph, graph) && IsAlive(input);
                if (!inScope) problems.Add($"node '{node.DisplayName}' in graph {graph.Path} uses '{input.Name}' before it is defined");
                if (!input.Uses.Contains(new Usage(node, i))) problems.Add($"use list of '{input.Name}' misses node '{node.DisplayName}' input {i}");
            }
            foreach (var output in node.Outputs)
            {
                if (!ReferenceEquals(output.Producer, node)) problems.Add($"value '{output.Name}' does not name '{node.DisplayName}' as its producer");
                if (!defined.Add(output)) problems.Add($"value '{output.Name}' is assigned twice in graph {graph.Path}");
            }
        }
        foreach (var output in graph.Outputs)
            if (!(ReferenceEquals(output.Graph, graph) ? defined.Contains(output) : IsAlive(output)))
                problems.Add($"graph {graph.Path} output '{output.Name}' is not produced");
        foreach (var value in graph.Initializers)
            if (value.Initializer!.FindDataProblem() is { } problem) problems.Add(problem);
    }

    private static bool IsAncestor(Graph candidate, Graph graph)
    {
        for (var g = graph.Parent; g is not null; g = g.Parent)
            if (ReferenceEquals(g, candidate)) return true;
        return false;
    }

    private static bool IsAlive(Value value) => ReferenceEquals(value.Graph.Find(value.Name), value);
}
