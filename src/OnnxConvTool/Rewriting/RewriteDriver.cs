using OnnxConvTool.Ir;

namespace OnnxConvTool.Rewriting;

/// <summary>Which candidates a run may touch, and how carefully it checks itself.</summary>
public sealed record RewriteOptions
{
    /// <summary>When non-empty, only nodes named here (node name or first output name) are rewritten.</summary>
    public IReadOnlyCollection<string> Only { get; init; } = [];

    /// <summary>Nodes named here (node name or first output name) are left alone.</summary>
    public IReadOnlyCollection<string> Exclude { get; init; } = [];

    /// <summary>Validate the whole model after every single rewrite (tests), not only at the end.</summary>
    public bool ValidateAfterEachRewrite { get; init; }
}

public enum CandidateStatus
{
    Applied,
    NotApplicable,
    Excluded,
}

/// <summary>What happened to one candidate node: what was done, or the exact reason it was not.</summary>
public sealed record CandidateOutcome(string RuleId, string GraphPath, string NodeName, string OpType, CandidateStatus Status, string Detail);

/// <summary>Every candidate's outcome, and the value-name map the rewrites recorded.</summary>
public sealed record RewriteResult(IReadOnlyList<CandidateOutcome> Outcomes, IReadOnlyDictionary<string, string> ValueNameMap,
    IReadOnlyList<string> UnmatchedSelectors)
{
    /// <summary>Names of the nodes the rewrites created that are still in the model (node names are unique across all its graphs).</summary>
    public IReadOnlyList<string> CreatedNodes { get; init; } = [];

    public int AppliedCount => Outcomes.Count(o => o.Status == CandidateStatus.Applied);
    public bool Modified => AppliedCount > 0;
}

/// <summary>
/// Applies rules to every node of every graph and subgraph, in graph order, one sweep: each node present at
/// the start is offered to each rule once (nodes a rewrite creates are not revisited, so a rule and its
/// inverse cannot ping-pong). Collects one outcome per candidate.
/// </summary>
public static class RewriteDriver
{
    /// <exception cref="InvalidOperationException">A rewrite left the model invalid (a bug in a rule).</exception>
    public static RewriteResult Run(Model model, IReadOnlyList<IRewriteRule> rules, RewriteOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new RewriteOptions();
        var rewriter = new GraphRewriter(model);
        var outcomes = new List<CandidateOutcome>();
        var only = options.Only.ToHashSet(StringComparer.Ordinal);
        var exclude = options.Exclude.ToHashSet(StringComparer.Ordinal);
        var selectorsSeen = new HashSet<string>(StringComparer.Ordinal);

        foreach (var graph in model.AllGraphs().ToArray())
        {
            foreach (var node in graph.Nodes.ToArray())
            {
                foreach (var rule in rules)
                {
                    cancellation.ThrowIfCancellationRequested();
                    if (rewriter.WasRemoved(node) || !rule.IsCandidate(node)) continue;
                    var names = Names(node);
                    foreach (var n in names)
                        if (only.Contains(n) || exclude.Contains(n)) selectorsSeen.Add(n);
                    string nodeName = node.DisplayName;
                    if (names.Any(exclude.Contains))
                    {
                        outcomes.Add(new(rule.Id, graph.Path, nodeName, node.OpType, CandidateStatus.Excluded, "excluded by --exclude"));
                        continue;
                    }
                    if (only.Count > 0 && !names.Any(only.Contains))
                    {
                        outcomes.Add(new(rule.Id, graph.Path, nodeName, node.OpType, CandidateStatus.Excluded, "not named by --only"));
                        continue;
                    }
                    var attempt = rule.TryApply(node, rewriter.Context, rewriter);
                    outcomes.Add(new(rule.Id, graph.Path, nodeName, node.OpType,
                        attempt.Applied ? CandidateStatus.Applied : CandidateStatus.NotApplicable, attempt.Detail));
                    if (attempt.Applied && options.ValidateAfterEachRewrite) ThrowIfInvalid(model, $"rule {rule.Id} on '{nodeName}'");
                    if (attempt.Applied) break;
                }
            }
        }
        if (outcomes.Any(o => o.Status == CandidateStatus.Applied)) ThrowIfInvalid(model, "the rewrites");
        var unmatched = only.Concat(exclude).Where(s => !selectorsSeen.Contains(s)).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToArray();
        return new RewriteResult(outcomes, rewriter.ValueNameMap, unmatched)
        {
            CreatedNodes = rewriter.CreatedNodes.Where(n => !rewriter.WasRemoved(n)).Select(n => n.Name).ToList(),
        };
    }

    private static string[] Names(Node node) =>
        node.Outputs.Count > 0 ? [node.Name, node.Outputs[0].Name, node.DisplayName] : [node.Name, node.DisplayName];

    private static void ThrowIfInvalid(Model model, string what)
    {
        var problems = GraphValidator.Validate(model);
        if (problems.Count > 0) throw new InvalidOperationException($"{what} left the model invalid: {problems[0]}");
    }
}
