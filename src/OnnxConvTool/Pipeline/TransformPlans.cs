using OnnxConvTool.Passes;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;

namespace OnnxConvTool.Pipeline;

/// <summary>The transforms of <c>onnxconv optimize</c> and <c>onnxconv rewrite</c>, as plans for <see cref="ModelTransformer"/>.</summary>
public static class TransformPlans
{
    /// <summary>The rule sets <c>optimize</c> runs to a fixpoint, in order.</summary>
    public static IReadOnlyList<string> OptimizeSets { get; } = [RuleCatalog.FoldSet, RuleCatalog.MergeSet];

    /// <summary>
    /// What <c>optimize</c> does: the fold rules, then the merge rules, each set to a fixpoint; the clean-up passes
    /// (identities, dead nodes, unused initializers); then, with <paramref name="convertTo"/>, one sweep converting
    /// every 1x1 Conv to MatMul or Gemm.
    /// </summary>
    /// <param name="only">Rule ids to run (null or empty: every rule of both sets).</param>
    /// <param name="skip">Rule ids to leave out.</param>
    /// <param name="options">Options shared by every rule stage (null: the defaults).</param>
    /// <param name="convertTo">MatMul or Gemm to convert the remaining 1x1 Convs after optimising; null keeps them as Conv.</param>
    public static TransformPlan Optimize(RewriteTarget? convertTo = null, IReadOnlyCollection<string>? only = null,
        IReadOnlyCollection<string>? skip = null, RewriteOptions? options = null)
    {
        var stages = new List<TransformStage>();
        foreach (var set in OptimizeSets)
        {
            var rules = RuleCatalog.CreateFixpointSet(set, only is { Count: > 0 } ? only : null, skip);
            if (rules.Count > 0) stages.Add(new RuleStage(set, rules, Fixpoint: true));
        }
        stages.Add(new PassStage("clean-up", PassManager.CleanUp()));
        if (convertTo is { } form) stages.Add(new RuleStage(RuleCatalog.ConvertSet, RuleCatalog.ForTarget(form), Fixpoint: false));
        return new TransformPlan(stages, options);
    }

    /// <summary>
    /// What <c>rewrite --to</c> does: every 1x1 Conv to MatMul or Gemm in one sweep, or (to Conv) every MatMul/Gemm
    /// with a constant 2-D weight back to a 1x1 Conv, to a fixpoint. <see cref="RewriteOptions.Only"/> and
    /// <see cref="RewriteOptions.Exclude"/> select nodes.
    /// </summary>
    public static TransformPlan Rewrite(RewriteTarget target, RewriteOptions? options = null) =>
        new([new RuleStage("convert", RuleCatalog.ForTarget(target), Fixpoint: RuleCatalog.TargetRunsToFixpoint(target))], options);
}
