using OnnxConvTool.Ir;
using OnnxConvTool.Passes;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Pipeline;

/// <summary>One stage of a transform, run in order on the model.</summary>
public abstract record TransformStage(string Name);

/// <summary>Rules run by the <see cref="RewriteDriver"/>: to a fixpoint, or one sweep.</summary>
internal sealed record RuleStage(string Name, IReadOnlyList<IRewriteRule> Rules, bool Fixpoint) : TransformStage(Name);

/// <summary>Clean-up passes run by a <see cref="PassManager"/> to their own fixpoint.</summary>
internal sealed record PassStage(string Name, PassManager Passes) : TransformStage(Name);

/// <summary>The stages to run and the options every rule stage shares (node selection, self-checks, visit cap).</summary>
public sealed record TransformPlan(IReadOnlyList<TransformStage> Stages, RewriteOptions? Options = null);

/// <summary>What one stage did: a rule stage's <see cref="RewriteResult"/> or a pass stage's <see cref="PassManagerResult"/>.</summary>
public sealed record StageResult(string Name, RewriteResult? Rewrite, PassManagerResult? Passes)
{
    /// <summary>True when the stage changed the model.</summary>
    public bool Modified => Rewrite?.Modified == true || Passes?.Modified == true;
}

/// <summary>Everything a transform did, with the value-name map and the created nodes of all stages together.</summary>
public sealed record TransformResult(IReadOnlyList<StageResult> Stages, IReadOnlyDictionary<string, string> ValueNameMap,
    IReadOnlyList<CreatedNode> CreatedNodes)
{
    /// <summary>True when any stage changed the model.</summary>
    public bool Modified => Stages.Any(s => s.Modified);

    /// <summary>Every candidate outcome of every rule stage, in stage order.</summary>
    public IEnumerable<CandidateOutcome> Outcomes => Stages.Where(s => s.Rewrite is not null).SelectMany(s => s.Rewrite!.Outcomes);

    /// <summary>A rule stage whose fixpoint stopped at the visit cap, or null.</summary>
    public StageResult? CappedStage => Stages.FirstOrDefault(s => s.Rewrite?.VisitCapReached == true);
}

/// <summary>Runs a <see cref="TransformPlan"/> on a model in memory; no file, no ONNX Runtime.</summary>
public static class ModelTransformer
{
    /// <exception cref="InvalidOperationException">A stage left the model invalid (a bug in a rule or pass).</exception>
    /// <param name="progress">Told as each stage starts.</param>
    /// <summary>Runs every stage of <paramref name="plan"/> in order on <paramref name="model"/>, which it changes in place.</summary>
    /// <param name="model">The model to transform.</param>
    /// <param name="plan">The stages to run.</param>
    /// <param name="cancellation">Checked between stages and inside rule and pass runs.</param>
    public static TransformResult Run(Model model, TransformPlan plan, CancellationToken cancellation = default, IProgress<WorkProgress>? progress = null)
    {
        var options = plan.Options ?? new RewriteOptions();
        var stages = new List<StageResult>();
        var nameMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var created = new List<CreatedNode>();
        foreach (var stage in plan.Stages)
        {
            cancellation.ThrowIfCancellationRequested();
            progress?.Report(new WorkProgress($"{stage.Name} stage", stages.Count, plan.Stages.Count));
            switch (stage)
            {
                case RuleStage rules:
                    var rewrite = RewriteDriver.Run(model, rules.Rules, options with { Fixpoint = rules.Fixpoint }, cancellation);
                    Compose(nameMap, rewrite.ValueNameMap);
                    created.AddRange(rewrite.CreatedNodes);
                    stages.Add(new StageResult(stage.Name, rewrite, null));
                    break;
                case PassStage passes:
                    var rewriter = new GraphRewriter(model);
                    var result = passes.Passes.Run(model, rewriter, cancellation);
                    Compose(nameMap, rewriter.ValueNameMap);
                    if (result.Modified) ThrowIfInvalid(model, $"the {stage.Name} passes");
                    stages.Add(new StageResult(stage.Name, null, result));
                    break;
                default:
                    throw new ArgumentException($"unknown stage type {stage.GetType().Name}", nameof(plan));
            }
        }
        return new TransformResult(stages, nameMap, StillPresent(model, created));
    }

    /// <summary>Appends the renames of a later stage: a name that moved twice maps straight to where it ended.</summary>
    private static void Compose(Dictionary<string, string> map, IReadOnlyDictionary<string, string> later)
    {
        if (later.Count == 0) return;
        foreach (var key in map.Keys.ToArray())
            if (later.TryGetValue(map[key], out var moved)) map[key] = moved;
        foreach (var (from, to) in later) map.TryAdd(from, to);
    }

    private static IReadOnlyList<CreatedNode> StillPresent(Model model, List<CreatedNode> created)
    {
        if (created.Count == 0) return [];
        var present = new HashSet<(string, string)>();
        foreach (var graph in model.AllGraphs())
            foreach (var node in graph.Nodes) present.Add((graph.Path, node.DisplayName));
        return created.Where(c => present.Contains((c.GraphPath, c.NodeName))).Distinct().ToArray();
    }

    private static void ThrowIfInvalid(Model model, string what)
    {
        var problems = GraphValidator.Validate(model);
        if (problems.Count > 0) throw new InvalidOperationException($"{what} left the model invalid: {problems[0]}");
    }
}
