using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Rules.Merges;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// A Conv a merge may consume: default domain, constant float weight <c>[M, C/g, k…]</c> and optional constant bias
/// <c>[M]</c>, known geometry. Values are read in float64; the weight only when asked for, whole
/// (<see cref="Weight"/>) or a range at a time (<see cref="WeightReader"/>).
/// </summary>
internal sealed record MergeableConv(Node Conv, ConvGeometry Geometry, Tensor WeightTensor, double[]? Bias, DataType ElementType)
{
    private double[]? _weight;

    /// <summary>The weight decoded to float64 (decoded once, on first use).</summary>
    public double[] Weight => _weight ??= WeightTensor.ToDoubleArray();

    /// <summary>
    /// Reads ranges of the weight in float64 without decoding it whole: from its file when it lives in one,
    /// from the decoded copy when there is one or the data has no raw form.
    /// </summary>
    public ElementReader WeightReader()
    {
        if (_weight is null && WeightTensor.HasRawForm) return WeightTensor.DecodeRange;
        return ConvMergeMath.Reader(Weight);
    }

    public long OutChannels => Geometry.OutChannels!.Value;
    public long InPerGroup => Geometry.InChannelsPerGroup!.Value;
    public long InChannels => InPerGroup * Geometry.Group;
    public long KernelVolume => Geometry.Kernel!.Aggregate(1L, (a, k) => a * k);
    public long Parameters => WeightTensor.ElementCount + (Bias?.Length ?? 0);

    /// <summary>Padding of any kind: explicit non-zero pads, or SAME auto-padding.</summary>
    public bool Pads => Geometry.AutoPad is AutoPad.SameUpper or AutoPad.SameLower || (Geometry.AutoPad == AutoPad.NotSet && Geometry.Pads.Any(p => p != 0));

    /// <summary>
    /// Reads <paramref name="conv"/> for a merge; null on success, else why it cannot be merged.
    /// <paramref name="role"/> names it in sentences ("the first convolution").
    /// </summary>
    public static string? TryRead(Node conv, string role, RewriteContext context, out MergeableConv mergeable)
    {
        mergeable = null!;
        if (FusionGuards.OnnxDomain(conv) is { } domain) return domain;
        if (conv.Input(0) is null || conv.Input(1) is not { } weight || conv.Outputs.Count != 1)
            return $"{role} '{conv.DisplayName}' lacks its input or weight, or has more than one output";
        if (FusionGuards.FoldableConstant(weight, $"weight of {role}", context, out var w) is { } notConstant) return notConstant;
        if (!FloatElements.IsSupported(w.ElementType))
            return $"the weight '{weight.Name}' is {ElementTypes.Name(w.ElementType)}, not a float type";
        var geometry = ConvGeometry.Read(conv, new TensorShape(w.ElementType, w.Dims.Select(Dim.Known).ToArray()));
        if (geometry.Problem is { } problem) return problem;
        if (w.Rank != geometry.SpatialRank + 2) return $"the weight '{weight.Name}' has rank {w.Rank}, not {geometry.SpatialRank + 2}";
        double[]? bias = null;
        if (conv.Input(2) is { } biasValue)
        {
            if (FusionGuards.FoldableConstant(biasValue, $"bias of {role}", context, out var b) is { } biasNotConstant) return biasNotConstant;
            if (b.ElementType != w.ElementType)
                return $"the bias '{biasValue.Name}' is {ElementTypes.Name(b.ElementType)} but the weight is {ElementTypes.Name(w.ElementType)}";
            if (b.ElementCount != w.Dims[0]) return $"the bias '{biasValue.Name}' has {b.ElementCount} values for {w.Dims[0]} output channels";
            bias = b.ToDoubleArray();
        }
        mergeable = new MergeableConv(conv, geometry, w, bias, w.ElementType);
        return null;
    }

    /// <summary>
    /// Float64 <paramref name="weight"/> and <paramref name="bias"/> of a merged Conv stored in <paramref name="type"/>,
    /// each value rounded once; null with the reason when a value is not finite or overflows the type.
    /// </summary>
    public static (RoundedTensor Weight, RoundedTensor? Bias)? Store(string name, DataType type, long[] dims, double[] weight, double[]? bias, out string? reason)
    {
        reason = WeightMath.WhyNotRepresentable(type, weight, "the merged weight") ?? (bias is null ? null : WeightMath.WhyNotRepresentable(type, bias, "the merged bias"));
        if (reason is not null) return null;
        return (WeightMath.Store(name, type, dims, weight), bias is null ? null : WeightMath.Store(name + "_bias", type, [dims[0]], bias));
    }

    /// <summary>This Conv's MACs at its inferred output shape, or null when unknown.</summary>
    public MacCount? Macs(RewriteContext context) => MacCount.OfConv(context.ShapeOf(Conv.Outputs[0]), InPerGroup, KernelVolume);
}
