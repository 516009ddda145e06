using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Passes;

/// <summary>
/// Removes initializers nothing reads. An initializer that is also a graph input (IR &lt; 4) is part of the model's
/// interface and stays; so does one listed as a graph output. Unused <c>Constant</c> nodes go with
/// <see cref="DeadNodeElimination"/>.
/// </summary>
internal sealed class UnusedInitializerElimination : IGraphPass
{
    public string Name => "unused-initializers";

    public PassResult Run(Model model, GraphRewriter rewriter)
    {
        int removed = 0;
        foreach (var graph in model.AllGraphs().ToArray())
            foreach (var value in graph.Initializers)
            {
                if (!value.IsUnused || value.IsGraphInput) continue;
                graph.RemoveInitializer(value);
                removed++;
            }
        return new PassResult(Name, removed > 0, removed);
    }
}
