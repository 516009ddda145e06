using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Rewriting;

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
