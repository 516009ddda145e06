using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Rules.Folds;

/// <summary>
/// Replaces <c>Conv(Pad(x))</c> with <c>Conv(x)</c> whose pads grow by the Pad's, for a zero constant-mode Pad on spatial axes.
/// </summary>
/// <remarks>
/// <para>Algebra: a Conv's pads are zeros added around its input's spatial axes, so a constant-mode Pad with
/// value 0 and non-negative pads on the spatial axes only is the same thing: pads′ = pads + the Pad's pads, axis
/// by axis (begin values, then end values). Every other attribute of the Conv stays.</para>
/// <para>Preconditions, each failing with its own sentence:
/// (1) the Conv is in the default domain and its input comes from a Pad in the default domain, in the same graph;
/// (2) the Pad's output has one consumer and is not a graph output;
/// (3) the Conv's auto_pad is NOTSET (explicit pads) and its geometry is valid;
/// (4) the Pad's mode is constant (not reflect, edge or wrap);
/// (5) its pads (attribute <c>paddings</c>/<c>pads</c>, or input since opset 11; a constant or a value shape
/// inference computes from constants, as tf2onnx's Split/Concat of a constant) and axes (input since opset 18)
/// are known;
/// (6) its pad value (attribute <c>value</c>, or input since opset 11) is 0;
/// (7) the batch and channel axes are not padded and no pad is negative.</para>
/// </remarks>
internal sealed class FusePadIntoConv : RewriteRule<ConvFoldMatch>
{
    public const string RuleId = "fuse-pad-into-conv";

    public override string Id => RuleId;

    public override string Summary => "Replaces Conv(Pad(x)) with Conv(x) and larger pads, for a constant-mode zero Pad on spatial axes.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Conv"];

    public override bool IsCandidate(Node node) => node.OpType == "Conv";

    public override MatchResult<ConvFoldMatch> TryMatch(Node conv, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(conv) is { } domain) return MatchResult.Fail(domain);
        if (conv.Input(0)?.Producer is not { OpType: "Pad" } pad)
            return MatchResult.Fail($"the input of '{conv.DisplayName}' does not come from a Pad");
        if (FusionGuards.OnnxDomain(pad) is { } padDomain) return MatchResult.Fail(padDomain);
        if (!ReferenceEquals(pad.Graph, conv.Graph)) return MatchResult.Fail($"'{pad.DisplayName}' is in another graph than '{conv.DisplayName}'");
        if (pad.Input(0) is not { } data || pad.Outputs.Count != 1) return MatchResult.Fail($"'{pad.DisplayName}' lacks its data input");
        if (FusionGuards.SingleConsumer(pad.Outputs[0]) is { } shared) return MatchResult.Fail(shared);

        var weightShape = conv.Input(1) is { } w ? (Model.TryGetConstant(w) ?? w.Initializer) is { } t
            ? new TensorShape(t.ElementType, t.Dims.Select(Dim.Known).ToArray()) : context.ShapeOf(w) : new TensorShape(null, null);
        var geometry = ConvGeometry.Read(conv, weightShape);
        if (geometry.Problem is { } problem) return MatchResult.Fail(problem);
        if (geometry.AutoPad != AutoPad.NotSet)
            return MatchResult.Fail($"'{conv.DisplayName}' has auto_pad {geometry.AutoPadText}, so its pads cannot absorb explicit padding");
        int k = geometry.SpatialRank, rank = k + 2;

        string mode = pad.GetString("mode", "constant");
        if (mode != "constant") return MatchResult.Fail($"'{pad.DisplayName}' pads in mode '{mode}', not with a constant");
        if (ReadPadValue(pad, context) is { } valueProblem) return MatchResult.Fail(valueProblem);
        var pads = AttrOrInput.Ints(pad, "pads", resolve: value => Model.TryGetConstant(value) is { } t && ElementTypes.IsInteger(t.ElementType)
            ? t.ToInt64Array() : context.Shapes.TryGetInts(value));
        if (pads.Values is not { } padValues) return MatchResult.Fail($"the pads of '{pad.DisplayName}' are not constant: {pads.Description}");
        if (ReadAxes(pad, context, rank, out var axes) is { } axesProblem) return MatchResult.Fail(axesProblem);
        axes ??= Enumerable.Range(0, rank).ToArray();
        if (padValues.Length != 2 * axes.Length)
            return MatchResult.Fail($"'{pad.DisplayName}' has {padValues.Length} pads for {axes.Length} axes");

        var added = new long[2 * k];
        for (int i = 0; i < axes.Length; i++)
        {
            long begin = padValues[i], end = padValues[axes.Length + i];
            if (begin < 0 || end < 0) return MatchResult.Fail($"'{pad.DisplayName}' has negative pads [{string.Join(",", padValues)}] (cropping)");
            if (axes[i] < 2)
            {
                if (begin != 0 || end != 0)
                    return MatchResult.Fail($"'{pad.DisplayName}' pads the {(axes[i] == 0 ? "batch" : "channel")} axis, which a Conv cannot");
                continue;
            }
            added[axes[i] - 2] += begin;
            added[k + axes[i] - 2] += end;
        }
        var newPads = geometry.Pads.Zip(added, (a, b) => a + b).ToArray();
        return new ConvFoldMatch(conv, pad, data, null, null, newPads,
            $"folded Pad '{pad.DisplayName}' into the Conv's pads [{string.Join(",", newPads)}]");
    }

    /// <summary>Null when the Pad's fill value is 0 (attribute <c>value</c> before opset 11, optional input 2 since).</summary>
    private static string? ReadPadValue(Node pad, RewriteContext context)
    {
        double value;
        if (context.Opset < OpsetVersion.PadInputs) value = pad.GetFloat("value", 0f);
        else if (pad.Input(2) is not { } input) value = 0;
        else
        {
            if (FusionGuards.FoldableConstant(input, "pad value", context, out var tensor) is { } notConstant) return notConstant;
            if (tensor.ElementCount != 1) return $"the pad value '{input.Name}' has {tensor.ElementCount} elements, not 1";
            value = tensor.ToDoubleArray()[0];
        }
        return value == 0 ? null : $"'{pad.DisplayName}' pads with {value.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}, not 0";
    }

    /// <summary>The Pad's axes (optional input 3 since opset 18), normalised to 0..rank−1; null axes means all.</summary>
    private static string? ReadAxes(Node pad, RewriteContext context, int rank, out int[]? axes)
    {
        axes = null;
        if (context.Opset < 18 || pad.Input(3) is not { } input) return null;
        if (FusionGuards.FoldableConstant(input, "pad axes", context, out var tensor) is { } notConstant) return notConstant;
        var raw = tensor.ToInt64Array();
        axes = new int[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            long axis = raw[i] < 0 ? raw[i] + rank : raw[i];
            if (axis < 0 || axis >= rank) return $"'{pad.DisplayName}' names axis {raw[i]}, outside rank {rank}";
            axes[i] = (int)axis;
        }
        if (axes.Distinct().Count() != axes.Length) return $"'{pad.DisplayName}' names an axis twice";
        return null;
    }

    public override string Describe(ConvFoldMatch match) => match.Description;

    public override void Rewrite(ConvFoldMatch match, GraphRewriter rewriter) => ConvFold.Apply(match, rewriter);
}
