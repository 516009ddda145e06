using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Rules;

using DataType = TensorProto.Types.DataType;

/// <summary>How a 1x1 Conv's channel mixing is expressed.</summary>
internal enum ChannelMapKind
{
    /// <summary>group = 1: <c>MatMul(W[M,C], X[N,C,D])</c>.</summary>
    Dense,
    /// <summary>1 &lt; group, several input channels per group: batched <c>MatMul(W[g,M/g,C/g], X[N,g,C/g,D])</c>.</summary>
    Grouped,
    /// <summary>One input channel per group (depthwise), one filter each: <c>Mul(X, W[C,1..])</c>.</summary>
    Depthwise,
    /// <summary>Depthwise with a channel multiplier m &gt; 1: <c>Mul(X[N,C,1,D], W[C,m,1])</c>.</summary>
    DepthwiseMultiplier,
}

/// <summary>A matched 1x1 Conv and everything its rewrite needs, decided while matching.</summary>
internal sealed record Conv1x1Match(
    Node Conv,
    ConvGeometry Geometry,
    ChannelMapKind Kind,
    Value Input,
    Value Weight,
    Tensor? WeightConstant,
    Value? Bias,
    Tensor? BiasConstant,
    long OutChannels,
    long InChannelsPerGroup,
    long[]? Pads,
    DataType ElementType);

/// <summary>
/// Replaces a Conv whose kernel is all ones with MatMul (or Mul for depthwise) on a flattened spatial axis.
/// </summary>
/// <remarks>
/// <para>Algebra: with a 1x1 kernel, <c>Y[n,m,p] = B[m] + Σ_c W[m,c]·X[n,c,p]</c> at every output position p
/// after padding and striding, i.e. <c>Y = W·X + B</c> with X viewed as [N, C, D] (D = d1·…·dk). Groups make
/// W block-diagonal: a batched MatMul over [N, g, C/g, D]; one input channel per group makes it a per-channel
/// scale. Padding adds zero pixels that then see only the bias; strides pick every s-th pixel (a strided
/// Slice, or a 1x1 AveragePool before opset 10). SAME auto-padding with a 1x1 kernel asks for a padding of
/// (ceil(d/s)−1)·s+1−d ≤ 0: at 0 or −1 it reads pixels 0, s, 2s, … like VALID. The output keeps NCHW layout and the Conv's
/// output name; N and spatial dims stay dynamic (reshapes use 0/-1 or the run-time Shape of the input).</para>
/// <para>Preconditions, each failing with its own sentence:
/// (1) the Conv is in the default ONNX domain with an input, a weight and one output;
/// (2) its geometry is known and its kernel is all ones, over 1 to 3 spatial dims;
/// (3) the model imports opset 7 or newer (broadcasting Add/Mul, Reshape with a shape input);
/// (4) the element type is float, float16, double or bfloat16 and every emitted op accepts it at the model's opset;
/// (5) explicit pads are not negative;
/// (6) SAME auto-padding with a stride does not need a padding below −1 (whose split ONNX leaves undefined),
/// which for strides above 2 needs the input size statically;
/// (7) a grouped Conv whose weight is computed at run time needs the weight's static shape;
/// (8) a constant bias is one-dimensional with one value per output channel.
/// A constant weight (initializer or Constant node) is reshaped offline into a new constant; the original
/// is never modified, and is removed only when nothing else uses it.</para>
/// </remarks>
internal sealed class Conv1x1ToMatMul : RewriteRule<Conv1x1Match>
{
    public const string RuleId = "conv1x1-to-matmul";

    public override string Id => RuleId;

    public override string Summary => "Replaces a 1x1 Conv with MatMul (Mul for depthwise) on the flattened spatial axis, keeping NCHW.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Conv"];

    public override bool IsCandidate(Node node) => node.OpType == "Conv";

    public override MatchResult<Conv1x1Match> TryMatch(Node conv, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(conv) is { } domain) return MatchResult.Fail(domain);
        if (conv.Input(0) is not { } input) return MatchResult.Fail($"'{conv.DisplayName}' has no input X");
        if (conv.Input(1) is not { } weight) return MatchResult.Fail($"'{conv.DisplayName}' has no weight input");
        if (conv.Outputs.Count != 1) return MatchResult.Fail($"'{conv.DisplayName}' has {conv.Outputs.Count} outputs, not 1");

        var geometry = ConvGeometry.Read(conv, WeightShape(weight, context));
        if (geometry.Problem is { } problem) return MatchResult.Fail(problem);
        if (!geometry.IsPointwise)
            return MatchResult.Fail($"the kernel is {geometry.KernelText}, not {string.Join("x", Enumerable.Repeat("1", geometry.SpatialRank))}");
        int k = geometry.SpatialRank;
        if (k > 3) return MatchResult.Fail($"the Conv has {k} spatial dims; only 1 to 3 are rewritten");

        int opset = context.Opset;
        if (opset < OpsetVersion.MultidirectionalBroadcast)
            return MatchResult.Fail($"the model imports opset {opset}; the rewrite needs opset {OpsetVersion.MultidirectionalBroadcast} or newer (broadcasting Add/Mul)");
        if (OpsetVersion.WhyOpsetUnsupported(opset) is { } opsetProblem) return MatchResult.Fail(opsetProblem);

        var weightConstant = Model.TryGetConstant(weight);
        var bias = conv.Input(2);
        var biasConstant = bias is null ? null : Model.TryGetConstant(bias);

        DataType? elementType = context.ShapeOf(input).ElementType ?? weightConstant?.ElementType ?? context.ShapeOf(weight).ElementType;
        if (elementType is not { } type) return MatchResult.Fail($"the element type of '{input.Name}' is unknown");
        if (!ElementTypes.IsFloatingPoint(type))
            return MatchResult.Fail($"the element type is {ElementTypes.Name(type)}; only float, float16, double and bfloat16 are rewritten");

        long group = geometry.Group;
        if (geometry.OutChannels is not { } outChannels || geometry.InChannelsPerGroup is not { } perGroup)
        {
            if (group != 1)
                return MatchResult.Fail($"the weight '{weight.Name}' is computed at run time and its shape is unknown, which a grouped Conv needs");
            outChannels = geometry.OutChannels ?? (biasConstant is { Rank: 1 } b ? b.ElementCount : -1);
            perGroup = geometry.InChannelsPerGroup ?? -1;
        }
        if (biasConstant is not null && (biasConstant.Rank != 1 || outChannels >= 0 && biasConstant.ElementCount != outChannels))
            return MatchResult.Fail($"the bias '{bias!.Name}' has shape {biasConstant.FormatDims()}, not [{(outChannels >= 0 ? outChannels.ToString(System.Globalization.CultureInfo.InvariantCulture) : "M")}] (one value per output channel)");
        var kind = group == 1 ? ChannelMapKind.Dense
            : perGroup != 1 ? ChannelMapKind.Grouped
            : outChannels == group ? ChannelMapKind.Depthwise
            : ChannelMapKind.DepthwiseMultiplier;

        // Padding and striding.
        var padsPerAxis = new long[2 * k];
        var inputShape = context.ShapeOf(input);
        for (int i = 0; i < k; i++)
        {
            long s = geometry.Strides[i];
            switch (geometry.AutoPad)
            {
                case AutoPad.NotSet:
                    padsPerAxis[i] = geometry.Pads[i];
                    padsPerAxis[k + i] = geometry.Pads[k + i];
                    if (padsPerAxis[i] < 0 || padsPerAxis[k + i] < 0)
                        return MatchResult.Fail($"pads [{string.Join(",", geometry.Pads)}] has negative values (cropping), which the rewrite does not support");
                    break;
                case AutoPad.SameUpper or AutoPad.SameLower:
                    if (s == 1) break;
                    long? size = inputShape.Dims is { } dims && dims.Count == k + 2 ? dims[2 + i].Value : null;
                    if (size is { } d)
                    {
                        long padNeeded = SamePadNeeded(s, d);
                        if (padNeeded < -1)
                            return MatchResult.Fail($"auto_pad {geometry.AutoPadText} with stride {s} on size {d} (spatial axis {i} of '{input.Name}') needs negative padding ({padNeeded}), where runtimes disagree on which pixel comes first");
                    }
                    else if (s > 2)
                        return MatchResult.Fail($"auto_pad {geometry.AutoPadText} with stride {s} needs negative padding for some sizes of spatial axis {i} of '{input.Name}', whose size is not known statically (runtimes disagree on which pixel comes first then)");
                    break;
            }
        }
        bool needsPad = padsPerAxis.Any(p => p != 0);
        bool needsSlice = geometry.Strides.Any(s => s != 1);

        // Every op the rewrite emits must accept the element type at this opset.
        var ops = new List<string> { kind is ChannelMapKind.Depthwise or ChannelMapKind.DepthwiseMultiplier ? "Mul" : "MatMul", "Reshape" };
        if (bias is not null) ops.Add("Add");
        if (needsPad) ops.Add("Pad");
        if (needsSlice)
        {
            ops.Add(opset >= OpsetVersion.SliceInputs ? "Slice" : "AveragePool");
        }
        foreach (string op in ops)
            if (OpsetVersion.WhyCannotEmit(op, type, opset) is { } typeProblem) return MatchResult.Fail(typeProblem);

        return new Conv1x1Match(conv, geometry, kind, input, weight, weightConstant, bias, biasConstant, outChannels, perGroup,
            needsPad ? padsPerAxis : null, type);
    }

    /// <summary>
    /// The total padding SAME auto-padding asks for with a 1x1 kernel on size <paramref name="size"/>:
    /// (ceil(d/s) − 1)·s + 1 − d, never positive. At 0 or −1 every runtime reads pixels 0, s, 2s, …; below
    /// −1 the split of a negative padding between the two ends is not defined by ONNX, and runtimes differ.
    /// </summary>
    public static long SamePadNeeded(long stride, long size) => ((size + stride - 1) / stride - 1) * stride + 1 - size;

    /// <summary>
    /// The weight's shape: a constant's dims, else an overridable initializer's (the shape the model was built
    /// for), else the inferred shape.
    /// </summary>
    private static TensorShape WeightShape(Value weight, RewriteContext context)
    {
        var tensor = Model.TryGetConstant(weight) ?? weight.Initializer;
        return tensor is null ? context.ShapeOf(weight) : new TensorShape(tensor.ElementType, tensor.Dims.Select(Shapes.Dim.Known).ToArray());
    }

    public override string Describe(Conv1x1Match match)
    {
        var g = match.Geometry;
        string core = match.Kind switch
        {
            ChannelMapKind.Dense => $"MatMul with a [{Dim(match.OutChannels)},{Dim(match.InChannelsPerGroup)}] weight",
            ChannelMapKind.Grouped => $"batched MatMul over {g.Group} groups of [{match.OutChannels / g.Group},{match.InChannelsPerGroup}]",
            ChannelMapKind.Depthwise => $"per-channel Mul over {g.Group} channels",
            _ => $"per-channel Mul over {g.Group} channels x{match.OutChannels / g.Group}",
        };
        var parts = new List<string> { core };
        if (match.Bias is not null) parts.Add("bias Add");
        if (match.Pads is not null) parts.Add($"Pad [{string.Join(",", match.Pads)}]");
        if (g.Strides.Any(s => s != 1)) parts.Add($"stride [{string.Join(",", g.Strides)}]");
        if (match.WeightConstant is null) parts.Add("weight reshaped at run time");
        return string.Join(", ", parts);
    }

    private static string Dim(long d) => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public override void Rewrite(Conv1x1Match match, GraphRewriter rewriter)
    {
        var conv = match.Conv;
        var ops = rewriter.BuilderBefore(conv);
        var g = match.Geometry;
        int k = g.SpatialRank;
        long group = g.Group;

        var x = match.Input;
        // The Conv proves X has rank k + 2; the MatMul or Mul that replaces it does not (it takes any rank), so where
        // inference could not derive the rank (inside an If branch, say) it is declared, and the rewrite back can see it.
        // A graph input keeps its declaration: that is the model's interface.
        if (rewriter.Context.ShapeOf(x).Rank is null && !x.IsGraphInput)
            rewriter.DeclareShape(x, match.ElementType, [null, match.InChannelsPerGroup >= 0 ? match.InChannelsPerGroup * group : null, .. new long?[k]]);
        if (match.Pads is { } pads)
            x = ops.PadWithZeros(x, [0, 0, .. pads[..k], 0, 0, .. pads[k..]]);
        x = Subsample(ops, x, g.Strides);

        long[] spatialOnes = Enumerable.Repeat(1L, k).ToArray();
        Value y;
        switch (match.Kind)
        {
            case ChannelMapKind.Dense:
            {
                var w = Weight(ops, match, [match.OutChannels, match.InChannelsPerGroup], [0, -1]);
                var flat = k == 1 ? x : ops.Reshape(x, 0, 0, -1);
                y = ops.MatMul(w, flat);
                if (match.Bias is not null) y = ops.Add(y, BiasOf(ops, match, [match.OutChannels, 1], [-1, 1]));
                if (k > 1) y = ops.Reshape(y, ops.Concat([ops.Int64s(0, 0), ops.Shape(x, 2, 2 + k)], 0));
                break;
            }
            case ChannelMapKind.Grouped:
            {
                long mg = match.OutChannels / group;
                var w = Weight(ops, match, [group, mg, match.InChannelsPerGroup], [group, mg, match.InChannelsPerGroup]);
                y = ops.MatMul(w, ops.Reshape(x, 0, group, match.InChannelsPerGroup, -1));
                if (match.Bias is not null) y = ops.Add(y, BiasOf(ops, match, [group, mg, 1], [group, mg, 1]));
                y = Unflatten(ops, y, x, match.OutChannels, k);
                break;
            }
            case ChannelMapKind.Depthwise:
            {
                var w = Weight(ops, match, [group, .. spatialOnes], [-1, .. spatialOnes]);
                y = ops.Mul(x, w);
                if (match.Bias is not null) y = ops.Add(y, BiasOf(ops, match, [group, .. spatialOnes], [-1, .. spatialOnes]));
                break;
            }
            default:
            {
                long multiplier = match.OutChannels / group;
                var w = Weight(ops, match, [group, multiplier, 1], [group, multiplier, 1]);
                y = ops.Mul(ops.Reshape(x, 0, group, 1, -1), w);
                if (match.Bias is not null) y = ops.Add(y, BiasOf(ops, match, [group, multiplier, 1], [group, multiplier, 1]));
                y = Unflatten(ops, y, x, match.OutChannels, k);
                break;
            }
        }
        rewriter.ReplaceAllUsesWith(conv.Outputs[0], y, keepName: true);
        rewriter.RemoveNode(conv);
    }

    /// <summary>Pixels the strided 1x1 kernel reads: every stride-th, from the first.</summary>
    private static Value Subsample(OpBuilder ops, Value x, long[] strides)
    {
        int k = strides.Length;
        if (strides.All(s => s == 1)) return x;
        if (ops.Opset < OpsetVersion.SliceInputs) return ops.Subsample(x, strides);
        long[] axes = Enumerable.Range(2, k).Select(a => (long)a).ToArray();
        return ops.Slice(x, new long[k], Enumerable.Repeat(long.MaxValue, k).ToArray(), axes, strides);
    }

    /// <summary>[N, …, D] back to [N, M, d1..dk] with the spatial dims of <paramref name="spatialSource"/> at run time.</summary>
    private static Value Unflatten(OpBuilder ops, Value y, Value spatialSource, long outChannels, int k) =>
        k == 1 ? ops.Reshape(y, 0, outChannels, -1)
            : ops.Reshape(y, ops.Concat([ops.Int64s(0, outChannels), ops.Shape(spatialSource, 2, 2 + k)], 0));

    /// <summary>The weight in <paramref name="dims"/>: a new constant when it is one, else a run-time Reshape.</summary>
    private static Value Weight(OpBuilder ops, Conv1x1Match match, long[] dims, long[] runtimeShape) =>
        match.WeightConstant is { } w
            ? ops.Constant(WeightMath.Reshaped(w, dims, match.Weight.Name + "_" + (match.Kind is ChannelMapKind.Dense or ChannelMapKind.Grouped ? "matmul" : "mul")))
            : ops.Reshape(match.Weight, runtimeShape);

    private static Value BiasOf(OpBuilder ops, Conv1x1Match match, long[] dims, long[] runtimeShape) =>
        match.BiasConstant is { } b
            ? ops.Constant(WeightMath.Reshaped(b, dims, match.Bias!.Name + "_column"))
            : ops.Reshape(match.Bias!, runtimeShape);
}
