using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Rules.Folds;

/// <summary>
/// Replaces a Mul, Div, Add or Sub by a per-channel constant after a Conv or ConvTranspose (or a Mul, Div, Add or
/// Sub before a Conv) with the Conv alone, its weight and bias recomputed.
/// </summary>
/// <remarks>
/// <para>Algebra: each op with a constant c is a per-channel affine map <c>z ↦ a·z + d</c>: <c>z·c</c> and <c>c·z</c>
/// (a = c), <c>z / c</c> (a = 1/c), <c>z + c</c> and <c>c + z</c> (d = c), <c>z − c</c> (d = −c), <c>c − z</c> (a = −1,
/// d = c). After the Conv, <c>a·Conv(x; W, b) + d = Conv(x; W·a, a·b + d)</c> per output channel (a ConvTranspose
/// weight [C, M/g, k…] is scaled along axis 1 per group). Before a Conv, <c>Conv(a·x + d; W, b) =
/// Conv(x; W·diag(a), b + W·d)</c> per input channel, which needs a Conv that does not pad when d ≠ 0 (padding
/// would feed zeros where the op fed d). c must be the same along every axis but the channel axis 1: a scalar
/// of any rank ([], [1], [1,1,1,1]) or [M,1,1] / [1,M,1,1]; a [M] constant broadcasts along the last axis.</para>
/// <para>Preconditions, each failing with its own sentence:
/// (1) the ops are in the default domain, the model imports opset 7 or newer (numpy broadcasting);
/// (2) one operand comes from a Conv or ConvTranspose (after) or feeds a Conv (before), the other is a
/// constant no graph input can override;
/// (3) the swallowed value has one consumer and is not a graph output;
/// (4) the Conv's weight and bias are such constants of one float type, equal to the constant's type;
/// (5) the constant broadcasts along the channel axis only and does not change the result's shape (its
/// rank is at most the Conv's; before a Conv, the data already has the Conv input's rank and channels);
/// (6) the op is affine in the Conv's output (not <c>c / z</c>);
/// (7) before a Conv, a shift needs a Conv without padding;
/// (8) every folded value is finite and fits the type.</para>
/// </remarks>
internal sealed class FuseAffineIntoConv : RewriteRule<ConvFoldMatch>
{
    public const string RuleId = "fuse-affine-into-conv";

    public override string Id => RuleId;

    public override string Summary => "Replaces Mul, Div, Add or Sub by a per-channel constant after a Conv or ConvTranspose, or before a Conv, with the Conv, weight and bias recomputed.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Mul", "Div", "Add", "Sub", "Conv"];

    public override bool IsCandidate(Node node) => node.OpType is "Mul" or "Div" or "Add" or "Sub" or "Conv";

    public override MatchResult<ConvFoldMatch> TryMatch(Node node, RewriteContext context) =>
        node.OpType == "Conv" ? MatchBefore(node, context) : MatchAfter(node, context);

    private static MatchResult<ConvFoldMatch> MatchAfter(Node op, RewriteContext context)
    {
        if (CheckOp(op, context) is { } opProblem) return MatchResult.Fail(opProblem);
        int convIndex = ConvFold.IsConvOrTranspose(op.Inputs[0]!.Producer) && IsConstantLike(op.Inputs[1]!) ? 0
            : ConvFold.IsConvOrTranspose(op.Inputs[1]!.Producer) && IsConstantLike(op.Inputs[0]!) ? 1
            : ConvFold.IsConvOrTranspose(op.Inputs[0]!.Producer) ? 0
            : ConvFold.IsConvOrTranspose(op.Inputs[1]!.Producer) ? 1 : -1;
        if (convIndex < 0) return MatchResult.Fail($"neither input of '{op.DisplayName}' comes from a Conv or ConvTranspose");
        var conv = op.Inputs[convIndex]!.Producer!;
        var constant = op.Inputs[1 - convIndex]!;
        if (ConvFold.OutputOnlyFeeds(conv, op) is { } shared) return MatchResult.Fail(shared);
        if (ConvFold.TryRead(conv, context, out var foldable) is { } convProblem) return MatchResult.Fail(convProblem);
        if (ReadConstant(constant, foldable, foldable.OutChannels, context, out var c, out string shape) is { } constantProblem)
            return MatchResult.Fail(constantProblem);
        if (AffineOf(op, convIndex, c, out var scale, out var shift) is { } notAffine) return MatchResult.Fail(notAffine);
        bool changesWeight = scale.Any(a => a != 1);
        if (ConvFold.FoldAfter(foldable, scale, shift, changesWeight, out var weight, out var bias) is { } storeProblem)
            return MatchResult.Fail(storeProblem);
        return new ConvFoldMatch(conv, op, null, weight, bias, null,
            $"folded {op.OpType} by {shape} '{constant.Name}' into {conv.OpType} '{conv.DisplayName}' ({ConvFold.ChangeText(weight, bias, foldable.ElementType)})");
    }

    private static MatchResult<ConvFoldMatch> MatchBefore(Node conv, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(conv) is { } domain) return MatchResult.Fail(domain);
        if (conv.Input(0)?.Producer is not { OpType: "Mul" or "Div" or "Add" or "Sub" } op)
            return MatchResult.Fail($"the input of '{conv.DisplayName}' does not come from a Mul, Div, Add or Sub");
        if (CheckOp(op, context) is { } opProblem) return MatchResult.Fail(opProblem);
        if (!ReferenceEquals(op.Graph, conv.Graph)) return MatchResult.Fail($"'{op.DisplayName}' is in another graph than '{conv.DisplayName}'");
        int dataIndex = IsConstantLike(op.Inputs[1]!) ? 0 : IsConstantLike(op.Inputs[0]!) ? 1 : 0;
        var data = op.Inputs[dataIndex]!;
        var constant = op.Inputs[1 - dataIndex]!;
        if (FusionGuards.SingleConsumer(op.Outputs[0]) is { } shared) return MatchResult.Fail(shared);
        if (ConvFold.TryRead(conv, context, out var foldable) is { } convProblem) return MatchResult.Fail(convProblem);
        if (ReadConstant(constant, foldable, foldable.InChannels, context, out var c, out string shape) is { } constantProblem)
            return MatchResult.Fail(constantProblem);
        var dataShape = context.ShapeOf(data);
        if (dataShape.Rank != foldable.Rank)
            return MatchResult.Fail($"'{data.Name}' has {(dataShape.Rank is { } r ? $"rank {r}" : "an unknown rank")}, not the rank {foldable.Rank} of the Conv's input, so '{op.DisplayName}' may broadcast it");
        if (c.Length > 1 && dataShape.Dims![1].Value != foldable.InChannels)
            return MatchResult.Fail($"'{data.Name}' does not have {foldable.InChannels} channels statically, so '{op.DisplayName}' may broadcast it");
        if (AffineOf(op, dataIndex, c, out var scale, out var shift) is { } notAffine) return MatchResult.Fail(notAffine);
        if (shift.Any(d => d != 0))
        {
            var geometry = ConvGeometry.Read(conv, new TensorShape(foldable.ElementType, foldable.WeightTensor.Dims.Select(Dim.Known).ToArray()));
            if (FusionGuards.NoBiasAcrossPadding(geometry, constant.Name) is { } padded) return MatchResult.Fail(padded);
        }
        bool changesWeight = scale.Any(a => a != 1);
        if (ConvFold.FoldBefore(foldable, scale, shift, changesWeight, out var weight, out var bias) is { } storeProblem)
            return MatchResult.Fail(storeProblem);
        return new ConvFoldMatch(conv, op, data, weight, bias, null,
            $"folded {op.OpType} by {shape} '{constant.Name}' into its input channels ({ConvFold.ChangeText(weight, bias, foldable.ElementType)})");
    }

    private static string? CheckOp(Node op, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(op) is { } domain) return domain;
        if (op.Inputs.Count != 2 || op.Inputs.Any(i => i is null) || op.Outputs.Count != 1)
            return $"'{op.DisplayName}' does not have two inputs and one output";
        if (context.Opset < 7)
            return $"the model imports opset {context.Opset}; before opset 7 {op.OpType} broadcasts through its 'broadcast' and 'axis' attributes, which this rule does not read";
        return null;
    }

    private static bool IsConstantLike(Value value) => value.Initializer is not null || Model.TryGetConstant(value) is not null;

    /// <summary>The constant's per-channel values over <paramref name="channels"/> channels (axis 1 of the Conv's rank).</summary>
    private static string? ReadConstant(Value constant, FoldableConv conv, long channels, RewriteContext context, out double[] values, out string shape)
    {
        values = [];
        shape = "";
        if (FusionGuards.FoldableConstant(constant, "constant", context, out var tensor) is { } notConstant) return notConstant;
        shape = tensor.FormatDims();
        if (FusionGuards.SameElementType(tensor.ElementType, conv.ElementType, $"constant '{constant.Name}'") is { } typeProblem) return typeProblem;
        var perChannel = WeightMath.PerChannel(tensor.Dims, tensor.ToDoubleArray(), conv.Rank, 1, channels, out string? reason);
        if (perChannel is null) return $"'{constant.Name}': {reason}";
        values = perChannel;
        return null;
    }

    /// <summary><c>op(z, c)</c> (z at <paramref name="dataIndex"/>) as <c>a·z + d</c> per channel; null on success.</summary>
    private static string? AffineOf(Node op, int dataIndex, double[] c, out double[] scale, out double[] shift)
    {
        int n = c.Length;
        scale = Enumerable.Repeat(1.0, n).ToArray();
        shift = new double[n];
        switch (op.OpType)
        {
            case "Mul":
                scale = c;
                break;
            case "Div" when dataIndex == 0:
                scale = c.Select(v => 1 / v).ToArray();
                break;
            case "Div":
                scale = [];
                return $"'{op.DisplayName}' divides a constant by the convolution's values, which is not affine";
            case "Add":
                shift = c;
                break;
            case "Sub" when dataIndex == 0:
                shift = c.Select(v => -v).ToArray();
                break;
            default:
                scale = Enumerable.Repeat(-1.0, n).ToArray();
                shift = c;
                break;
        }
        return null;
    }

    public override string Describe(ConvFoldMatch match) => match.Description;

    public override void Rewrite(ConvFoldMatch match, GraphRewriter rewriter) => ConvFold.Apply(match, rewriter);
}
