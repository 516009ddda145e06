using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Passes;

/// <summary>
/// Removes default-domain <c>Identity</c> nodes by pointing their readers at the Identity's input. An Identity stays
/// when removing it would change the model's interface or scoping:
/// 1. its output is a graph output and its input is a graph input, an initializer, another graph output, or a value of
///    an enclosing graph (a subgraph returning a captured value needs the Identity to name its output);
/// 2. a reader sits in a subgraph that defines a value of the input's name, which would shadow the input there.
/// When the output is a graph output, the input takes over its name, so the interface keeps its names.
/// </summary>
internal sealed class IdentityElimination : IGraphPass
{
    public string Name => "identity";

    public PassResult Run(Model model, GraphRewriter rewriter)
    {
        int removed = 0;
        foreach (var graph in model.AllGraphs().ToArray())
            foreach (var node in graph.Nodes)
            {
                if (node is not { OpType: "Identity", IsOnnxDomain: true } || !graph.Contains(node)) continue;
                if (node.Input(0) is not { } input || node.Outputs.Count != 1 || !CanBypass(node, input, node.Outputs[0])) continue;
                var output = node.Outputs[0];
                rewriter.ReplaceAllUsesWith(output, input, keepName: output.IsGraphOutput);
                rewriter.RemoveNode(node);
                removed++;
            }
        return new PassResult(Name, removed > 0, removed);
    }

    private static bool CanBypass(Node identity, Value input, Value output)
    {
        if (output.IsGraphOutput &&
            (input.IsGraphInput || input.IsInitializer || input.IsGraphOutput || !ReferenceEquals(input.Graph, identity.Graph)))
            return false;
        foreach (var use in output.Uses)
            if (!ReferenceEquals(use.Node.Graph.Resolve(input.Name), input)) return false;
        return true;
    }
}
