using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules.Folds;

namespace OnnxConvTool.Rules.Merges;

/// <summary>
/// A matched Add of two branches on one input: the k×k Conv that stays, what it absorbs, and the summed weight and bias
/// (left out, as null, by a preview that proved them representable: <see cref="RewriteContext.PreviewOnly"/>).
/// </summary>
internal sealed record RepVggMatch(Node Add, Node Conv, Node? OtherConv, Node? BatchNorm, string OtherKind, RoundedTensor? Weight, RoundedTensor? Bias,
    MergeCost Cost);

/// <summary>
/// Replaces the Add of a k×k Conv and a parallel branch on the same input — a smaller centred Conv, the identity, or a
/// BatchNormalization — with one k×k Conv (RepVGG, ACNet and DBB re-parameterisation).
/// </summary>
/// <remarks>
/// <para>Algebra: convolution is linear in its weight, so <c>Conv(x, W₁) + Conv(x, W₂) = Conv(x, W₁ + W₂)</c> when both
/// read the same pixels: a k′×k′ kernel zero-padded to k×k around its centre reads what the larger one reads when its
/// pads are the larger one's minus d·(k − k′)/2 on each side (d the dilation). The identity is a kernel with 1 at its centre on the
/// matching channel; BatchNormalization(x) = s·x + t is that kernel scaled by s, with bias t. Biases add.
/// MACs fall by the absorbed branch's; parameters by its weight.</para>
/// <para>Preconditions, each with its sentence: (1) the Add's operands are a Conv on x and another branch on the same
/// x, each read only by the Add; (2) weights and biases are constants of one float type; (3) equal strides, dilations
/// and group, explicit pads; (4) the smaller kernel fits centred: its size differs by an even number on each axis
/// and its pads are the larger's minus half that difference; (5) the identity and BatchNormalization need stride 1,
/// as many output channels as input channels, and pads that keep the size ((k − 1)/2 each side); (6) the summed weight
/// and bias are finite and fit the type (a preview, <see cref="RewriteContext.PreviewOnly"/>, proves it from the largest
/// magnitudes of the two sides and sums only when that bound does not fit).</para>
/// </remarks>
internal sealed class MergeRepVggBranches : RewriteRule<RepVggMatch>
{
    public const string RuleId = "merge-repvgg-branches";

    public override string Id => RuleId;

    public override string Summary => "Replaces the Add of a k×k Conv and a centred 1x1 Conv, identity or BatchNormalization branch on one input with one k×k Conv.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Add"];

    public override bool IsCandidate(Node node) => node.OpType == "Add";

    public override MatchResult<RepVggMatch> TryMatch(Node add, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(add) is { } domain) return MatchResult.Fail(domain);
        if (add.Inputs.Count != 2 || add.Input(0) is not { } a || add.Input(1) is not { } b || ReferenceEquals(a, b))
            return MatchResult.Fail($"'{add.DisplayName}' does not add two different values");
        // The larger Conv stays; order the operands so that it comes first.
        var convA = ConvOf(a, add);
        var convB = ConvOf(b, add);
        if (convA is null && convB is null) return MatchResult.Fail($"neither operand of '{add.DisplayName}' is a convolution read only by it");
        if (convA is null || (convB is not null && KernelVolume(convB) > KernelVolume(convA))) (a, b, convA, convB) = (b, a, convB, convA);
        if (MergeableConv.TryRead(convA!, "the convolution", context, out var main) is { } problem) return MatchResult.Fail(problem);
        var x = convA!.Input(0)!;
        var g = main.Geometry;
        if (g.AutoPad != AutoPad.NotSet) return MatchResult.Fail($"'{convA.DisplayName}' pads with auto_pad {g.AutoPadText}; only explicit pads are merged");
        int k = g.SpatialRank;
        long kernelVolume = main.KernelVolume;
        long parametersBefore = main.Parameters, absorbedMacsPerOutput;
        string kind;
        Node? batchNorm = null;
        MergeableConv? absorbed = null;
        long[] centre = new long[2 * k];
        double[] scale = [], shift = [];

        if (convB is not null)
        {
            if (!ReferenceEquals(convB.Input(0), x)) return MatchResult.Fail($"'{convA.DisplayName}' and '{convB.DisplayName}' read different inputs");
            if (MergeableConv.TryRead(convB, "the parallel convolution", context, out var other) is { } otherProblem) return MatchResult.Fail(otherProblem);
            var h = other.Geometry;
            if (h.AutoPad != AutoPad.NotSet) return MatchResult.Fail($"'{convB.DisplayName}' pads with auto_pad {h.AutoPadText}; only explicit pads are merged");
            if (other.ElementType != main.ElementType) return MatchResult.Fail("the two convolutions have different element types");
            if (!h.Strides.SequenceEqual(g.Strides) || !h.Dilations.SequenceEqual(g.Dilations) || h.Group != g.Group)
                return MatchResult.Fail($"'{convB.DisplayName}' differs from '{convA.DisplayName}' in strides, dilations or group");
            if (other.OutChannels != main.OutChannels || other.InPerGroup != main.InPerGroup)
                return MatchResult.Fail($"'{convB.DisplayName}' has weight [{other.OutChannels},{other.InPerGroup}], not [{main.OutChannels},{main.InPerGroup}]");
            for (int i = 0; i < k; i++)
            {
                long difference = g.Kernel![i] - h.Kernel![i];
                if (difference < 0 || difference % 2 != 0)
                    return MatchResult.Fail($"the {h.KernelText} kernel of '{convB.DisplayName}' does not sit centred in the {g.KernelText} kernel of '{convA.DisplayName}'");
                centre[i] = centre[k + i] = difference / 2;
                long padShift = difference / 2 * g.Dilations[i];
                if (g.Pads[i] - h.Pads[i] != padShift || g.Pads[k + i] - h.Pads[k + i] != padShift)
                    return MatchResult.Fail($"the pads [{string.Join(",", h.Pads)}] of '{convB.DisplayName}' do not line up with the pads [{string.Join(",", g.Pads)}] of '{convA.DisplayName}' (they must be smaller by half the kernel difference, times the dilation)");
            }
            absorbed = other;
            parametersBefore += other.Parameters;
            absorbedMacsPerOutput = other.InPerGroup * other.KernelVolume;
            kind = $"the {h.KernelText} Conv '{convB.DisplayName}'";
        }
        else
        {
            if (ReferenceEquals(b, x))
            {
                scale = Enumerable.Repeat(1.0, (int)main.OutChannels).ToArray();
                shift = new double[main.OutChannels];
                kind = "the identity";
            }
            else if (b.Producer is { OpType: "BatchNormalization" } bn && ReferenceEquals(bn.Input(0), x) && ReferenceEquals(bn.Graph, add.Graph)
                && FusionGuards.SingleConsumer(b) is null)
            {
                if (ConvFold.TryReadBatchNorm(bn, context, main.OutChannels, out scale, out shift) is { } bnProblem) return MatchResult.Fail(bnProblem);
                batchNorm = bn;
                parametersBefore += 4 * main.OutChannels;
                kind = $"the BatchNormalization '{bn.DisplayName}'";
            }
            else return MatchResult.Fail($"'{add.DisplayName}' adds '{b.Name}', which is not a convolution, the identity or a BatchNormalization of '{x.Name}'");
            if (g.Strides.Any(s => s != 1)) return MatchResult.Fail($"'{convA.DisplayName}' has strides [{string.Join(",", g.Strides)}], so {kind} does not line up with it");
            if (main.InChannels != main.OutChannels) return MatchResult.Fail($"'{convA.DisplayName}' maps {main.InChannels} channels to {main.OutChannels}, so {kind} cannot join it");
            for (int i = 0; i < k; i++)
                if (g.Kernel![i] % 2 == 0 || g.Pads[i] != (g.Kernel[i] - 1) / 2 * g.Dilations[i] || g.Pads[k + i] != g.Pads[i])
                    return MatchResult.Fail($"'{convA.DisplayName}' does not keep the size (kernel {g.KernelText}, pads [{string.Join(",", g.Pads)}]), so {kind} does not line up with it");
            absorbedMacsPerOutput = 0;
        }

        var macsAfter = main.Macs(context);
        if (macsAfter is null) return MatchResult.Fail("the MACs cannot be counted: an output shape is unknown (fix it with --shape)");
        var macsBefore = macsAfter with { Coefficient = macsAfter.Coefficient / (main.InPerGroup * kernelVolume) * (main.InPerGroup * kernelVolume + absorbedMacsPerOutput) };
        var cost = new MergeCost(macsBefore, macsAfter, parametersBefore, main.WeightTensor.ElementCount + main.OutChannels);
        if (context.PreviewOnly && SumFits(main, absorbed, scale, shift))
            return new RepVggMatch(add, convA, convB, batchNorm, kind, null, null, cost);

        var weight = main.Weight.ToArray();
        var bias = main.Bias?.ToArray() ?? new double[main.OutChannels];
        if (absorbed is not null)
        {
            long[] otherDims = [absorbed.OutChannels, absorbed.InPerGroup, .. absorbed.Geometry.Kernel!];
            var padded = WeightMath.PadKernel(absorbed.Weight, otherDims, centre, out _);
            for (int i = 0; i < weight.Length; i++) weight[i] += padded[i];
            if (absorbed.Bias is { } otherBias) for (int m = 0; m < bias.Length; m++) bias[m] += otherBias[m];
        }
        else
        {
            long centreOffset = 0;
            for (int i = 0; i < k; i++) centreOffset = centreOffset * g.Kernel![i] + (g.Kernel[i] - 1) / 2;
            long outPerGroup = main.OutChannels / g.Group;
            for (long m = 0; m < main.OutChannels; m++)
            {
                long local = m % outPerGroup;
                weight[(m * main.InPerGroup + local) * kernelVolume + centreOffset] += scale[m];
                bias[m] += shift[m];
            }
        }
        long[] dims = [main.OutChannels, main.InPerGroup, .. g.Kernel!];
        var stored = MergeableConv.Store(convA.Input(1)!.Name + "_reparam", main.ElementType, dims, weight, bias, out var unrepresentable);
        if (stored is not { } tensors) return MatchResult.Fail(unrepresentable!);
        return new RepVggMatch(add, convA, convB, batchNorm, kind, tensors.Weight, tensors.Bias, cost);
    }

    /// <summary>
    /// Whether a bound proves the summed weight and bias representable without computing them: each merged value is a
    /// value of the main Conv plus at most one of the absorbed branch (its weight, or the identity's or BatchNormalization's
    /// scale; its bias, or the shift).
    /// </summary>
    private static bool SumFits(MergeableConv main, MergeableConv? absorbed, double[] scale, double[] shift)
    {
        double weight = MergeBounds.MaxAbs(main.WeightTensor) + (absorbed is null ? MergeBounds.MaxAbs(scale) : MergeBounds.MaxAbs(absorbed.WeightTensor));
        double bias = MergeBounds.MaxAbs(main.Bias ?? []) + MergeBounds.MaxAbs(absorbed is null ? shift : absorbed.Bias ?? []);
        return MergeBounds.Fits(main.ElementType, weight) && MergeBounds.Fits(main.ElementType, bias);
    }

    /// <summary>The Conv producing <paramref name="value"/> when only <paramref name="add"/> reads it, in the same graph.</summary>
    private static Node? ConvOf(Value value, Node add) =>
        value.Producer is { OpType: "Conv", IsOnnxDomain: true } conv && ReferenceEquals(conv.Graph, add.Graph) && FusionGuards.SingleConsumer(value) is null
            ? conv : null;

    private static long KernelVolume(Node conv) => conv.GetInts("kernel_shape")?.Aggregate(1L, (p, d) => p * d) ?? long.MaxValue;

    public override string Describe(RepVggMatch match) => $"'{match.Conv.DisplayName}' absorbs {match.OtherKind}: {match.Cost}";

    public override void Rewrite(RepVggMatch match, GraphRewriter rewriter)
    {
        var ops = rewriter.BuilderBefore(match.Conv);
        var weight = ops.Constant(match.Weight!.Tensor);
        var bias = match.Bias is null ? null : ops.Constant(match.Bias.Tensor);
        rewriter.ReportDeviationUlps(Math.Max(match.Weight.MaxDeviationUlps, match.Bias?.MaxDeviationUlps ?? 0));
        var merged = rewriter.CopyNode(match.Conv, new Dictionary<int, Value?> { [1] = weight, [2] = bias });
        rewriter.ReplaceAllUsesWith(match.Add.Outputs[0], merged.Outputs[0], keepName: true);
        rewriter.RemoveNode(match.Add);
        rewriter.RemoveNode(match.Conv);
        if (match.OtherConv is { } other) rewriter.RemoveNode(other);
        if (match.BatchNorm is { } bn) rewriter.RemoveNode(bn);
    }
}
