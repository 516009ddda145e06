using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Passes;

/// <summary>A whole-model clean-up step. Every change goes through the <see cref="GraphRewriter"/>, which records renames.</summary>
internal interface IGraphPass
{
    /// <summary>Stable kebab-case name shown in reports, e.g. <c>dead-nodes</c>.</summary>
    string Name { get; }

    PassResult Run(Model model, GraphRewriter rewriter);
}

/// <summary>What one run of a pass did: whether it changed the model, and how many nodes or initializers it removed.</summary>
internal sealed record PassResult(string Pass, bool Modified, int Removed)
{
    public static PassResult Unchanged(string pass) => new(pass, false, 0);
}

/// <summary>What the <see cref="PassManager"/> did: removals per pass over every round, and the rounds it took.</summary>
public sealed record PassManagerResult(IReadOnlyDictionary<string, int> RemovedByPass, int Rounds, bool RoundCapReached)
{
    /// <summary>True when any pass removed something.</summary>
    public bool Modified => RemovedByPass.Values.Any(n => n > 0);
}

/// <summary>
/// Runs passes in order, round after round, until a round changes nothing (a fixpoint) or <see cref="MaxRounds"/>
/// rounds ran. Each pass is linear in the model's size, so a run is too (times the rounds, usually two).
/// </summary>
internal sealed class PassManager(IReadOnlyList<IGraphPass> passes, int maxRounds = 8)
{
    /// <summary>The clean-up passes <c>optimize</c> runs: Identity elimination, dead nodes, unused initializers.</summary>
    public static PassManager CleanUp() => new([new IdentityElimination(), new DeadNodeElimination(), new UnusedInitializerElimination()]);

    public int MaxRounds => maxRounds;

    public PassManagerResult Run(Model model, GraphRewriter rewriter, CancellationToken cancellation = default)
    {
        var removed = passes.ToDictionary(p => p.Name, _ => 0, StringComparer.Ordinal);
        for (int round = 1; round <= maxRounds; round++)
        {
            bool modified = false;
            foreach (var pass in passes)
            {
                cancellation.ThrowIfCancellationRequested();
                var result = pass.Run(model, rewriter);
                removed[pass.Name] += result.Removed;
                modified |= result.Modified;
            }
            if (!modified) return new PassManagerResult(removed, round, false);
        }
        return new PassManagerResult(removed, maxRounds, true);
    }
}
