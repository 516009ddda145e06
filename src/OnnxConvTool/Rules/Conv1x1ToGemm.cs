using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules;

/// <summary>A 1x1 Conv matched for Gemm, or, when Gemm does not fit, its MatMul match and the reason.</summary>
internal sealed record Conv1x1GemmMatch(Conv1x1Match Conv, bool UseGemm, string? WhyNotGemm);

/// <summary>
/// Replaces a 1x1 Conv on a 1×1 spatial map with <c>Gemm(Flatten(X), W, B, transB=1)</c>; elsewhere falls back
/// to <see cref="Conv1x1ToMatMul"/>.
/// </summary>
/// <remarks>
/// <para>Algebra: with every spatial dim 1, X [N,C,1..1] is the matrix [N,C] and
/// <c>Y[n,m] = Σ_c X[n,c]·W[m,c] + B[m]</c> = <c>X·Wᵀ + B</c>: a Gemm with transB and the bias folded into C,
/// reshaped back to [N,M,1..1]. This is the squeeze-excitation and classifier-head case (after a global pool).</para>
/// <para>Gemm preconditions, each with its sentence (otherwise the MatMul form is used):
/// (1) group is 1; (2) no explicit padding; (3) every spatial dim of the input is known to be 1 (inferred from
/// the inputs and the ops' rules — a declared value_info alone is not proof — or produced by a global pool or a
/// keep-dims mean over each spatial axis once, through activations and a PRelu whose slope keeps them 1); (4) the weight is a constant;
/// (5) before opset 11 Gemm needs a bias (C is required). All of
/// <see cref="Conv1x1ToMatMul"/>'s preconditions apply first.</para>
/// </remarks>
internal sealed class Conv1x1ToGemm : RewriteRule<Conv1x1GemmMatch>
{
    public const string RuleId = "conv1x1-to-gemm";

    private readonly Conv1x1ToMatMul _matMul = new();

    public override string Id => RuleId;

    public override string Summary => "Replaces a 1x1 Conv on a 1x1 spatial map with Gemm (bias in C, transB); elsewhere with MatMul.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Conv"];

    public override bool IsCandidate(Node node) => node.OpType == "Conv";

    public override MatchResult<Conv1x1GemmMatch> TryMatch(Node conv, RewriteContext context)
    {
        var matched = _matMul.TryMatch(conv, context);
        if (!matched.Succeeded) return MatchResult.Fail(matched.FailureReason!);
        var m = matched.Match!;
        string? whyNot = WhyNotGemm(m, context);
        if (whyNot is null && OpsetVersion.WhyCannotEmit("Gemm", m.ElementType, context.Opset) is { } typeProblem) whyNot = typeProblem;
        return new Conv1x1GemmMatch(m, whyNot is null, whyNot);
    }

    private static string? WhyNotGemm(Conv1x1Match m, RewriteContext context)
    {
        if (m.Geometry.Group != 1) return $"group is {m.Geometry.Group}";
        if (m.Pads is not null) return "the Conv pads its input";
        if (!SpatialIsOne(m.Input, m.Geometry.SpatialRank, context))
            return context.ShapeOf(m.Input).Dims is { } declared && declared.Count == m.Geometry.SpatialRank + 2 && declared.Skip(2).All(d => d.Value == 1)
                ? $"the spatial map of '{m.Input.Name}' is declared 1x1 (value_info) but inference cannot confirm it"
                : context.InferredShapeOf(m.Input).Dims is { } dims && dims.Count == m.Geometry.SpatialRank + 2
                ? dims.Skip(2).All(d => d.IsKnown)
                    ? $"the spatial map of '{m.Input.Name}' is {string.Join("x", dims.Skip(2))}, not 1x1"
                    : $"the spatial map of '{m.Input.Name}' is [{string.Join(", ", dims.Skip(2))}], not known to be 1x1"
                : $"the spatial map of '{m.Input.Name}' is not known to be 1x1";
        if (m.WeightConstant is null) return $"the weight '{m.Weight.Name}' is not a constant";
        if (m.Bias is null && context.Opset < 11) return $"Gemm needs a bias before opset 11 and the Conv has none";
        return null;
    }

    private static readonly HashSet<string> ShapePreservingUnaryOps = new(StringComparer.Ordinal)
    {
        "Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Clip", "LeakyRelu", "Tanh", "Identity", "Elu", "Selu", "Softplus", "PRelu", "Neg", "Abs",
    };

    /// <summary>
    /// Every spatial dim is 1: declared so, or produced by a global pool, a keep-dims spatial mean, or a Reshape to
    /// a constant shape ending in ones (such as an earlier Gemm rewrite), through shape-preserving activations.
    /// </summary>
    private static bool SpatialIsOne(Value input, int k, RewriteContext context)
    {
        var value = input;
        for (int depth = 0; depth < 16; depth++)
        {
            if (context.InferredShapeOf(value).Dims is { } dims && dims.Count == k + 2 && dims.Skip(2).All(d => d.Value == 1)) return true;
            if (value.Producer is not { IsOnnxDomain: true } producer) return false;
            switch (producer.OpType)
            {
                case "GlobalAveragePool" or "GlobalMaxPool" or "GlobalLpPool":
                    return true;
                case "ReduceMean" or "ReduceMax" when producer.GetInt("keepdims", 1) == 1:
                    if (AttrOrInput.ReduceAxes(producer).Values is not { } axes) return false;
                    var spatial = Enumerable.Range(2, k).Select(a => (long)a).ToHashSet();
                    var negative = Enumerable.Range(-k, k).Select(a => (long)a).ToHashSet();
                    return axes.Length == k && axes.Distinct().Count() == k && (axes.All(spatial.Contains) || axes.All(negative.Contains));
                case "Reshape":
                    return AttrOrInput.ReshapeShape(producer).Values is { } shape && shape.Length == k + 2 && shape.Skip(2).All(d => d == 1);
                case var op when ShapePreservingUnaryOps.Contains(op) && producer.Input(0) is { } source:
                    if (op == "PRelu" && !SlopeKeepsSpatialOnes(producer.Input(1), k, context)) return false;
                    value = source;
                    continue;
                default:
                    return false;
            }
        }
        return false;
    }

    /// <summary>
    /// A PRelu slope broadcasts against X [N,C,s1..sk] from the right: the spatial dims stay 1 only when the
    /// slope's rank is at most k+2 and every slope dim that lines up with a spatial axis is 1.
    /// </summary>
    private static bool SlopeKeepsSpatialOnes(Value? slope, int k, RewriteContext context)
    {
        if (slope is null || context.InferredShapeOf(slope).Dims is not { } dims || dims.Count > k + 2) return false;
        for (int j = 0; j < dims.Count; j++)
        {
            int axis = k + 2 - dims.Count + j;
            if (axis >= 2 && dims[j].Value != 1) return false;
        }
        return true;
    }

    public override string Describe(Conv1x1GemmMatch match) =>
        match.UseGemm
            ? $"Gemm with a [{match.Conv.OutChannels},{match.Conv.InChannelsPerGroup}] weight (transB){(match.Conv.Bias is null ? "" : ", bias in C")}"
            : $"{_matMul.Describe(match.Conv)} (MatMul form: {match.WhyNotGemm})";

    public override void Rewrite(Conv1x1GemmMatch match, GraphRewriter rewriter)
    {
        if (!match.UseGemm)
        {
            _matMul.Rewrite(match.Conv, rewriter);
            return;
        }
        var m = match.Conv;
        var ops = rewriter.BuilderBefore(m.Conv);
        int k = m.Geometry.SpatialRank;
        var weight = ops.Constant(WeightMath.Reshaped(m.WeightConstant!, [m.OutChannels, m.InChannelsPerGroup], m.Weight.Name + "_gemm"));
        var y = ops.Gemm(ops.Flatten(m.Input, 1), weight, m.Bias, transB: true);
        y = ops.Reshape(y, [0, m.OutChannels, .. Enumerable.Repeat(1L, k)]);
        rewriter.ReplaceAllUsesWith(m.Conv.Outputs[0], y, keepName: true);
        rewriter.RemoveNode(m.Conv);
    }
}
