using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;

namespace OnnxConvTool.Analysis;

/// <summary>
/// Lets the audit report, per 1x1 convolution, whether a rewrite rule applies and why not: runs the rule's
/// pure match (never its rewrite) with shapes inferred once per model.
/// </summary>
public sealed class RuleApplicabilityCheck(IRewriteRule rule) : IConv1x1RewriteCheck
{
    private RewriteContext? _context;

    public string RuleId => rule.Id;

    public RewriteApplicability Check(Node conv)
    {
        var model = conv.Graph.Model;
        if (_context is null || !ReferenceEquals(_context.Model, model)) _context = new RewriteContext(model);
        var preview = rule.Preview(conv, _context);
        return preview.Applied
            ? new RewriteApplicability(rule.Id, true, null, preview.Detail)
            : new RewriteApplicability(rule.Id, false, preview.Detail, null);
    }
}

/// <summary>The checks the audit runs per 1x1 convolution, made from the rule catalogue.</summary>
public static class Conv1x1Checks
{
    /// <summary>Fresh checks of the convert rules rooted at Conv, for the audit's per-node <c>rewrites</c> field.</summary>
    public static IReadOnlyList<IConv1x1RewriteCheck> Rewrites() =>
        RuleCatalog.Set(RuleCatalog.ConvertSet).Select(e => e.Create()).Where(r => r.RootOpTypes?.Contains("Conv") == true)
            .Select(r => (IConv1x1RewriteCheck)new RuleApplicabilityCheck(r)).ToArray();
}
