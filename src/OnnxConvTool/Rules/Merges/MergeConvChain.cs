using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules.Merges;

/// <summary>Which side of a merged chain is the 1x1 convolution.</summary>
internal enum ChainShape
{
    /// <summary>Any convolution, then a 1x1 one: the merged Conv keeps the first's geometry (strides multiplied).</summary>
    PointwiseAfter,
    /// <summary>A 1x1 convolution, then a k×k one: the merged Conv keeps the second's geometry.</summary>
    PointwiseBefore,
}

/// <summary>
/// A matched chain: the two convolutions, the merged weight's dims, the merged weight and bias (left out, as null, by a
/// preview that proved them representable: <see cref="RewriteContext.PreviewOnly"/>), and what the merge costs.
/// </summary>
internal sealed record ConvChainMatch(Node First, Node Second, ChainShape Shape, long Group, long[] Strides, long[] WeightDims, RoundedTensor? Weight,
    RoundedTensor? Bias, MergeCost Cost);

/// <summary>
/// Replaces two convolutions in a row, one of them 1x1, with one convolution.
/// </summary>
/// <remarks>
/// <para>Algebra: convolution is linear in its input. A 1x1 convolution after any convolution mixes its output
/// channels: <c>W[m, c, k] = Σⱼ W₂[m, j]·W₁[j, c, k]</c>, <c>b = W₂·b₁ + b₂</c>, with the first's kernel, pads and
/// dilations, and strides s₁·s₂ (picking every s₂-th output of a stride-s₁ convolution is a stride-s₁s₂
/// convolution: ⌊⌊a/s₁⌋/s₂⌋ = ⌊a/(s₁s₂)⌋). A k×k convolution after a 1x1 one sees the first's output through its
/// kernel: <c>W[m, c, k] = Σⱼ W₂[m, j, k]·W₁[j, c]</c>, <c>b = b₂ + Σⱼ,ₖ W₂[m, j, k]·b₁[j]</c>, with the second's
/// geometry; exact only when the second pads nothing or the first has no bias (padded zeros would otherwise miss
/// b₁). Groups compose block by block when equal; with one side dense the merged Conv is dense.</para>
/// <para>Preconditions, each with its sentence: (1) the second's input comes from a Conv in the default domain;
/// (2) the first's output has one consumer and is not a graph output; (3) weights and biases are constants of
/// one float type that no graph input overrides; (4) one of the two is 1x1; (5) the 1x1 side neither pads nor
/// (before a k×k kernel) strides, and a strided 1x1 after a SAME-padded first is refused (the padding would change);
/// (6) padding of the second does not meet the first's bias; (7) the groups line up (equal, or one of them 1);
/// (8) the merged Conv costs no more MACs than the two, unless <see cref="RewriteContext.AllowMoreMacs"/>; (9) the merged
/// weight and bias are finite and fit the type. A preview (<see cref="RewriteContext.PreviewOnly"/>) proves (9) from a bound
/// on the operands (<see cref="MergeBounds.Composition"/>) and forms the merged weight only when the bound does not.</para>
/// </remarks>
internal sealed class MergeConvChain : RewriteRule<ConvChainMatch>
{
    public const string RuleId = "merge-conv-chain";

    public override string Id => RuleId;

    public override string Summary => "Replaces two convolutions in a row, one of them 1x1, with one convolution (when that costs no more MACs).";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Conv"];

    public override bool IsCandidate(Node node) => node.OpType == "Conv";

    public override MatchResult<ConvChainMatch> TryMatch(Node second, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(second) is { } domain) return MatchResult.Fail(domain);
        if (second.Input(0) is not { } middle) return MatchResult.Fail($"'{second.DisplayName}' has no input X");
        if (middle.Producer is not { } first || !ReferenceEquals(first.Graph, second.Graph))
            return MatchResult.Fail($"'{second.DisplayName}' reads '{middle.Name}', which is not computed by a node of its graph");
        if (first.OpType != "Conv")
            return MatchResult.Fail($"'{second.DisplayName}' reads '{middle.Name}' from a {first.OpType}, not from a convolution");
        if (FusionGuards.SingleConsumer(middle) is { } shared) return MatchResult.Fail(shared);
        if (MergeableConv.TryRead(first, "the first convolution", context, out var a) is { } firstProblem) return MatchResult.Fail(firstProblem);
        if (MergeableConv.TryRead(second, "the second convolution", context, out var b) is { } secondProblem) return MatchResult.Fail(secondProblem);
        if (a.ElementType != b.ElementType) return MatchResult.Fail($"the weights are {ElementTypes.Name(a.ElementType)} and {ElementTypes.Name(b.ElementType)}");
        if (a.Geometry.SpatialRank != b.Geometry.SpatialRank) return MatchResult.Fail("the convolutions have different spatial ranks");
        if (b.InChannels != a.OutChannels)
            return MatchResult.Fail($"the second convolution takes {b.InChannels} channels but the first gives {a.OutChannels}");

        ChainShape shape;
        long[] strides;
        if (b.Geometry.IsPointwise)
        {
            shape = ChainShape.PointwiseAfter;
            if (b.Pads) return MatchResult.Fail($"the 1x1 convolution '{second.DisplayName}' pads its input, so padded positions would carry only its bias");
            bool secondStrided = b.Geometry.Strides.Any(s => s != 1);
            if (secondStrided && a.Geometry.AutoPad is AutoPad.SameUpper or AutoPad.SameLower)
                return MatchResult.Fail($"'{first.DisplayName}' pads with auto_pad {a.Geometry.AutoPadText}, whose padding would change with the composed stride");
            strides = a.Geometry.Strides.Zip(b.Geometry.Strides, (x, y) => x * y).ToArray();
        }
        else if (a.Geometry.IsPointwise)
        {
            shape = ChainShape.PointwiseBefore;
            if (a.Pads) return MatchResult.Fail($"the 1x1 convolution '{first.DisplayName}' pads its input, so padded positions would carry only its bias");
            if (a.Geometry.Strides.Any(s => s != 1))
                return MatchResult.Fail($"the 1x1 convolution '{first.DisplayName}' has strides [{string.Join(",", a.Geometry.Strides)}] before a {b.Geometry.KernelText} kernel, which no single convolution expresses");
            if (b.Pads && a.Bias is { } firstBias && firstBias.Any(v => v != 0))
                return MatchResult.Fail($"'{second.DisplayName}' pads its input with zeros, which would then miss the bias '{first.Input(2)!.Name}' of '{first.DisplayName}' (padding meets bias)");
            strides = b.Geometry.Strides;
        }
        else
            return MatchResult.Fail($"neither convolution is 1x1 ({a.Geometry.KernelText} then {b.Geometry.KernelText})");

        long g1 = a.Geometry.Group, g2 = b.Geometry.Group;
        long group = g1 == g2 ? g1 : g1 == 1 || g2 == 1 ? 1 : 0;
        if (group == 0) return MatchResult.Fail($"the groups do not line up: group {g1} then group {g2}");

        var spatial = shape == ChainShape.PointwiseAfter ? a : b;
        long kernelVolume = spatial.KernelVolume;
        long[] weightDims = [b.OutChannels, a.InChannels / group, .. spatial.Geometry.Kernel!];
        long parametersAfter = weightDims.Aggregate(1L, (x, y) => x * y) + (a.Bias is null && b.Bias is null ? 0 : b.OutChannels);
        var cost = MergeCost.Compare([a.Macs(context), b.Macs(context)], MacCount.OfConv(context.ShapeOf(second.Outputs[0]), a.InChannels / group, kernelVolume),
            a.Parameters + b.Parameters, parametersAfter, out var uncounted);
        if (cost is null) return MatchResult.Fail(uncounted!);
        if (!context.AllowMoreMacs && cost.WhyNotCheaper() is { } dearer) return MatchResult.Fail(dearer);
        if (context.PreviewOnly && CompositionFits(a, b))
            return new ConvChainMatch(first, second, shape, group, strides, weightDims, null, null, cost);

        var stored = Compose(a, b, shape, group, weightDims, second.Input(1)!.Name + "_merged", out var unrepresentable);
        if (stored is not { } tensors) return MatchResult.Fail(unrepresentable!);
        return new ConvChainMatch(first, second, shape, group, strides, weightDims, tensors.Weight, tensors.Bias, cost);
    }

    /// <summary>Whether a bound proves the merged weight and bias of <paramref name="first"/> then <paramref name="second"/> representable without computing them.</summary>
    private static bool CompositionFits(MergeableConv first, MergeableConv second)
    {
        var (weight, bias) = MergeBounds.Composition(second.WeightTensor, second.Geometry.Group, MergeBounds.RowMaxAbs(first.WeightTensor, first.OutChannels),
            first.Bias, second.Bias);
        return MergeBounds.Fits(first.ElementType, weight) && MergeBounds.Fits(first.ElementType, bias);
    }

    public override string Describe(ConvChainMatch match) =>
        $"one {string.Join("x", match.WeightDims.Skip(2))} Conv [{match.WeightDims[0]},{match.WeightDims[1] * match.Group}]"
        + (match.Group == 1 ? "" : $" in {match.Group} groups") + $" for '{match.First.DisplayName}' then '{match.Second.DisplayName}': {match.Cost}";

    public override void Rewrite(ConvChainMatch match, GraphRewriter rewriter)
    {
        var template = match.Shape == ChainShape.PointwiseAfter ? match.First : match.Second;
        var ops = rewriter.BuilderBefore(template);
        var weight = ops.Constant(match.Weight!.Tensor);
        var bias = match.Bias is null ? null : ops.Constant(match.Bias.Tensor);
        rewriter.ReportDeviationUlps(Math.Max(match.Weight.MaxDeviationUlps, match.Bias?.MaxDeviationUlps ?? 0));
        var merged = rewriter.CopyNode(template, new Dictionary<int, Value?> { [0] = match.First.Input(0), [1] = weight, [2] = bias });
        merged.SetAttribute("kernel_shape", match.WeightDims.Skip(2));
        merged.SetAttribute("strides", match.Strides);
        if (match.Group == 1) merged.RemoveAttribute("group");
        else merged.SetAttribute("group", match.Group);
        rewriter.ReplaceAllUsesWith(match.Second.Outputs[0], merged.Outputs[0], keepName: true);
        rewriter.RemoveNode(match.Second);
        rewriter.RemoveNode(match.First);
    }

    /// <summary>
    /// The merged weight and bias in float64, rounded once into the weights' type a block of rows at a time (no
    /// float64 copy of a whole weight is held unless a grouped side must be expanded); null with the reason when a
    /// value is not finite or overflows the type.
    /// </summary>
    private static (RoundedTensor Weight, RoundedTensor? Bias)? Compose(MergeableConv a, MergeableConv b, ChainShape shape, long group, long[] weightDims,
        string name, out string? reason)
    {
        var first = a.Geometry.Group == group ? a.WeightReader()
            : ConvMergeMath.Reader(ConvMergeMath.ExpandGroups(a.Weight, a.OutChannels, a.InPerGroup, a.KernelVolume, a.Geometry.Group));
        var second = b.Geometry.Group == group ? b.WeightReader()
            : ConvMergeMath.Reader(ConvMergeMath.ExpandGroups(b.Weight, b.OutChannels, b.InPerGroup, b.KernelVolume, b.Geometry.Group));
        long inPerGroup = a.InChannels / group;
        var weight = new RoundedTensorBuilder(name, a.ElementType, weightDims);
        RowsSink sink = (_, rows) => weight.TryAppend(rows, "the merged weight");
        reason = shape == ChainShape.PointwiseAfter
            ? ConvMergeMath.ComposePointwiseAfter(second, first, b.OutChannels, a.OutChannels, inPerGroup, a.KernelVolume, group, sink)
            : ConvMergeMath.ComposePointwiseBefore(second, first, b.OutChannels, a.OutChannels, inPerGroup, b.KernelVolume, group, sink);
        if (reason is not null) return null;
        var bias = a.Bias is null && b.Bias is null ? null
            : ConvMergeMath.BiasThrough(second, b.Bias, a.Bias, b.OutChannels, a.OutChannels, shape == ChainShape.PointwiseAfter ? 1 : b.KernelVolume, group);
        reason = bias is null ? null : WeightMath.WhyNotRepresentable(a.ElementType, bias, "the merged bias");
        if (reason is not null) return null;
        return (weight.Finish(), bias is null ? null : WeightMath.Store(name + "_bias", a.ElementType, [weightDims[0]], bias));
    }
}
