using OnnxConvTool.Ir;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Rules.Folds;

/// <summary>
/// Replaces <c>Conv(BatchNormalization(x))</c> with <c>Conv(x)</c>, its weight and bias recomputed, for a Conv without padding.
/// </summary>
/// <remarks>
/// <para>Algebra: inference BatchNormalization is <c>s·x + t</c> per input channel (<c>s = γ/√(σ² + ε)</c>,
/// <c>t = β − μ·s</c>). <c>Conv(s·x + t; W, b) = Conv(x; W·diag(s), b + W·t)</c>:
/// <c>W′[m, c′, k…] = W[m, c′, k…]·s[c]</c> and <c>b′[m] = b[m] + Σ_{c′,k} W[m, c′, k…]·t[c]</c>, where
/// c = gi·(C/g) + c′ is the input channel that output channel m's group gi reads. Padding would feed zeros
/// where the BatchNormalization fed t, so the Conv must not pad.</para>
/// <para>Preconditions, each failing with its own sentence:
/// (1) the Conv is in the default domain, its data input comes from a BatchNormalization in the same graph;
/// (2) the BatchNormalization's output has one consumer and is not a graph output;
/// (3) the BatchNormalization is in inference form (as for <see cref="FuseBatchNormIntoConv"/>);
/// (4) the Conv's weight and bias are constants no graph input can override, of one float type, and its geometry is valid;
/// (5) the BatchNormalization parameters are such constants of shape [C], variance + ε positive;
/// (6) the Conv does not pad (no bias folded across padding);
/// (7) the BatchNormalization's output type is the weight's type;
/// (8) every folded value is finite and fits the type.</para>
/// </remarks>
internal sealed class FuseBatchNormIntoNextConv : RewriteRule<ConvFoldMatch>
{
    public const string RuleId = "fuse-bn-into-next-conv";

    public override string Id => RuleId;

    public override string Summary => "Replaces Conv(BatchNormalization(x)) with Conv(x), weight and bias recomputed, when the Conv does not pad.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Conv"];

    public override bool IsCandidate(Node node) => node.OpType == "Conv";

    public override MatchResult<ConvFoldMatch> TryMatch(Node conv, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(conv) is { } domain) return MatchResult.Fail(domain);
        if (conv.Input(0)?.Producer is not { OpType: "BatchNormalization", IsOnnxDomain: true } bn)
            return MatchResult.Fail($"the input of '{conv.DisplayName}' does not come from a BatchNormalization");
        if (!ReferenceEquals(bn.Graph, conv.Graph)) return MatchResult.Fail($"'{bn.DisplayName}' is in another graph than '{conv.DisplayName}'");
        if (FusionGuards.SingleConsumer(bn.Outputs[0]) is { } shared) return MatchResult.Fail(shared);
        if (FusionGuards.InferenceBatchNorm(bn) is { } training) return MatchResult.Fail(training);
        if (ConvFold.TryRead(conv, context, out var foldable) is { } convProblem) return MatchResult.Fail(convProblem);
        if (ConvFold.TryReadBatchNorm(bn, context, foldable.InChannels, out var scale, out var shift) is { } bnProblem)
            return MatchResult.Fail(bnProblem);
        var geometry = ConvGeometry.Read(conv, new TensorShape(foldable.ElementType, foldable.WeightTensor.Dims.Select(Dim.Known).ToArray()));
        if (FusionGuards.NoBiasAcrossPadding(geometry, bn.DisplayName) is { } padded) return MatchResult.Fail(padded);
        if (context.ShapeOf(bn.Outputs[0]).ElementType is { } type
            && FusionGuards.SameElementType(foldable.ElementType, type, $"weight '{foldable.Weight.Name}'") is { } typeProblem)
            return MatchResult.Fail(typeProblem);
        if (ConvFold.FoldBefore(foldable, scale, shift, changesWeight: true, out var weight, out var bias) is { } storeProblem)
            return MatchResult.Fail(storeProblem);
        return new ConvFoldMatch(conv, bn, bn.Input(0), weight, bias, null,
            $"folded BatchNormalization '{bn.DisplayName}' into its input channels ({ConvFold.ChangeText(weight, bias, foldable.ElementType)})");
    }

    public override string Describe(ConvFoldMatch match) => match.Description;

    public override void Rewrite(ConvFoldMatch match, GraphRewriter rewriter) => ConvFold.Apply(match, rewriter);
}
