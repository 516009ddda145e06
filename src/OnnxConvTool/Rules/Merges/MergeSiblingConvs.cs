using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules.Merges;

/// <summary>
/// Matched siblings in output-channel order, their stacked weight and bias, and where the outputs go: a Concat
/// (and which of its inputs the siblings fill) or, when <see cref="Concat"/> is null, a Split. The merged Conv goes
/// before <see cref="Earliest"/> with <see cref="Template"/>'s attributes (the larger kernel's). <see cref="CentrePadded"/>
/// counts the 1x1 siblings whose filters sit centred in the larger kernel; <see cref="SavedNanoseconds"/> is the
/// <see cref="RuntimeCost"/> estimate (null when a shape is symbolic). A preview that proved the stacked weight and bias
/// representable leaves them out as null (<see cref="RewriteContext.PreviewOnly"/>).
/// </summary>
internal sealed record SiblingConvsMatch(IReadOnlyList<Node> Siblings, Node Earliest, Node Template, long[] WeightDims, RoundedTensor? Weight, RoundedTensor? Bias,
    long[] OutChannels, Node? Concat, int ConcatStart, MergeCost Cost, int CentrePadded, double? SavedNanoseconds);

/// <summary>
/// Replaces convolutions that read the same input with the same geometry with one convolution whose output
/// channels are theirs concatenated, followed by a Split (none when their outputs feed one Concat in order).
/// </summary>
/// <remarks>
/// <para>Algebra: each output channel of a convolution depends only on its own filter, so stacking the filters
/// <c>W = [W₁; W₂; …]</c> and biases gives <c>Conv(x, W, b) = Concat(Conv(x, W₁, b₁), Conv(x, W₂, b₂), …)</c> along the
/// channel axis. MACs and parameters are unchanged; one op replaces several. A 1x1 filter placed at the centre of a
/// zero k×k kernel computes the same as the 1x1 when the k×k pads d·(k − 1)/2 on each side (d its dilation), so
/// 1x1 siblings may join k×k ones — at k² times their MACs.</para>
/// <para>Preconditions, each with its sentence: (1) another Conv of the graph reads the same input; (2) the siblings
/// have equal kernel, strides, pads, dilations, group and auto_pad, or are 1x1 without pads beside a k×k (odd k) with
/// explicit pads d·(k − 1)/2 and the same strides; (3) their weights and biases are constants of one float type;
/// (4) group 1 (stacking grouped filters would interleave the groups' channels); (5) without a shared Concat the
/// Split must pay by <see cref="RuntimeCost"/>: n siblings become a Conv and a Split, n − 2 ops fewer, while the Split
/// moves the 2·ΣM·P values of the merged output (P its positions) — never with two siblings; (6) centre-padded 1x1
/// siblings must pay too: their extra MACs against the ops saved (and the Split's traffic), unless
/// <see cref="RewriteContext.AllowMoreMacs"/>. The cheaper of the merge with equal kernels and the centre-padded
/// one is applied; (7) the stacked values are finite (a preview, <see cref="RewriteContext.PreviewOnly"/>, checks each
/// sibling's values without stacking them).</para>
/// </remarks>
internal sealed class MergeSiblingConvs : RewriteRule<SiblingConvsMatch>
{
    public const string RuleId = "merge-sibling-convs";

    public override string Id => RuleId;

    public override string Summary => "Replaces convolutions with the same input and geometry with one convolution and a Split (or their shared Concat).";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Conv"];

    public override bool IsCandidate(Node node) => node.OpType == "Conv";

    public override MatchResult<SiblingConvsMatch> TryMatch(Node root, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(root) is { } domain) return MatchResult.Fail(domain);
        if (root.Input(0) is not { } input) return MatchResult.Fail($"'{root.DisplayName}' has no input X");
        var others = input.Uses.Where(u => u.InputIndex == 0 && !ReferenceEquals(u.Node, root) && ReferenceEquals(u.Node.Graph, root.Graph)
            && u.Node is { OpType: "Conv", IsOnnxDomain: true }).Select(u => u.Node).Distinct().ToArray();
        if (others.Length == 0) return MatchResult.Fail($"no other convolution reads '{input.Name}'");
        if (MergeableConv.TryRead(root, "the convolution", context, out var first) is { } problem) return MatchResult.Fail(problem);
        if (first.Geometry.Group != 1)
            return MatchResult.Fail($"'{root.DisplayName}' has group {first.Geometry.Group}; stacking grouped filters would interleave the groups' channels");

        var same = new List<MergeableConv> { first };
        var centrable = new List<MergeableConv>();
        string? firstMismatch = null;
        foreach (var other in others)
        {
            string? mismatch = MergeableConv.TryRead(other, "the sibling", context, out var sibling) ?? Mismatch(first, sibling);
            if (mismatch is null) same.Add(sibling);
            else if (sibling is not null && (CentresIn(first, sibling) || CentresIn(sibling, first))) centrable.Add(sibling);
            else firstMismatch ??= $"'{other.DisplayName}' also reads '{input.Name}' but {mismatch}";
        }

        var nodes = root.Graph.Nodes;
        MatchResult<SiblingConvsMatch>? sameMerge = null, paddedMerge = null;
        if (same.Count > 1) sameMerge = Plan(same, 0, nodes, context);
        if (centrable.Count > 0)
        {
            // The larger kernel is the root's group or the first centrable sibling's; 1x1s of the other side join it.
            bool rootIsLarge = !first.Geometry.IsPointwise;
            var large = rootIsLarge ? same : centrable.Where(c => Mismatch(centrable[0], c) is null).ToList();
            var small = rootIsLarge ? centrable.Where(c => CentresIn(c, first)).ToList() : same;
            paddedMerge = Plan([.. large, .. small], small.Count, nodes, context);
        }

        if (paddedMerge?.Match is { } padded && (context.AllowMoreMacs || padded.SavedNanoseconds > 0)
            && (sameMerge?.Match is not { } plain || context.AllowMoreMacs || padded.SavedNanoseconds > plain.SavedNanoseconds))
            return padded;
        if (sameMerge?.Match is { } match) return match;
        return MatchResult.Fail(paddedMerge?.FailureReason ?? sameMerge?.FailureReason ?? firstMismatch!);
    }

    /// <summary>
    /// Plans one Conv for <paramref name="members"/> (the last <paramref name="centred"/> of them 1x1s centred in the
    /// others' kernel): output order, Concat or Split, stacked weight, MACs and the <see cref="RuntimeCost"/> verdict.
    /// </summary>
    private static MatchResult<SiblingConvsMatch> Plan(List<MergeableConv> members, int centred, IReadOnlyList<Node> nodes, RewriteContext context)
    {
        var target = members[0];
        var order = members.ToDictionary(s => s.Conv, s => IndexOf(nodes, s.Conv));
        var siblings = members.OrderBy(s => order[s.Conv]).ToList();
        var earliest = siblings[0].Conv;
        var (concat, start) = SharedConcat(siblings);
        if (concat is not null)
            siblings.Sort((x, y) => x.Conv.Outputs[0].Uses[0].InputIndex.CompareTo(y.Conv.Outputs[0].Uses[0].InputIndex));

        long[] outChannels = siblings.Select(s => s.OutChannels).ToArray();
        long total = outChannels.Sum();
        long[] kernel = target.Geometry.Kernel!;
        long[] weightDims = [total, target.InPerGroup, .. kernel];
        bool biased = siblings.Any(s => s.Bias is not null);
        var macs = siblings.Select(s => s.Macs(context)).ToArray();
        var after = MacCount.Sum(siblings.Select(s => MacCount.OfConv(context.ShapeOf(s.Conv.Outputs[0]), target.InPerGroup, target.KernelVolume)).ToArray());
        var cost = MergeCost.Compare(macs, after, siblings.Sum(s => s.Parameters), WeightMath.ElementCount(weightDims) + (biased ? total : 0), out var uncounted);
        if (cost is null) return MatchResult.Fail(uncounted!);

        int opsSaved = siblings.Count - (concat is null ? 2 : 1);
        long? positions = context.ShapeOf(target.Conv.Outputs[0]).ElementCount / target.OutChannels;
        long? moved = concat is null ? 2 * total * positions : 0;
        double? saved = cost.MacsBefore.Symbols.Count == 0 && moved is { } m
            ? RuntimeCost.SavedNanoseconds(cost.MacsBefore.Coefficient - cost.MacsAfter.Coefficient, opsSaved, m) : null;
        string padding = centred == 0 ? "" : $"centre-padding {centred} 1x1 sibling(s) to {target.Geometry.KernelText} ({cost})";
        if (concat is null && opsSaved <= 0 && centred == 0)
            return MatchResult.Fail($"a Split after one Conv for {siblings.Count} siblings saves no op and moves the merged output again ({RuntimeCost.Terms})");
        if (saved is null && (centred > 0 ? !context.AllowMoreMacs : concat is null))
            return MatchResult.Fail((centred > 0 ? padding + ": " : $"one Conv and a Split for {siblings.Count} siblings: ")
                + "the time it saves cannot be estimated with symbolic dims (fix them with --shape)");
        if (saved <= 0 && (centred > 0 ? !context.AllowMoreMacs : true))
            return MatchResult.Fail((centred > 0 ? padding : $"one Conv and a Split for {siblings.Count} siblings")
                + $" would cost {RuntimeCost.Format(-saved!.Value)} more than it saves ({opsSaved} op(s) fewer"
                + (concat is null ? $", {moved:N0} values moved by the Split" : "") + $"; {RuntimeCost.Terms})");

        var nodesMerged = siblings.Select(s => s.Conv).ToArray();
        // The stacked values are the siblings' own (and zeros): representable when each sibling's are finite.
        if (context.PreviewOnly && siblings.All(s => MergeBounds.Fits(s.ElementType, MergeBounds.MaxAbs(s.WeightTensor))
                && (s.Bias is null || MergeBounds.Fits(s.ElementType, MergeBounds.MaxAbs(s.Bias)))))
            return new SiblingConvsMatch(nodesMerged, earliest, target.Conv, weightDims, null, null, outChannels, concat, start, cost, centred, saved);
        var weight = ConvMergeMath.ConcatOutputs(siblings.Select(s => s.Geometry.IsPointwise && !target.Geometry.IsPointwise ? Centred(s, kernel) : s.Weight).ToArray());
        double[]? bias = biased ? ConvMergeMath.ConcatOutputs(siblings.Select(s => s.Bias ?? new double[s.OutChannels]).ToArray()) : null;
        var stored = MergeableConv.Store(earliest.Input(1)!.Name + "_stacked", target.ElementType, weightDims, weight, bias, out var unrepresentable);
        if (stored is not { } tensors) return MatchResult.Fail(unrepresentable!);
        return new SiblingConvsMatch(nodesMerged, earliest, target.Conv, weightDims, tensors.Weight, tensors.Bias, outChannels, concat, start, cost,
            centred, saved);
    }

    /// <summary>The 1x1 weight of <paramref name="pointwise"/> at the centre of a zero <paramref name="kernel"/>.</summary>
    private static double[] Centred(MergeableConv pointwise, long[] kernel)
    {
        long[] dims = [pointwise.OutChannels, pointwise.InPerGroup, .. Enumerable.Repeat(1L, kernel.Length)];
        long[] pads = [.. kernel.Select(k => (k - 1) / 2), .. kernel.Select(k => (k - 1) / 2)];
        return WeightMath.PadKernel(pointwise.Weight, dims, pads, out _);
    }

    /// <summary>
    /// Whether <paramref name="small"/> is a 1x1 without pads whose filter, centred in <paramref name="large"/>'s odd
    /// kernel, reads the same pixels: explicit pads d·(k − 1)/2 on each side, equal strides, group 1, one float type.
    /// </summary>
    private static bool CentresIn(MergeableConv small, MergeableConv large)
    {
        var (a, b) = (small.Geometry, large.Geometry);
        if (!a.IsPointwise || b.IsPointwise || a.SpatialRank != b.SpatialRank || small.Pads || a.AutoPad is not (AutoPad.NotSet or AutoPad.Valid)) return false;
        if (b.AutoPad != AutoPad.NotSet || a.Group != 1 || b.Group != 1 || !a.Strides.SequenceEqual(b.Strides) || small.ElementType != large.ElementType) return false;
        int k = b.SpatialRank;
        for (int i = 0; i < k; i++)
            if (b.Kernel![i] % 2 == 0 || b.Pads[i] != b.Dilations[i] * (b.Kernel[i] - 1) / 2 || b.Pads[k + i] != b.Pads[i]) return false;
        return true;
    }

    private static int IndexOf(IReadOnlyList<Node> nodes, Node node)
    {
        for (int i = 0; i < nodes.Count; i++)
            if (ReferenceEquals(nodes[i], node)) return i;
        return -1;
    }

    /// <summary>Why <paramref name="other"/> cannot share <paramref name="reference"/>'s convolution, or null.</summary>
    private static string? Mismatch(MergeableConv reference, MergeableConv other)
    {
        var (a, b) = (reference.Geometry, other.Geometry);
        static string List(long[] values) => "[" + string.Join(",", values) + "]";
        if (!a.Kernel!.SequenceEqual(b.Kernel!)) return $"has kernel {b.KernelText}, not {a.KernelText}";
        if (!a.Strides.SequenceEqual(b.Strides)) return $"has strides {List(b.Strides)}, not {List(a.Strides)}";
        if (a.AutoPadText != b.AutoPadText) return $"has auto_pad {b.AutoPadText}, not {a.AutoPadText}";
        if (!a.Pads.SequenceEqual(b.Pads) && a.AutoPad == AutoPad.NotSet) return $"has pads {List(b.Pads)}, not {List(a.Pads)}";
        if (!a.Dilations.SequenceEqual(b.Dilations)) return $"has dilations {List(b.Dilations)}, not {List(a.Dilations)}";
        if (a.Group != b.Group) return $"has group {b.Group}, not {a.Group}";
        if (reference.ElementType != other.ElementType) return $"has {ElementTypes.Name(other.ElementType)} weights, not {ElementTypes.Name(reference.ElementType)}";
        return null;
    }

    /// <summary>The Concat along channels that takes every sibling's only output use, consecutively; else (null, 0).</summary>
    private static (Node? Concat, int Start) SharedConcat(IReadOnlyList<MergeableConv> siblings)
    {
        Node? concat = null;
        var indices = new List<int>();
        foreach (var s in siblings)
        {
            var output = s.Conv.Outputs[0];
            if (output.IsGraphOutput || output.Uses.Count != 1) return (null, 0);
            var use = output.Uses[0];
            if (use.Node is not { OpType: "Concat", IsOnnxDomain: true } c || (concat is not null && !ReferenceEquals(c, concat))) return (null, 0);
            concat = c;
            indices.Add(use.InputIndex);
        }
        if (!ChannelAxis(concat!, siblings[0])) return (null, 0);
        indices.Sort();
        for (int i = 1; i < indices.Count; i++)
            if (indices[i] != indices[i - 1] + 1) return (null, 0);
        return (concat, indices[0]);
    }

    private static bool ChannelAxis(Node concat, MergeableConv sibling)
    {
        long axis = concat.GetInt("axis", 1);
        int rank = sibling.Geometry.SpatialRank + 2;
        return axis == 1 || axis == 1 - rank;
    }

    public override string Describe(SiblingConvsMatch match) =>
        $"one {string.Join("x", match.WeightDims.Skip(2))} Conv [{match.WeightDims[0]},{match.WeightDims[1]}] for {match.Siblings.Count} siblings ("
        + string.Join(", ", match.Siblings.Select(s => $"'{s.DisplayName}'")) + ")"
        + (match.CentrePadded > 0 ? $", {match.CentrePadded} 1x1 of them centre-padded" : "")
        + (match.Concat is null ? ", then a Split" : $", feeding '{match.Concat.DisplayName}' directly") + $": {match.Cost}"
        + (match.SavedNanoseconds is { } saved ? $", est. {RuntimeCost.Format(saved)} saved" : "");

    public override void Rewrite(SiblingConvsMatch match, GraphRewriter rewriter)
    {
        var ops = rewriter.BuilderBefore(match.Earliest);
        var weight = ops.Constant(match.Weight!.Tensor);
        var bias = match.Bias is null ? null : ops.Constant(match.Bias.Tensor);
        rewriter.ReportDeviationUlps(Math.Max(match.Weight.MaxDeviationUlps, match.Bias?.MaxDeviationUlps ?? 0));
        var merged = rewriter.CopyNode(match.Template, new Dictionary<int, Value?> { [1] = weight, [2] = bias }, before: match.Earliest).Outputs[0];
        if (match.Concat is { } concat)
        {
            var inputs = concat.Inputs.ToList();
            inputs.RemoveRange(match.ConcatStart, match.Siblings.Count);
            if (inputs.Count == 0) rewriter.ReplaceAllUsesWith(concat.Outputs[0], merged, keepName: true);
            else
            {
                inputs.Insert(match.ConcatStart, merged);
                var joined = rewriter.BuilderBefore(concat).Concat(inputs!, concat.GetInt("axis", 1));
                rewriter.ReplaceAllUsesWith(concat.Outputs[0], joined, keepName: true);
            }
            rewriter.RemoveNode(concat);
        }
        else
        {
            var parts = ops.Split(merged, 1, match.OutChannels);
            for (int i = 0; i < parts.Count; i++) rewriter.ReplaceAllUsesWith(match.Siblings[i].Outputs[0], parts[i], keepName: true);
        }
        foreach (var sibling in match.Siblings) rewriter.RemoveNode(sibling);
    }
}
