using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Analysis;

/// <summary>
/// A Conv node's attributes with the ONNX defaults filled in (strides and dilations 1, pads 0, group 1,
/// auto_pad NOTSET) and its kernel: from <c>kernel_shape</c>, else from the weight's shape.
/// </summary>
/// <param name="Kernel">Kernel size per spatial axis; null when neither kernel_shape nor the weight's shape is known.</param>
/// <param name="Pads">Begin pads of every axis, then end pads (ONNX order), length 2 × spatial rank.</param>
public sealed record ConvAttributes(
    int? SpatialRank,
    IReadOnlyList<long>? Kernel,
    long Group,
    IReadOnlyList<long> Strides,
    IReadOnlyList<long> Pads,
    IReadOnlyList<long> Dilations,
    string AutoPad)
{
    public bool IsKernelAllOnes => Kernel is { Count: > 0 } k && k.All(size => size == 1);

    /// <param name="weightShape">The weight's shape, [M, C/group, k₁, …], or null/partly unknown.</param>
    /// <param name="inputShape">The data input's shape, used for the spatial rank when nothing else gives it.</param>
    public static ConvAttributes Read(Node conv, TensorShape weightShape, TensorShape inputShape)
    {
        IReadOnlyList<long>? kernel = conv.GetInts("kernel_shape");
        if (kernel is null && weightShape.Dims is { Count: > 2 } w && w.Skip(2).All(d => d.IsKnown))
            kernel = w.Skip(2).Select(d => d.Value!.Value).ToArray();
        int? rank = kernel?.Count
            ?? (weightShape.Rank is > 2 ? weightShape.Rank - 2 : null)
            ?? (inputShape.Rank is > 2 ? inputShape.Rank - 2 : null);
        return new ConvAttributes(
            rank,
            kernel,
            conv.GetInt("group", 1),
            conv.GetInts("strides") ?? Repeat(1, rank),
            conv.GetInts("pads") ?? Repeat(0, rank is null ? null : 2 * rank),
            conv.GetInts("dilations") ?? Repeat(1, rank),
            conv.GetString("auto_pad", "NOTSET"));
    }

    private static long[] Repeat(long value, int? count) => count is null ? [] : Enumerable.Repeat(value, count.Value).ToArray();
}
