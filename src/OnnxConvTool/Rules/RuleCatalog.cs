using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Folds;

namespace OnnxConvTool.Rules;

/// <summary>
/// Every rewrite rule by its stable id (the ids are the CLI surface), grouped in named sets: <c>fold</c> (constants
/// folded into convolutions), <c>merge</c> (convolutions merged with each other) and <c>convert</c> (form changes
/// driven by <c>--to</c>). A rule and its inverse never run in one fixpoint set.
/// </summary>
internal static class RuleCatalog
{
    public const string FoldSet = "fold";
    public const string MergeSet = "merge";
    public const string ConvertSet = "convert";

    /// <summary>Rules that evaluate constant subexpressions and fold constant neighbours (BatchNormalization, scales and shifts, zero pads) into convolutions, run to a fixpoint.</summary>
    private static readonly RuleEntry[] FoldRules =
    [
        RuleEntry.Of<FoldConstants>(FoldSet),
        RuleEntry.Of<FuseBatchNormIntoConv>(FoldSet),
        RuleEntry.Of<FuseAffineIntoConv>(FoldSet),
        RuleEntry.Of<FusePadIntoConv>(FoldSet),
        RuleEntry.Of<FuseBatchNormIntoNextConv>(FoldSet),
    ];

    /// <summary>Rules that merge convolutions with each other, run to a fixpoint after the folds.</summary>
    private static readonly RuleEntry[] MergeRules =
    [
        RuleEntry.Of<Merges.MergeConvChain>(MergeSet),
        RuleEntry.Of<Merges.MergeSiblingConvs>(MergeSet),
        RuleEntry.Of<Merges.MergeRepVggBranches>(MergeSet),
    ];

    /// <summary>Form changes; one sweep each, chosen by <see cref="RewriteTarget"/>.</summary>
    private static readonly RuleEntry[] ConvertRules =
    [
        RuleEntry.Of<Conv1x1ToMatMul>(ConvertSet, inverseId: MatMulToConv1x1.RuleId),
        RuleEntry.Of<Conv1x1ToGemm>(ConvertSet, inverseId: MatMulToConv1x1.RuleId),
        RuleEntry.Of<MatMulToConv1x1>(ConvertSet),
        RuleEntry.Of<RestoreSpatialConv>(ConvertSet, inverseId: Conv1x1ToMatMul.RuleId),
    ];

    /// <summary>Every rule, fold set first, then merge, then convert.</summary>
    public static IReadOnlyList<RuleEntry> All { get; } = [.. FoldRules, .. MergeRules, .. ConvertRules];

    /// <summary>The names of the sets, in the order <c>optimize</c> runs them.</summary>
    public static IReadOnlyList<string> SetNames { get; } = [FoldSet, MergeSet, ConvertSet];

    /// <summary>Every rule id, in catalogue order.</summary>
    public static IReadOnlyList<string> Ids { get; } = All.Select(e => e.Id).ToArray();

    public static RuleEntry? Find(string id) => All.FirstOrDefault(e => e.Id == id);

    /// <summary>The entries of set <paramref name="set"/> (fold, merge or convert), in the order they are tried.</summary>
    /// <exception cref="ArgumentException">No such set.</exception>
    public static IReadOnlyList<RuleEntry> Set(string set) => set switch
    {
        FoldSet => FoldRules,
        MergeSet => MergeRules,
        ConvertSet => ConvertRules,
        _ => throw new ArgumentException($"no rule set '{set}' (sets: {string.Join(", ", SetNames)})", nameof(set)),
    };

    /// <summary>The ids among <paramref name="ids"/> that name no rule, in the order given, each once.</summary>
    public static IReadOnlyList<string> UnknownIds(IEnumerable<string> ids) =>
        ids.Where(id => Find(id) is null).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Fresh instances of a set's rules for one fixpoint run, keeping only ids in <paramref name="only"/> (when given)
    /// and dropping those in <paramref name="skip"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The chosen rules hold a rule and its inverse.</exception>
    public static IReadOnlyList<IRewriteRule> CreateFixpointSet(string set, IReadOnlyCollection<string>? only = null, IReadOnlyCollection<string>? skip = null)
    {
        var chosen = Set(set).Where(e => (only is null || only.Contains(e.Id)) && (skip is null || !skip.Contains(e.Id))).ToArray();
        foreach (var entry in chosen)
            if (entry.InverseId is { } inverse && chosen.Any(e => e.Id == inverse))
                throw new InvalidOperationException($"rules {entry.Id} and {inverse} undo each other and cannot share one fixpoint run");
        return chosen.Select(e => e.Create()).ToArray();
    }

    /// <summary>
    /// The rules that rewrite a model towards <paramref name="target"/>, in the order they are tried. Towards Conv they
    /// also take down the scaffolding (flattening reshapes, subsampling, zero pads) around the restored channel maps,
    /// which needs a fixpoint run (<see cref="TargetRunsToFixpoint"/>); the other targets are one sweep.
    /// </summary>
    public static IReadOnlyList<IRewriteRule> ForTarget(RewriteTarget target) => target == RewriteTarget.Conv
        ? [new MatMulToConv1x1(), new RestoreSpatialConv(), new FusePadIntoConv()]
        : [Find(TargetRuleId(target))!.Create()];

    /// <summary>True when the rules of <paramref name="target"/> build on each other's results and must run to a fixpoint.</summary>
    public static bool TargetRunsToFixpoint(RewriteTarget target) => target == RewriteTarget.Conv;

    /// <summary>The id of the convert rule behind <paramref name="target"/>.</summary>
    public static string TargetRuleId(RewriteTarget target) => target switch
    {
        RewriteTarget.MatMul => Conv1x1ToMatMul.RuleId,
        RewriteTarget.Gemm => Conv1x1ToGemm.RuleId,
        RewriteTarget.Conv => MatMulToConv1x1.RuleId,
        _ => throw new ArgumentOutOfRangeException(nameof(target), target, null),
    };
}

/// <summary>One catalogue entry: a rule's id, the set it belongs to, its one-line summary, and how to make a fresh instance.</summary>
internal sealed record RuleEntry(string Id, string Set, string Summary, Func<IRewriteRule> Create, string? InverseId = null)
{
    /// <summary>An entry for rule type <typeparamref name="TRule"/>; id and summary come from the rule itself.</summary>
    public static RuleEntry Of<TRule>(string set, string? inverseId = null) where TRule : IRewriteRule, new()
    {
        var sample = new TRule();
        return new RuleEntry(sample.Id, set, sample.Summary, () => new TRule(), inverseId);
    }
}
