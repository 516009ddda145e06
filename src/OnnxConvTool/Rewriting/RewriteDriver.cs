using OnnxConvTool.Ir;

namespace OnnxConvTool.Rewriting;

/// <summary>Which candidates a run may touch, whether it runs to a fixpoint, and how carefully it checks itself.</summary>
public sealed record RewriteOptions
{
    /// <summary>When non-empty, only nodes named here (node name or first output name) are rewritten.</summary>
    public IReadOnlyCollection<string> Only { get; init; } = [];

    /// <summary>Nodes named here (node name or first output name) are left alone.</summary>
    public IReadOnlyCollection<string> Exclude { get; init; } = [];

    /// <summary>
    /// Validate the whole model after every single rewrite, and prove every <c>TryMatch</c> left the graph
    /// unchanged (tests), not only at the end.
    /// </summary>
    public bool ValidateAfterEachRewrite { get; init; }

    /// <summary>
    /// False (the default): one sweep, each node present at the start offered to the rules once. True: a worklist
    /// that also offers the nodes rewrites create and the consumers of values they change, until no rule applies.
    /// A fixpoint set must never hold a rule and its inverse.
    /// </summary>
    public bool Fixpoint { get; init; }

    /// <summary>Merges that increase MACs are applied too (by default the cost model refuses them, giving the figures).</summary>
    public bool AllowMoreMacs { get; init; }

    /// <summary>With <see cref="Fixpoint"/>: the most node visits before the run stops (null: 10 per node at the start, plus 100).</summary>
    public int? MaxVisits { get; init; }

    /// <summary>See <see cref="RewriteContext.FoldOverridableInitializers"/>.</summary>
    public bool FoldOverridableInitializers { get; init; }
}

/// <summary>What became of one candidate node in a rewrite run.</summary>
public enum CandidateStatus
{
    /// <summary>A rule rewrote it.</summary>
    Applied,
    /// <summary>No rule applied; the outcome says why.</summary>
    NotApplicable,
    /// <summary>Left alone because of <see cref="RewriteOptions.Only"/> or <see cref="RewriteOptions.Exclude"/>.</summary>
    Excluded,
}

/// <summary>
/// What happened to one candidate node: what was done, or the exact reason it was not. <see cref="DeviationUlps"/>
/// is the rule's reported deviation of folded values from their float64 recomputation, when it computed any.
/// </summary>
public sealed record CandidateOutcome(string RuleId, string GraphPath, string NodeName, string OpType, CandidateStatus Status, string Detail,
    double? DeviationUlps = null);

/// <summary>A node a rewrite created and that is still in the model.</summary>
public sealed record CreatedNode(string GraphPath, string NodeName, string OpType);

/// <summary>Every candidate's outcome, the value-name map the rewrites recorded and the nodes they created.</summary>
public sealed record RewriteResult(IReadOnlyList<CandidateOutcome> Outcomes, IReadOnlyDictionary<string, string> ValueNameMap,
    IReadOnlyList<string> UnmatchedSelectors)
{
    /// <summary>Nodes the run created that still exist at its end, with their graph path, in creation order.</summary>
    public IReadOnlyList<CreatedNode> CreatedNodes { get; init; } = [];

    /// <summary>A fixpoint run stopped at <see cref="RewriteOptions.MaxVisits"/> with work left: rules may be undoing each other.</summary>
    public bool VisitCapReached { get; init; }

    /// <summary>Node visits the run made (each offers the node to the rules indexed under its op type).</summary>
    public int Visits { get; init; }

    /// <summary>How many rewrites were applied.</summary>
    public int AppliedCount => Outcomes.Count(o => o.Status == CandidateStatus.Applied);
    /// <summary>True when at least one rewrite was applied.</summary>
    public bool Modified => AppliedCount > 0;

    /// <summary>How often each rule applied, by rule id (rules that never applied are absent).</summary>
    public IReadOnlyDictionary<string, int> AppliedByRule =>
        Outcomes.Where(o => o.Status == CandidateStatus.Applied).GroupBy(o => o.RuleId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}

/// <summary>
/// Applies rules to the nodes of every graph and subgraph. A single sweep (the default) offers each node present
/// at the start to each rule once, in graph order, so a rule and its inverse cannot ping-pong. A fixpoint run
/// (<see cref="RewriteOptions.Fixpoint"/>) works from a worklist: after each rewrite it offers again the nodes the
/// rewrite created, the surviving node it was rooted at, and the nodes whose inputs it changed, until none
/// matches, or the visit cap stops it (reported). Rules are indexed by <see cref="IRewriteRule.RootOpTypes"/>; each
/// original candidate keeps one outcome per rule (a later success replaces an earlier "not applicable").
/// Apart from what the rules do, a run costs O(nodes + rewrites).
/// </summary>
internal static class RewriteDriver
{
    /// <exception cref="InvalidOperationException">A rewrite left the model invalid, or a match changed the graph (a bug in a rule).</exception>
    public static RewriteResult Run(Model model, IReadOnlyList<IRewriteRule> rules, RewriteOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new RewriteOptions();
        var rewriter = new GraphRewriter(model, new RewriteContext(model) { FoldOverridableInitializers = options.FoldOverridableInitializers });
        if (options.ValidateAfterEachRewrite) rewriter.Context.CheckMatchesArePure = true;
        rewriter.Context.AllowMoreMacs = options.AllowMoreMacs;
        var run = new DriverRun(rules, options, rewriter);
        return run.Execute(model, cancellation);
    }

    private sealed class DriverRun(IReadOnlyList<IRewriteRule> rules, RewriteOptions options, GraphRewriter rewriter)
    {
        private readonly Dictionary<string, IRewriteRule[]> _rulesByOpType = new(StringComparer.Ordinal);
        private readonly HashSet<string> _only = options.Only.ToHashSet(StringComparer.Ordinal);
        private readonly HashSet<string> _exclude = options.Exclude.ToHashSet(StringComparer.Ordinal);
        private readonly HashSet<string> _selectorsSeen = new(StringComparer.Ordinal);
        private readonly List<CandidateOutcome> _outcomes = [];
        private readonly Dictionary<(string RuleId, Node Node), int> _outcomeSlots = [];
        private readonly HashSet<Node> _original = new(ReferenceEqualityComparer.Instance);
        private readonly Queue<Node> _queue = new();
        private readonly HashSet<Node> _queued = new(ReferenceEqualityComparer.Instance);

        public RewriteResult Execute(Model model, CancellationToken cancellation)
        {
            foreach (var graph in model.AllGraphs().ToArray())
                foreach (var node in graph.Nodes)
                {
                    _original.Add(node);
                    Enqueue(node);
                }
            int cap = options.MaxVisits ?? checked(10 * _original.Count + 100);
            int visits = 0;
            bool capReached = false;
            while (_queue.Count > 0)
            {
                var node = _queue.Dequeue();
                _queued.Remove(node);
                if (!IsLive(node)) continue;
                if (options.Fixpoint && visits == cap)
                {
                    capReached = true;
                    break;
                }
                visits++;
                Visit(node, model, cancellation);
            }
            if (_outcomes.Any(o => o.Status == CandidateStatus.Applied)) ThrowIfInvalid(model, "the rewrites");
            var unmatched = _only.Concat(_exclude).Where(s => !_selectorsSeen.Contains(s)).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToArray();
            var created = rewriter.CreatedNodes.Where(n => n.Graph.Contains(n)).Select(n => new CreatedNode(n.Graph.Path, n.DisplayName, n.OpType)).ToArray();
            return new RewriteResult(_outcomes, rewriter.ValueNameMap, unmatched)
            {
                CreatedNodes = created,
                VisitCapReached = capReached,
                Visits = visits,
            };
        }

        private void Visit(Node node, Model model, CancellationToken cancellation)
        {
            bool original = _original.Contains(node);
            var graph = node.Graph;
            foreach (var rule in RulesFor(node.OpType))
            {
                cancellation.ThrowIfCancellationRequested();
                if (!rule.IsCandidate(node)) continue;
                string nodeName = node.DisplayName;
                if (original && ExclusionReason(node) is { } excluded)
                {
                    Record(node, true, new(rule.Id, graph.Path, nodeName, node.OpType, CandidateStatus.Excluded, excluded));
                    continue;
                }
                int createdBefore = rewriter.CreatedNodes.Count;
                var attempt = rule.TryApply(node, rewriter.Context, rewriter);
                Record(node, original, new(rule.Id, graph.Path, nodeName, node.OpType,
                    attempt.Applied ? CandidateStatus.Applied : CandidateStatus.NotApplicable, attempt.Detail, attempt.DeviationUlps));
                if (!attempt.Applied) continue;
                if (options.ValidateAfterEachRewrite) ThrowIfInvalid(model, $"rule {rule.Id} on '{nodeName}'");
                var created = rewriter.CreatedNodes.Skip(createdBefore).ToArray();
                rewriter.Context.RefreshShapes(created);
                var touched = rewriter.TakeTouched();
                if (options.Fixpoint)
                {
                    foreach (var n in created) Enqueue(n);
                    Enqueue(node);
                    foreach (var n in touched) Enqueue(n);
                }
                break;
            }
        }

        /// <summary>In its graph, and so is every node that owns an enclosing subgraph.</summary>
        private static bool IsLive(Node node)
        {
            for (var n = node; n is not null; n = n.Graph.OwnerNode)
                if (!n.Graph.Contains(n)) return false;
            return true;
        }

        /// <summary>--only/--exclude apply to the nodes present at the start (nodes a rewrite creates carry new names).</summary>
        private string? ExclusionReason(Node node)
        {
            var names = node.Outputs.Count > 0 ? new[] { node.Name, node.Outputs[0].Name, node.DisplayName } : [node.Name, node.DisplayName];
            foreach (var n in names)
                if (_only.Contains(n) || _exclude.Contains(n)) _selectorsSeen.Add(n);
            if (names.Any(_exclude.Contains)) return "excluded by name";
            if (_only.Count > 0 && !names.Any(_only.Contains)) return "not among the nodes selected by name";
            return null;
        }

        /// <summary>
        /// One outcome per original candidate and rule: a later attempt replaces an earlier one that did not apply, and
        /// an applied outcome is never replaced (a second application adds one). Created nodes appear only when a rule applied.
        /// </summary>
        private void Record(Node node, bool original, CandidateOutcome outcome)
        {
            var key = (outcome.RuleId, node);
            if (_outcomeSlots.TryGetValue(key, out int slot))
            {
                if (_outcomes[slot].Status != CandidateStatus.Applied) _outcomes[slot] = outcome;
                else if (outcome.Status == CandidateStatus.Applied) _outcomes.Add(outcome);
                return;
            }
            if (!original && outcome.Status != CandidateStatus.Applied) return;
            _outcomeSlots[key] = _outcomes.Count;
            _outcomes.Add(outcome);
        }

        private void Enqueue(Node node)
        {
            if (_queued.Add(node)) _queue.Enqueue(node);
        }

        private IRewriteRule[] RulesFor(string opType)
        {
            if (_rulesByOpType.TryGetValue(opType, out var list)) return list;
            list = rules.Where(r => r.RootOpTypes is null || r.RootOpTypes.Contains(opType)).ToArray();
            _rulesByOpType[opType] = list;
            return list;
        }
    }

    private static void ThrowIfInvalid(Model model, string what)
    {
        var problems = GraphValidator.Validate(model);
        if (problems.Count > 0) throw new InvalidOperationException($"{what} left the model invalid: {problems[0]}");
    }
}
