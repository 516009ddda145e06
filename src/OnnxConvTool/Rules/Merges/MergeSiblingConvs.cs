using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules.Merges;

/// <summary>
/// Matched siblings in output-channel order, their stacked weight and bias, and where the outputs go: a Concat
/// (and which of its inputs the siblings fill) or, when <see cref="Concat"/> is null, a Split.
/// </summary>
internal sealed record SiblingConvsMatch(IReadOnlyList<Node> Siblings, Node Earliest, RoundedTensor Weight, RoundedTensor? Bias,
    long[] OutChannels, Node? Concat, int ConcatStart, MergeCost Cost)
{
    public IReadOnlyList<long> WeightDims => Weight.Tensor.Dims;
}

/// <summary>
/// Replaces convolutions that read the same input with the same geometry with one convolution whose output
/// channels are theirs concatenated, followed by a Split (none when their outputs feed one Concat in order).
/// </summary>
/// <remarks>
/// <para>Algebra: each output channel of a convolution depends only on its own filter, so stacking the filters
/// <c>W = [W₁; W₂; …]</c> and biases gives <c>Conv(x, W, b) = Concat(Conv(x, W₁, b₁), Conv(x, W₂, b₂), …)</c> along the
/// channel axis. MACs and parameters are unchanged; one pass over the input replaces several.</para>
/// <para>Preconditions, each with its sentence: (1) another Conv of the graph reads the same input; (2) the siblings
/// have equal kernel, strides, pads, dilations, group and auto_pad; (3) their weights and biases are constants of one
/// float type; (4) group 1 (stacking grouped filters would interleave the groups' channels); (5) without a shared
/// Concat, the Split must move fewer values than merging saves: per output position it reads and writes 2·ΣM values,
/// while one Conv instead of n reads its input patch (C·∏kernel values) n − 1 fewer times.</para>
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

        var siblings = new List<MergeableConv> { first };
        string? firstMismatch = null;
        foreach (var other in others)
        {
            string? mismatch = MergeableConv.TryRead(other, "the sibling", context, out var sibling) ?? Mismatch(first, sibling);
            if (mismatch is null) siblings.Add(sibling);
            else firstMismatch ??= $"'{other.DisplayName}' also reads '{input.Name}' but {mismatch}";
        }
        if (siblings.Count == 1) return MatchResult.Fail(firstMismatch!);

        var nodes = root.Graph.Nodes;
        var order = siblings.ToDictionary(s => s.Conv, s => IndexOf(nodes, s.Conv));
        siblings.Sort((x, y) => order[x.Conv].CompareTo(order[y.Conv]));
        var earliest = siblings[0].Conv;
        var (concat, start) = SharedConcat(siblings);
        if (concat is not null)
        {
            siblings.Sort((x, y) => x.Conv.Outputs[0].Uses[0].InputIndex.CompareTo(y.Conv.Outputs[0].Uses[0].InputIndex));
        }

        long[] outChannels = siblings.Select(s => s.OutChannels).ToArray();
        long total = outChannels.Sum();
        if (concat is null)
        {
            long saved = (siblings.Count - 1) * first.InChannels * first.KernelVolume, copied = 2 * total;
            if (copied > saved)
                return MatchResult.Fail($"a Split would move {copied} values per output position, more than the {saved} input reads per position that one Conv saves over {siblings.Count}");
        }
        long[] weightDims = [total, first.InPerGroup, .. first.Geometry.Kernel!];
        var weight = ConvMergeMath.ConcatOutputs(siblings.Select(s => s.Weight).ToArray());
        double[]? bias = siblings.All(s => s.Bias is null) ? null
            : ConvMergeMath.ConcatOutputs(siblings.Select(s => s.Bias ?? new double[s.OutChannels]).ToArray());
        long parameters = siblings.Sum(s => s.Parameters);
        var macs = siblings.Select(s => s.Macs(context)).ToArray();
        var cost = MergeCost.Compare(macs, MacCount.Sum(macs), parameters, weight.Length + (bias?.Length ?? 0), out var uncounted);
        if (cost is null) return MatchResult.Fail(uncounted!);
        var stored = MergeableConv.Store(earliest.Input(1)!.Name + "_stacked", first.ElementType, weightDims, weight, bias, out var unrepresentable);
        if (stored is not { } tensors) return MatchResult.Fail(unrepresentable!);
        return new SiblingConvsMatch(siblings.Select(s => s.Conv).ToArray(), earliest, tensors.Weight, tensors.Bias, outChannels, concat, start, cost);
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
        + (match.Concat is null ? ", then a Split" : $", feeding '{match.Concat.DisplayName}' directly") + $": {match.Cost}";

    public override void Rewrite(SiblingConvsMatch match, GraphRewriter rewriter)
    {
        var ops = rewriter.BuilderBefore(match.Earliest);
        var weight = ops.Constant(match.Weight.Tensor);
        var bias = match.Bias is null ? null : ops.Constant(match.Bias.Tensor);
        rewriter.ReportDeviationUlps(Math.Max(match.Weight.MaxDeviationUlps, match.Bias?.MaxDeviationUlps ?? 0));
        var merged = rewriter.CopyNode(match.Earliest, new Dictionary<int, Value?> { [1] = weight, [2] = bias }).Outputs[0];
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
