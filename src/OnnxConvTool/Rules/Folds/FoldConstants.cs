using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules.Folds;

/// <summary>A node whose outputs are known ahead of time, and the values they take.</summary>
internal sealed record ConstantFoldMatch(Node Node, IReadOnlyList<Tensor> Outputs, double? DeviationUlps, string Description);

/// <summary>
/// Replaces a node whose inputs are all constants (or, for Shape and Size, whose input shape is statically known)
/// with initializers holding what it computes.
/// </summary>
/// <remarks>
/// <para>What ONNX Runtime's basic level does once per session (constant folding of shape arithmetic and of
/// constant slices, casts and concatenations) is done once in the file: Shape, Size, Gather, Unsqueeze, Squeeze,
/// Concat, Slice, Split, Reshape, Transpose, Cast, ConstantOfShape, Range, Add, Sub, Mul, Div, Equal and Not, with
/// the semantics of the model's opset (<see cref="ConstantEvaluator"/>), in every graph; a subgraph node reading
/// constants of an enclosing graph folds into an initializer of its own graph. The fixpoint driver offers the
/// readers of a folded value again, so whole constant chains fold.</para>
/// <para>Preconditions, each failing with its own sentence:
/// (1) the node is in the default domain and holds no subgraph;
/// (2) every input is a constant no graph input can override (an initializer listed as a graph input folds only
/// with <see cref="RewriteContext.FoldOverridableInitializers"/>), or for Shape and Size the input's shape is
/// proved by shape inference;
/// (3) no output is a graph output (it keeps the node that names it);
/// (4) the op's result is defined ahead of time for these inputs at this opset (no integer overflow, no
/// out-of-range index or cast, a supported element type);
/// (5) each output holds at most <see cref="MaxElements"/> elements, so a fold never inflates the model.</para>
/// </remarks>
internal sealed class FoldConstants : RewriteRule<ConstantFoldMatch>
{
    public const string RuleId = "fold-constants";

    /// <summary>The largest output, in elements, a fold writes as an initializer.</summary>
    public const long MaxElements = 1 << 20;

    public override string Id => RuleId;

    public override string Summary => "Replaces a node computed from constants (or from a statically known shape) with an initializer holding its result.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ConstantEvaluator.OpTypes.ToArray();

    /// <summary>
    /// An op it evaluates whose inputs are all initializers or <c>Constant</c> outputs (any input for Shape and Size):
    /// nodes reading run-time values are not candidates, so <c>--explain</c> lists only constants it could not fold.
    /// </summary>
    public override bool IsCandidate(Node node) =>
        ConstantEvaluator.OpTypes.Contains(node.OpType)
        && (node.OpType is "Shape" or "Size" || node.Inputs.All(i => i is null || i.IsInitializer || i.Producer is { OpType: "Constant" }));

    public override MatchResult<ConstantFoldMatch> TryMatch(Node node, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(node) is { } domain) return MatchResult.Fail(domain);
        if (node.HasSubgraphs) return MatchResult.Fail($"'{node.DisplayName}' holds a subgraph");
        bool shapeOnly = node.OpType is "Shape" or "Size";
        string? notConstant = null;
        var constants = new Dictionary<Value, ConstantTensor?>(ReferenceEqualityComparer.Instance);
        foreach (var input in node.Inputs)
        {
            if (input is null || constants.ContainsKey(input)) continue;
            if (FusionGuards.FoldableConstant(input, "input", context, out var tensor) is { } reason)
            {
                if (!shapeOnly) return MatchResult.Fail(reason);
                notConstant = reason;
                constants[input] = null;
                continue;
            }
            constants[input] = Decoded(tensor);
            if (constants[input] is null && !shapeOnly)
                return MatchResult.Fail($"the input '{input.Name}' is {ElementTypes.Name(tensor.ElementType)}, which is not evaluated ahead of time");
        }
        foreach (var output in node.Outputs)
            if (output.IsGraphOutput) return MatchResult.Fail($"'{output.Name}' is a graph output, so the node that names it stays");

        long[]? StaticDims(Value value)
        {
            if (constants.TryGetValue(value, out var known) && known is not null) return known.Dims;
            if (FusionGuards.FoldableConstant(value, "input", context, out var tensor) is null) return tensor.Dims.ToArray();
            var shape = context.InferredShapeOf(value);
            return shape.IsFullyKnown ? shape.Dims!.Select(d => d.Value!.Value).ToArray() : null;
        }

        ConstantResult result;
        try
        {
            result = new ConstantEvaluator(node, context.Opset, v => constants.GetValueOrDefault(v), StaticDims, MaxElements).Evaluate();
        }
        catch (ConstantRefusal refusal)
        {
            return MatchResult.Fail(notConstant is not null && refusal.Message.Contains("not known ahead of time", StringComparison.Ordinal)
                ? $"{refusal.Message} ({notConstant})" : refusal.Message);
        }
        if (result.Outputs.Count != node.Outputs.Count)
            return MatchResult.Fail($"'{node.DisplayName}' has {node.Outputs.Count} outputs but computes {result.Outputs.Count}");
        var tensors = result.Outputs.Select((t, i) => t.ToTensor(node.Outputs[i].Name)).ToArray();
        string described = string.Join(", ", tensors.Select(t => $"{ElementTypes.Name(t.ElementType)}{t.FormatDims()}"));
        return new ConstantFoldMatch(node, tensors, result.DeviationUlps, $"{node.OpType} evaluated ahead of time into {described}");
    }

    public override void Rewrite(ConstantFoldMatch match, GraphRewriter rewriter)
    {
        var node = match.Node;
        var home = HomeGraph(node);
        for (int i = 0; i < node.Outputs.Count; i++)
        {
            var output = node.Outputs[i];
            if (FindEqual(home, match.Outputs[i]) is { } existing)
            {
                rewriter.ReplaceAllUsesWith(output, existing, keepName: false);
                continue;
            }
            var folded = home.AddInitializer(match.Outputs[i]);
            Remember(folded);
            rewriter.ReplaceAllUsesWith(output, folded, keepName: true);
        }
        rewriter.RemoveNode(node);
        if (match.DeviationUlps is { } ulps) rewriter.ReportDeviationUlps(ulps);
    }

    /// <summary>
    /// Where the folded values go: the innermost graph defining an input other than a small Constant node (index
    /// lists, axes), so sibling subgraphs that slice the same outer weight the same way share one result instead
    /// of each storing a copy. The node's own graph when it reads nothing else.
    /// </summary>
    private static Graph HomeGraph(Node node)
    {
        Graph? home = null;
        foreach (var input in node.Inputs)
        {
            if (input is null || input.Producer is { OpType: "Constant" } && Model.TryGetConstant(input) is { ElementCount: <= SmallConstant }) continue;
            if (home is null || input.Graph.Depth > home.Depth) home = input.Graph;
        }
        return home ?? node.Graph;
    }

    private const long SmallConstant = 64;

    /// <summary>Constants decoded once per run: a weight many slices read is decoded once, not once per slice and visit.</summary>
    private readonly Dictionary<Onnx.TensorProto, ConstantTensor?> _decoded = new(ReferenceEqualityComparer.Instance);

    private ConstantTensor? Decoded(Tensor tensor)
    {
        if (!_decoded.TryGetValue(tensor.Proto, out var decoded)) _decoded[tensor.Proto] = decoded = ConstantTensor.From(tensor);
        return decoded;
    }

    private readonly Dictionary<(Graph Graph, int Type, string Dims, int Hash), List<Value>> _folded = [];

    private static (Graph, int, string, int) KeyOf(Graph graph, Tensor tensor)
    {
        var hash = new HashCode();
        hash.AddBytes(tensor.GetRawBytes().Span);
        return (graph, (int)tensor.ElementType, tensor.FormatDims(), hash.ToHashCode());
    }

    private void Remember(Value value)
    {
        var key = KeyOf(value.Graph, value.Initializer!);
        if (!_folded.TryGetValue(key, out var list)) _folded[key] = list = [];
        list.Add(value);
    }

    /// <summary>An initializer this run folded earlier into <paramref name="graph"/> with the same type, dims and bytes, still in the graph.</summary>
    private Value? FindEqual(Graph graph, Tensor tensor)
    {
        if (!_folded.TryGetValue(KeyOf(graph, tensor), out var list)) return null;
        var bytes = tensor.GetRawBytes().Span;
        foreach (var value in list)
            if (value.Initializer is { } existing && ReferenceEquals(graph.Find(value.Name), value) && existing.GetRawBytes().Span.SequenceEqual(bytes))
                return value;
        return null;
    }

    public override string Describe(ConstantFoldMatch match) => match.Description;
}
