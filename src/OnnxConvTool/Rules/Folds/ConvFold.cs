using System.Globalization;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Rules.Folds;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// One fold of a neighbour into a Conv or ConvTranspose that stays in place: the swallowed node, the Conv's new
/// data input (when the swallowed node sat before it), new weight and bias (computed in float64, stored once
/// rounded) and new pads. Everything is decided while matching; the rewrite only rewires.
/// </summary>
/// <param name="Swallowed">The node the fold removes.</param>
/// <param name="NewInput">The Conv's new data input when <paramref name="Swallowed"/> fed it; null when it consumed the Conv's output.</param>
/// <param name="Weight">The new weight, or null when the weight stays.</param>
/// <param name="Bias">The new bias, or null when the bias stays.</param>
/// <param name="Pads">The Conv's new pads, or null when they stay.</param>
/// <param name="Description">What the fold does, for reports.</param>
/// <param name="Conv">The Conv or ConvTranspose that stays.</param>
internal sealed record ConvFoldMatch(Node Conv, Node Swallowed, Value? NewInput, RoundedTensor? Weight, RoundedTensor? Bias, long[]? Pads,
    string Description)
{
    /// <summary>The largest distance, in ULPs of the element type, of a stored folded value from its float64 truth (0 when nothing was recomputed).</summary>
    public double MaxDeviationUlps => Math.Max(Weight?.MaxDeviationUlps ?? 0, Bias?.MaxDeviationUlps ?? 0);
}

/// <summary>
/// A Conv or ConvTranspose whose weight (and bias) a fold may recompute: both constants of one float type.
/// Conv weight [M, C/g, k…]; ConvTranspose weight [C, M/g, k…].
/// </summary>
internal sealed record FoldableConv(Node Conv, bool Transposed, Value Weight, Tensor WeightTensor, Value? Bias, Tensor? BiasTensor,
    DataType ElementType, long Group, long OutChannels, long InChannels)
{
    /// <summary>Rank of the Conv's input and output: the weight's rank.</summary>
    public int Rank => WeightTensor.Rank;

    public string Kind => Conv.OpType;
}

/// <summary>What the fold rules share: reading the Conv and BatchNormalization parameters, folding, rewiring.</summary>
internal static class ConvFold
{
    public static bool IsConvOrTranspose(Node? node) => node is { OpType: "Conv" or "ConvTranspose", IsOnnxDomain: true };

    /// <summary>Reads a Conv or ConvTranspose for a fold; null on success, else why it cannot be folded into.</summary>
    public static string? TryRead(Node conv, RewriteContext context, out FoldableConv foldable)
    {
        foldable = null!;
        if (FusionGuards.OnnxDomain(conv) is { } domain) return domain;
        if (conv.Input(0) is null || conv.Input(1) is not { } weight || conv.Outputs.Count != 1)
            return $"'{conv.DisplayName}' lacks its input or weight, or has more than one output";
        if (FusionGuards.FoldableConstant(weight, "weight", context, out var w) is { } notConstant) return notConstant;
        var type = w.ElementType;
        if (!FloatElements.IsSupported(type))
            return $"the weight '{weight.Name}' is {ElementTypes.Name(type)}; only float, float16, double and bfloat16 weights are folded";
        if (w.Rank < 3) return $"the weight '{weight.Name}' has rank {w.Rank}; a convolution weight has at least 3";
        bool transposed = conv.OpType == "ConvTranspose";
        long group = conv.GetInt("group", 1);
        if (group < 1 || w.Dims[0] % group != 0)
            return $"group {group} does not divide the {w.Dims[0]} channels along the first axis of the weight '{weight.Name}'";
        if (!transposed && ConvGeometry.Read(conv, new TensorShape(type, w.Dims.Select(Dim.Known).ToArray())).Problem is { } problem)
            return problem;
        long outChannels = transposed ? w.Dims[1] * group : w.Dims[0];
        long inChannels = transposed ? w.Dims[0] : w.Dims[1] * group;

        Tensor? b = null;
        var bias = conv.Input(2);
        if (bias is not null)
        {
            if (FusionGuards.FoldableConstant(bias, "bias", context, out b) is { } biasNotConstant) return biasNotConstant;
            if (FusionGuards.SameElementType(b.ElementType, type, $"bias '{bias.Name}'") is { } biasType) return biasType;
            if (b.Rank != 1 || b.Dims[0] != outChannels)
                return $"the bias '{bias.Name}' has shape {b.FormatDims()}, not [{outChannels}]";
        }
        foldable = new FoldableConv(conv, transposed, weight, w, bias, b, type, group, outChannels, inChannels);
        return null;
    }

    /// <summary>
    /// Reads an inference-form BatchNormalization over <paramref name="channels"/> channels as the per-channel
    /// affine map <c>y = s·x + t</c> with <c>s = γ/√(σ² + ε)</c> and <c>t = β − μ·s</c>, in float64.
    /// Null on success, else why it cannot be folded.
    /// </summary>
    public static string? TryReadBatchNorm(Node bn, RewriteContext context, long channels, out double[] scale, out double[] shift)
    {
        scale = shift = [];
        if (FusionGuards.OnnxDomain(bn) is { } domain) return domain;
        if (FusionGuards.InferenceBatchNorm(bn) is { } training) return training;
        if (context.Opset < 7 && bn.GetInt("is_test", 0) == 0)
            return $"'{bn.DisplayName}' has is_test = 0, the training form of BatchNormalization before opset 7";
        if (context.Opset < 9 && bn.GetInt("spatial", 1) == 0)
            return $"'{bn.DisplayName}' has spatial = 0 (statistics per activation, not per channel)";
        if (bn.Inputs.Count < 5 || bn.Inputs.Take(5).Any(i => i is null)) return $"'{bn.DisplayName}' lacks one of its five inputs";
        string[] roles = ["scale", "bias", "mean", "variance"];
        var parameters = new double[4][];
        for (int i = 0; i < 4; i++)
        {
            var value = bn.Inputs[i + 1]!;
            if (FusionGuards.FoldableConstant(value, $"BatchNormalization {roles[i]}", context, out var tensor) is { } notConstant) return notConstant;
            if (!FloatElements.IsSupported(tensor.ElementType))
                return $"the BatchNormalization {roles[i]} '{value.Name}' is {ElementTypes.Name(tensor.ElementType)}, not a float type";
            if (tensor.Rank != 1 || tensor.Dims[0] != channels)
                return $"the BatchNormalization {roles[i]} '{value.Name}' has shape {tensor.FormatDims()}, not [{channels}] (one value per channel)";
            parameters[i] = tensor.ToDoubleArray();
        }
        double epsilon = bn.GetFloat("epsilon", 1e-5f);
        scale = new double[channels];
        shift = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            double denominator = parameters[3][c] + epsilon;
            if (!(denominator > 0))
                return $"variance + epsilon of '{bn.DisplayName}' is {denominator.ToString("G6", CultureInfo.InvariantCulture)} at channel {c}, not positive";
            scale[c] = parameters[0][c] / Math.Sqrt(denominator);
            shift[c] = parameters[1][c] - parameters[2][c] * scale[c];
        }
        return null;
    }

    /// <summary>
    /// The new weight and bias for <c>a·Conv(x) + d</c>; <paramref name="changesWeight"/> false keeps the weight
    /// (a pure shift). Null on success, else why the folded values cannot be stored.
    /// </summary>
    public static string? FoldAfter(FoldableConv conv, double[] scale, double[] shift, bool changesWeight,
        out RoundedTensor? weight, out RoundedTensor? bias)
    {
        var (w, b) = ConvWeightMath.FoldOutputAffine(conv.WeightTensor.ToDoubleArray(), conv.WeightTensor.Dims, conv.BiasTensor?.ToDoubleArray(),
            scale, shift, conv.Group, conv.Transposed);
        return Store(conv, changesWeight ? w : null, b, out weight, out bias);
    }

    /// <summary>The new weight and bias for <c>Conv(a·x + d)</c> (a Conv without padding when d ≠ 0).</summary>
    public static string? FoldBefore(FoldableConv conv, double[] scale, double[] shift, bool changesWeight,
        out RoundedTensor? weight, out RoundedTensor? bias)
    {
        var (w, b) = ConvWeightMath.FoldInputAffine(conv.WeightTensor.ToDoubleArray(), conv.WeightTensor.Dims, conv.BiasTensor?.ToDoubleArray(),
            scale, shift, conv.Group);
        return Store(conv, changesWeight ? w : null, b, out weight, out bias);
    }

    /// <summary>
    /// Checks and stores the folded weight (null: unchanged) and bias. The bias stays as it is when the fold leaves
    /// it unchanged: equal to the stored one, or all zeros on a Conv without bias.
    /// </summary>
    private static string? Store(FoldableConv conv, double[]? w, double[] b, out RoundedTensor? weight, out RoundedTensor? bias)
    {
        weight = null;
        bias = null;
        if (w is not null && FusionGuards.FitsElementType(w, conv.ElementType, $"the folded weight of '{conv.Conv.DisplayName}'") is { } wProblem) return wProblem;
        if (FusionGuards.FitsElementType(b, conv.ElementType, $"the folded bias of '{conv.Conv.DisplayName}'") is { } bProblem) return bProblem;
        if (w is not null) weight = WeightMath.Store(FoldedName(conv.Weight.Name), conv.ElementType, conv.WeightTensor.Dims, w);
        bool biasUnchanged = conv.BiasTensor is { } original ? original.ToDoubleArray().AsSpan().SequenceEqual(b) : b.All(v => v == 0);
        if (!biasUnchanged) bias = WeightMath.Store(FoldedName(conv.Bias?.Name ?? conv.Weight.Name + "_bias"), conv.ElementType, [conv.OutChannels], b);
        return null;
    }

    /// <summary>A name for a folded constant: the original's without earlier fold suffixes, plus one (made unique when added).</summary>
    private static string FoldedName(string original)
    {
        const string Suffix = "_folded";
        int at = original.IndexOf(Suffix, StringComparison.Ordinal);
        return (at > 0 ? original[..at] : original) + Suffix;
    }

    /// <summary>
    /// Applies a match: new weight, bias and pads on the Conv, its data input re-pointed past a swallowed
    /// predecessor, or a swallowed successor's uses re-pointed to the Conv's output (which takes the
    /// successor's output name); then removes the swallowed node and the constants only it used. Reports the
    /// largest deviation of the recomputed constants from their float64 truth.
    /// </summary>
    public static void Apply(ConvFoldMatch match, GraphRewriter rewriter)
    {
        var conv = match.Conv;
        var ops = rewriter.BuilderBefore(conv);
        if (match.Weight is { } weight) rewriter.ReplaceInput(conv, 1, ops.Constant(weight.Tensor));
        if (match.Bias is { } bias) rewriter.ReplaceInput(conv, 2, ops.Constant(bias.Tensor));
        if (match.Pads is { } pads) rewriter.SetAttribute(conv, "pads", pads);
        if (match.Weight is not null || match.Bias is not null) rewriter.ReportDeviationUlps(match.MaxDeviationUlps);
        if (match.NewInput is { } input) rewriter.ReplaceInput(conv, 0, input);
        else rewriter.ReplaceAllUsesWith(match.Swallowed.Outputs[0], conv.Outputs[0], keepName: true);
        rewriter.RemoveNode(match.Swallowed);
    }

    /// <summary>What a fold recomputed, for reports: "new weight and bias, max deviation 0.5 ULP of float32", "new bias, …", or "weight and bias unchanged".</summary>
    public static string ChangeText(RoundedTensor? weight, RoundedTensor? bias, DataType type)
    {
        string what = (weight, bias) switch
        {
            (not null, not null) => "new weight and bias",
            (not null, null) => "new weight",
            (null, not null) => "new bias",
            _ => "weight and bias unchanged",
        };
        if (weight is null && bias is null) return what;
        double deviation = Math.Max(weight?.MaxDeviationUlps ?? 0, bias?.MaxDeviationUlps ?? 0);
        return $"{what}, max deviation {deviation.ToString("0.###", CultureInfo.InvariantCulture)} ULP of {ElementTypes.Name(type)}";
    }

    /// <summary>The conv's output is swallowed by its consumer only: one consumer, not a graph output, same graph.</summary>
    public static string? OutputOnlyFeeds(Node conv, Node consumer)
    {
        if (!ReferenceEquals(conv.Graph, consumer.Graph)) return $"'{conv.DisplayName}' is in another graph than '{consumer.DisplayName}'";
        return FusionGuards.SingleConsumer(conv.Outputs[0]);
    }
}
