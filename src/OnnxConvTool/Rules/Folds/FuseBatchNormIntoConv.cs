using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules.Folds;

/// <summary>
/// Replaces <c>BatchNormalization(Conv(x))</c> (or of a ConvTranspose) with the Conv alone, its weight and bias recomputed.
/// </summary>
/// <remarks>
/// <para>Algebra: inference BatchNormalization is <c>y = s·z + t</c> per channel with <c>s = γ/√(σ² + ε)</c> and
/// <c>t = β − μ·s</c>. For <c>z = Conv(x; W, b)</c> this is <c>Conv(x; W′, b′)</c> with <c>W′ = W·s</c> per output
/// channel and <c>b′ = (b − μ)·s + β</c>. A Conv weight [M, C/g, k…] is scaled along axis 0; a ConvTranspose
/// weight [C, M/g, k…] along axis 1 within each group. Any kernel, group, dilation, stride, padding and
/// spatial rank: the map acts on the output, after every one of them. Computed in float64 from the original
/// constants, stored once rounded in the weight's type.</para>
/// <para>Preconditions, each failing with its own sentence:
/// (1) the BatchNormalization is in the default domain and in inference form (not training_mode, no used
/// running-statistics outputs; before opset 7 is_test = 1; before opset 9 spatial = 1);
/// (2) its input comes from a Conv or ConvTranspose in the same graph;
/// (3) that output has one consumer and is not a graph output;
/// (4) the Conv's weight and bias are constants no graph input can override, of one float type;
/// (5) scale, bias, mean and variance are such constants of shape [M], and variance + ε is positive;
/// (6) the BatchNormalization's output type is the weight's type;
/// (7) every folded value is finite and fits the type (float16 and bfloat16 overflow).</para>
/// </remarks>
internal sealed class FuseBatchNormIntoConv : RewriteRule<ConvFoldMatch>
{
    public const string RuleId = "fuse-bn-into-conv";

    public override string Id => RuleId;

    public override string Summary => "Replaces BatchNormalization(Conv(x)) or BatchNormalization(ConvTranspose(x)) with the Conv, weight and bias recomputed.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["BatchNormalization"];

    public override bool IsCandidate(Node node) => node.OpType == "BatchNormalization";

    public override MatchResult<ConvFoldMatch> TryMatch(Node bn, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(bn) is { } domain) return MatchResult.Fail(domain);
        if (FusionGuards.InferenceBatchNorm(bn) is { } training) return MatchResult.Fail(training);
        var producer = bn.Input(0)?.Producer;
        if (!ConvFold.IsConvOrTranspose(producer))
            return MatchResult.Fail($"the input of '{bn.DisplayName}' does not come from a Conv or ConvTranspose");
        var conv = producer!;
        if (ConvFold.OutputOnlyFeeds(conv, bn) is { } shared) return MatchResult.Fail(shared);
        if (ConvFold.TryRead(conv, context, out var foldable) is { } convProblem) return MatchResult.Fail(convProblem);
        if (ConvFold.TryReadBatchNorm(bn, context, foldable.OutChannels, out var scale, out var shift) is { } bnProblem)
            return MatchResult.Fail(bnProblem);
        if (context.ShapeOf(bn.Outputs[0]).ElementType is { } outputType
            && FusionGuards.SameElementType(foldable.ElementType, outputType, $"weight '{foldable.Weight.Name}'") is { } typeProblem)
            return MatchResult.Fail(typeProblem);
        if (ConvFold.FoldAfter(foldable, scale, shift, changesWeight: true, out var weight, out var bias) is { } storeProblem)
            return MatchResult.Fail(storeProblem);
        return new ConvFoldMatch(conv, bn, null, weight, bias, null,
            $"folded into {conv.OpType} '{conv.DisplayName}' ({ConvFold.ChangeText(weight, bias, foldable.ElementType)})");
    }

    public override string Describe(ConvFoldMatch match) => match.Description;

    public override void Rewrite(ConvFoldMatch match, GraphRewriter rewriter) => ConvFold.Apply(match, rewriter);
}
