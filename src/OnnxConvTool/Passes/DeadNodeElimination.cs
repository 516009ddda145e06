using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Passes;

/// <summary>
/// Removes default-domain nodes none of whose outputs is read (by a node, a subgraph capturing it, or a graph
/// output), in every graph. Nodes are visited last to first, so a whole dead chain goes in one pass; the constants
/// only they used go with them. Other domains' nodes stay: they may act through side effects.
/// </summary>
internal sealed class DeadNodeElimination : IGraphPass
{
    public string Name => "dead-nodes";

    public PassResult Run(Model model, GraphRewriter rewriter)
    {
        int removed = 0;
        foreach (var graph in model.AllGraphs().ToArray())
        {
            if (graph.OwnerNode is { } owner && !IsLive(owner)) continue;
            var nodes = graph.Nodes;
            for (int i = nodes.Count - 1; i >= 0; i--)
            {
                var node = nodes[i];
                if (!node.IsOnnxDomain || !graph.Contains(node) || !node.Outputs.All(o => o.IsUnused)) continue;
                int before = rewriter.RemovedNodes.Count;
                rewriter.RemoveNode(node);
                removed += rewriter.RemovedNodes.Count - before;
            }
        }
        return new PassResult(Name, removed > 0, removed);
    }

    private static bool IsLive(Node node)
    {
        for (var n = node; n is not null; n = n.Graph.OwnerNode)
            if (!n.Graph.Contains(n)) return false;
        return true;
    }
}
