using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Rules.Folds;

namespace OnnxConvTool.Analysis;

/// <summary>
/// Lets the audit report, per 1x1 convolution, whether a rule applies and why not: runs the rule's pure match
/// (never its rewrite) with shapes inferred once per model, in a <see cref="RewriteContext.PreviewOnly"/> context, so
/// merges are decided without forming merged weights and the audit's memory does not grow with the weights' count. A rewrite check matches at the conv itself. A fusion
/// check (<see cref="ForFusion"/>) matches at the conv (a Pad or BatchNormalization before it, a sibling conv) and at
/// each reader of the conv's output (a BatchNormalization or constant Mul after it, the next conv of a chain, the Add
/// of a RepVGG block): the conv takes part when the rule applies at either.
/// </summary>
internal sealed class RuleApplicabilityCheck(IRewriteRule rule, bool matchReaders = false) : IConv1x1RewriteCheck
{
    private RewriteContext? _context;

    /// <summary>A check of a fold rule, which may be rooted at a reader of the conv's output.</summary>
    public static RuleApplicabilityCheck ForFusion(IRewriteRule rule) => new(rule, matchReaders: true);

    public string RuleId => rule.Id;

    public RewriteApplicability Check(Node conv)
    {
        var model = conv.Graph.Model;
        if (_context is null || !ReferenceEquals(_context.Model, model)) _context = new RewriteContext(model) { PreviewOnly = true };
        Node[] roots = !matchReaders ? [conv]
            : [.. rule.IsCandidate(conv) ? [conv] : Array.Empty<Node>(),
               .. conv.Outputs.SelectMany(o => o.Uses).Select(u => u.Node).Distinct().Where(n => n != conv && rule.IsCandidate(n))];
        if (roots.Length == 0)
        {
            string ops = rule.RootOpTypes is { Count: > 0 } types ? string.Join(" or ", types) : "node the rule fuses";
            return new RewriteApplicability(rule.Id, false, $"no {ops} reads the output of '{conv.DisplayName}'", null);
        }
        var reasons = new List<string>();
        foreach (var root in roots)
        {
            var preview = rule.Preview(root, _context);
            if (preview.Applied) return new RewriteApplicability(rule.Id, true, null, preview.Detail);
            if (!reasons.Contains(preview.Detail)) reasons.Add(preview.Detail);
        }
        return new RewriteApplicability(rule.Id, false, string.Join("; ", reasons), null);
    }
}

/// <summary>The checks the audit runs per 1x1 convolution, made from the rule catalogue.</summary>
internal static class Conv1x1Checks
{
    private static readonly string[] AwayFromConv =
        Enum.GetValues<RewriteTarget>().Where(t => t != RewriteTarget.Conv).Select(RuleCatalog.TargetRuleId).ToArray();

    /// <summary>
    /// Fresh checks of every fusion in the catalogue's fold and merge sets, for the audit's per-node <c>fusions</c> field
    /// (<see cref="FoldConstants"/> evaluates constant subexpressions and never fuses anything with a convolution).
    /// </summary>
    public static IReadOnlyList<IConv1x1RewriteCheck> Fusions() =>
        RuleCatalog.Set(RuleCatalog.FoldSet).Concat(RuleCatalog.Set(RuleCatalog.MergeSet)).Where(e => e.Id != FoldConstants.RuleId)
            .Select(e => (IConv1x1RewriteCheck)RuleApplicabilityCheck.ForFusion(e.Create())).ToArray();

    /// <summary>Fresh checks of the convert rules that take a Conv away (the <c>--to</c> targets other than conv), for the audit's per-node <c>rewrites</c> field.</summary>
    public static IReadOnlyList<IConv1x1RewriteCheck> Rewrites() =>
        RuleCatalog.Set(RuleCatalog.ConvertSet).Where(e => AwayFromConv.Contains(e.Id)).Select(e => e.Create()).Where(r => r.RootOpTypes?.Contains("Conv") == true)
            .Select(r => (IConv1x1RewriteCheck)new RuleApplicabilityCheck(r)).ToArray();
}
