using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Ops;

internal enum AutoPad
{
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// <summary>
/// A Conv node's geometry, read from its attributes and weight: kernel (from <c>kernel_shape</c>, else the
/// weight's shape), group, strides, pads, auto_pad and dilations with their ONNX defaults, and the channel
/// counts where known. Dims: weight [M, C/group, k1..kn], input [N, C, d1..dn].
/// </summary>
/// <remarks>
/// Reading never fails: the audit reports whatever the attributes say. <see cref="Problem"/> is the first
/// reason the geometry is unusable (unknown kernel, attributes that disagree with each other or with the
/// weight); a rewrite needs it to be null.
/// </remarks>
/// <param name="Kernel">Kernel size per spatial axis; null when neither kernel_shape nor the weight's shape gives it.</param>
/// <param name="Pads">Begin pads of every axis, then end pads (ONNX order).</param>
/// <param name="AutoPadText">The auto_pad attribute as written.</param>
/// <param name="Group">The group attribute (1 when absent).</param>
/// <param name="Strides">Stride per spatial axis (ones when absent).</param>
/// <param name="Dilations">Dilation per spatial axis (ones when absent).</param>
/// <param name="OutChannels">M, from the weight's shape; null when unknown.</param>
/// <param name="InChannelsPerGroup">C/group, from the weight's shape; null when unknown.</param>
/// <param name="Problem">Why the geometry is unusable, or null.</param>
internal sealed record ConvGeometry(
    long[]? Kernel,
    long Group,
    long[] Strides,
    long[] Pads,
    string AutoPadText,
    long[] Dilations,
    long? OutChannels,
    long? InChannelsPerGroup,
    string? Problem)
{
    /// <summary>The number of spatial dims: the kernel's length, 0 when the kernel is unknown.</summary>
    public int SpatialRank => Kernel?.Length ?? 0;

    /// <summary>Every kernel dim is 1 (and there is at least one).</summary>
    public bool IsPointwise => Kernel is { Length: > 0 } k && k.All(size => size == 1);

    public long? InChannels => InChannelsPerGroup * Group;

    public string KernelText => Kernel is null ? "unknown" : string.Join("x", Kernel);

    /// <summary>auto_pad parsed; null when it is not a value ONNX defines.</summary>
    public AutoPad? AutoPad => AutoPadText switch
    {
        "NOTSET" or "" => Ops.AutoPad.NotSet,
        "SAME_UPPER" => Ops.AutoPad.SameUpper,
        "SAME_LOWER" => Ops.AutoPad.SameLower,
        "VALID" => Ops.AutoPad.Valid,
        _ => null,
    };

    /// <param name="weightShape">The weight's shape, [M, C/group, k1, …], or null/partly unknown.</param>
    /// <param name="conv">The Conv or ConvTranspose node.</param>
    public static ConvGeometry Read(Node conv, TensorShape weightShape)
    {
        long?[]? weightDims = weightShape.Dims?.Select(d => d.Value).ToArray();
        long[]? kernel = conv.GetInts("kernel_shape");
        if (kernel is null && weightDims is { Length: > 2 } && weightDims.Skip(2).All(d => d is not null))
            kernel = weightDims.Skip(2).Select(d => d!.Value).ToArray();
        int rank = kernel?.Length ?? (weightDims is { Length: > 2 } ? weightDims.Length - 2 : 0);
        long group = conv.GetInt("group", 1);
        long[] strides = conv.GetInts("strides") ?? Repeat(1, rank);
        long[] pads = conv.GetInts("pads") ?? Repeat(0, 2 * rank);
        long[] dilations = conv.GetInts("dilations") ?? Repeat(1, rank);
        string autoPad = conv.GetString("auto_pad", "NOTSET");
        long? outChannels = weightDims is { Length: > 0 } ? weightDims[0] : null;
        long? perGroup = weightDims is { Length: > 1 } ? weightDims[1] : null;
        var geometry = new ConvGeometry(kernel, group, strides, pads, autoPad, dilations, outChannels, perGroup, null);
        return geometry with { Problem = FindProblem(conv, geometry, weightDims) };
    }

    private static string? FindProblem(Node conv, ConvGeometry g, long?[]? weightDims)
    {
        if (conv.Input(1) is not { } weight) return $"'{conv.DisplayName}' has no weight input";
        if (g.Kernel is not { } kernel)
            return $"the kernel size is unknown: no kernel_shape attribute and the weight '{weight.Name}' has no static shape";
        if (conv.GetInts("kernel_shape") is not null && weightDims is not null)
        {
            if (weightDims.Length - 2 != kernel.Length)
                return $"kernel_shape [{string.Join(",", kernel)}] disagrees with the rank of the weight '{weight.Name}'";
            for (int i = 0; i < kernel.Length; i++)
                if (weightDims[2 + i] is { } d && d != kernel[i])
                    return $"kernel_shape [{string.Join(",", kernel)}] disagrees with the shape of the weight '{weight.Name}'";
        }
        int rank = kernel.Length;
        if (rank == 0) return $"'{conv.DisplayName}' has no spatial dims";
        if (kernel.Any(k => k <= 0)) return $"kernel_shape [{string.Join(",", kernel)}] has a dim below 1";
        if (g.Group < 1) return $"group is {g.Group}, below 1";
        if (g.Strides.Length != rank) return $"strides has {g.Strides.Length} values for {rank} spatial dims";
        if (g.Dilations.Length != rank) return $"dilations has {g.Dilations.Length} values for {rank} spatial dims";
        if (g.Pads.Length != 2 * rank) return $"pads has {g.Pads.Length} values for {rank} spatial dims";
        if (g.Strides.Any(s => s < 1)) return $"strides [{string.Join(",", g.Strides)}] has a value below 1";
        if (g.AutoPad is null) return $"auto_pad '{g.AutoPadText}' is not one ONNX defines";
        if (g.OutChannels is { } m && m % g.Group != 0)
            return $"the weight's {m} output channels are not a multiple of group {g.Group}";
        return null;
    }

    private static long[] Repeat(long value, int count) => Enumerable.Repeat(value, count).ToArray();
}
