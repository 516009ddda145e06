using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules;

public enum AutoPad
{
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// <summary>
/// A Conv node's geometry, read from its attributes and weight: kernel (from <c>kernel_shape</c> or the
/// weight's shape), group, strides, pads, auto_pad and dilations with their ONNX defaults, and the channel
/// counts where known. Dims: weight [M, C/group, k1..kn], input [N, C, d1..dn].
/// </summary>
public sealed record ConvGeometry(
    int SpatialRank,
    long[] Kernel,
    long Group,
    long[] Strides,
    long[] Pads,
    AutoPad AutoPad,
    long[] Dilations,
    long? OutChannels,
    long? InChannelsPerGroup,
    bool HasBias)
{
    /// <summary>Every kernel dim is 1.</summary>
    public bool IsPointwise => Kernel.All(k => k == 1);

    public long? InChannels => InChannelsPerGroup * Group;

    public string KernelText => string.Join("x", Kernel);

    /// <summary>Reads the geometry of <paramref name="conv"/>, or fails with the reason it cannot be known.</summary>
    public static MatchResult<ConvGeometry> Read(Node conv, RewriteContext context)
    {
        if (conv.Input(1) is not { } weight) return MatchResult.Fail($"'{conv.DisplayName}' has no weight input");
        var weightDims = WeightDims(weight, context);
        long[]? kernel = conv.GetInts("kernel_shape");
        if (kernel is null)
        {
            if (weightDims is null || weightDims.Length < 3 || weightDims.Skip(2).Any(d => d is null))
                return MatchResult.Fail($"the kernel size is unknown: no kernel_shape attribute and the weight '{weight.Name}' has no static shape");
            kernel = weightDims.Skip(2).Select(d => d!.Value).ToArray();
        }
        else if (weightDims is not null && weightDims.Length >= 2)
        {
            if (weightDims.Length - 2 != kernel.Length)
                return MatchResult.Fail($"kernel_shape [{string.Join(",", kernel)}] disagrees with the rank of the weight '{weight.Name}'");
            for (int i = 0; i < kernel.Length; i++)
                if (weightDims[2 + i] is { } d && d != kernel[i])
                    return MatchResult.Fail($"kernel_shape [{string.Join(",", kernel)}] disagrees with the shape of the weight '{weight.Name}'");
        }
        int rank = kernel.Length;
        if (rank == 0) return MatchResult.Fail($"'{conv.DisplayName}' has no spatial dims");
        if (kernel.Any(k => k <= 0)) return MatchResult.Fail($"kernel_shape [{string.Join(",", kernel)}] has a dim below 1");

        long group = conv.GetInt("group", 1);
        if (group < 1) return MatchResult.Fail($"group is {group}, below 1");
        long[] strides = conv.GetInts("strides") ?? Ones(rank);
        long[] dilations = conv.GetInts("dilations") ?? Ones(rank);
        long[] pads = conv.GetInts("pads") ?? new long[2 * rank];
        if (strides.Length != rank) return MatchResult.Fail($"strides has {strides.Length} values for {rank} spatial dims");
        if (dilations.Length != rank) return MatchResult.Fail($"dilations has {dilations.Length} values for {rank} spatial dims");
        if (pads.Length != 2 * rank) return MatchResult.Fail($"pads has {pads.Length} values for {rank} spatial dims");
        if (strides.Any(s => s < 1)) return MatchResult.Fail($"strides [{string.Join(",", strides)}] has a value below 1");

        string autoPadText = conv.GetString("auto_pad", "NOTSET");
        AutoPad? autoPad = autoPadText switch
        {
            "NOTSET" or "" => AutoPad.NotSet,
            "SAME_UPPER" => AutoPad.SameUpper,
            "SAME_LOWER" => AutoPad.SameLower,
            "VALID" => AutoPad.Valid,
            _ => null,
        };
        if (autoPad is null) return MatchResult.Fail($"auto_pad '{autoPadText}' is not one ONNX defines");

        long? outChannels = weightDims is { Length: > 0 } ? weightDims[0] : null;
        long? perGroup = weightDims is { Length: > 1 } ? weightDims[1] : null;
        if (outChannels is { } m && m % group != 0)
            return MatchResult.Fail($"the weight's {m} output channels are not a multiple of group {group}");
        return new ConvGeometry(rank, kernel, group, strides, pads, autoPad.Value, dilations, outChannels, perGroup,
            conv.Input(2) is not null);
    }

    /// <summary>The weight's dims, each null where unknown; null when even the rank is unknown.</summary>
    private static long?[]? WeightDims(Value weight, RewriteContext context)
    {
        if (Model.TryGetConstant(weight) is { } tensor) return tensor.Dims.Select(d => (long?)d).ToArray();
        if (weight.Initializer is { } overridable) return overridable.Dims.Select(d => (long?)d).ToArray();
        return context.ShapeOf(weight).Dims?.Select(d => d.Value).ToArray();
    }

    private static long[] Ones(int count) => Enumerable.Repeat(1L, count).ToArray();
}
