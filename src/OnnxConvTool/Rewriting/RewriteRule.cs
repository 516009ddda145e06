using OnnxConvTool.Ir;

namespace OnnxConvTool.Rewriting;

/// <summary>What the driver needs from any rule, whatever its match type.</summary>
internal interface IRewriteRule
{
    /// <summary>Stable kebab-case id (part of the CLI), e.g. <c>conv1x1-to-matmul</c>.</summary>
    string Id { get; }

    /// <summary>One line: "Replaces … with …".</summary>
    string Summary { get; }

    /// <summary>
    /// The op types a match can be rooted at (the driver indexes candidates by them), or null when the rule
    /// looks at every node and <see cref="IsCandidate"/> alone decides.
    /// </summary>
    IReadOnlyCollection<string>? RootOpTypes { get; }

    /// <summary>Cheap structural test (op type, domain): is this node something the rule is about?</summary>
    bool IsCandidate(Node node);

    /// <summary>Matches without mutating: what <see cref="TryApply"/> would report, with nothing rewritten.</summary>
    RuleAttempt Preview(Node node, RewriteContext context);

    /// <summary>Matches, and on success rewrites through <paramref name="rewriter"/>; returns the outcome as a sentence.</summary>
    RuleAttempt TryApply(Node node, RewriteContext context, GraphRewriter rewriter);
}

/// <summary>
/// One attempt of a rule on one node: applied (with what was done) or not (with why). <see cref="DeviationUlps"/>
/// is the largest deviation, in ULPs of the stored element type, of a value the rewrite folded from its float64
/// recomputation (see <see cref="GraphRewriter.ReportDeviationUlps"/>); null when the rule computed no weights.
/// </summary>
internal sealed record RuleAttempt(bool Applied, string Detail, double? DeviationUlps = null);

/// <summary>
/// A rewrite rule in two phases: a pure <see cref="TryMatch"/> that reads the graph and returns an immutable
/// match record or a failure sentence, and <see cref="Rewrite"/> that performs every mutation through the
/// <see cref="GraphRewriter"/>. Patterns are rooted at their last node and match upward.
/// </summary>
internal abstract class RewriteRule<TMatch> : IRewriteRule where TMatch : class
{
    public abstract string Id { get; }
    public abstract string Summary { get; }

    /// <summary>Null: every node is offered to <see cref="IsCandidate"/>. Override to let the driver index the rule.</summary>
    public virtual IReadOnlyCollection<string>? RootOpTypes => null;

    public abstract bool IsCandidate(Node node);

    /// <summary>Never mutates the graph (checked in debug builds and with <see cref="RewriteContext.CheckMatchesArePure"/>).</summary>
    public abstract MatchResult<TMatch> TryMatch(Node node, RewriteContext context);

    /// <summary>Rewrites a successful match; all changes go through <paramref name="rewriter"/>.</summary>
    public abstract void Rewrite(TMatch match, GraphRewriter rewriter);

    /// <summary>What <see cref="Rewrite"/> does for this match, as a short phrase for reports.</summary>
    public abstract string Describe(TMatch match);

    public RuleAttempt Preview(Node node, RewriteContext context)
    {
        if (!IsCandidate(node)) return new RuleAttempt(false, $"the rule does not apply to {node.OpType} nodes");
        var result = PureMatch(node, context);
        return result.Succeeded ? new RuleAttempt(true, Describe(result.Match!)) : new RuleAttempt(false, result.FailureReason!);
    }

    public RuleAttempt TryApply(Node node, RewriteContext context, GraphRewriter rewriter)
    {
        if (context.PreviewOnly) throw new InvalidOperationException($"rule {Id} cannot rewrite with a preview-only context");
        var result = PureMatch(node, context);
        if (!result.Succeeded) return new RuleAttempt(false, result.FailureReason!);
        string description = Describe(result.Match!);
        rewriter.BeginRewrite();
        Rewrite(result.Match!, rewriter);
        return new RuleAttempt(true, description, rewriter.EndRewrite());
    }

    private MatchResult<TMatch> PureMatch(Node node, RewriteContext context)
    {
        if (!context.CheckMatchesArePure) return TryMatch(node, context);
        long version = context.Model.Version;
        var result = TryMatch(node, context);
        if (context.Model.Version != version)
            throw new InvalidOperationException($"rule {Id} changed the graph while matching '{node.DisplayName}' (TryMatch must not mutate)");
        return result;
    }
}
