using OnnxConvTool.Ir;
using OnnxConvTool.Ops;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Analysis;

/// <summary>
/// Multiply-accumulates of the ops that carry a network's arithmetic (Conv, ConvTranspose, MatMul, Gemm),
/// computed from shapes, for the whole tensors the op sees (the batch dimension included). Null when a
/// dimension the count needs is unknown or symbolic: fix it with <c>--shape</c>. Bias additions are not
/// multiply-accumulates and are not counted.
/// </summary>
/// <remarks>
/// Conv: |Y| · (C/group) · ∏kernel (Y = [N, M, o₁, …]). ConvTranspose: |X| · (M/group) · ∏kernel
/// (X = [N, C, i₁, …], W = [C, M/group, k…]). MatMul: |Y| · K (K = last dim of A). Gemm: M · N · K.
/// </remarks>
internal static class CostModel
{
    /// <summary>Whether the node is a Conv, ConvTranspose, MatMul or Gemm whose work counts (one with no output computes nothing).</summary>
    public static bool CountsMacs(Node node) =>
        node.IsOnnxDomain && node.OpType is "Conv" or "ConvTranspose" or "MatMul" or "Gemm" && node.Outputs.Count > 0;

    /// <summary>The node's MACs, or null when it is not a counted op or a needed dimension is unknown.</summary>
    public static long? Macs(Node node, ShapeInferenceResult shapes)
    {
        if (!CountsMacs(node)) return null;
        return node.OpType switch
        {
            "Conv" => ConvMacs(node, shapes),
            "ConvTranspose" => ConvTransposeMacs(node, shapes),
            "MatMul" => MatMulMacs(node, shapes),
            _ => GemmMacs(node, shapes),
        };
    }

    /// <summary>
    /// The shape of <paramref name="value"/>: a constant's dims when it is a constant, else the inferred (or declared) shape.
    /// An initializer that is also a graph input takes the inferred shape, since a caller may feed another one.
    /// </summary>
    public static TensorShape ShapeOf(Value? value, ShapeInferenceResult shapes)
    {
        if (value is null) return new TensorShape(null, null);
        if (Model.TryGetConstant(value) is { } constant)
            return new TensorShape(constant.ElementType, constant.Dims.Select(Dim.Known).ToArray());
        var inferred = shapes.Get(value);
        if (inferred.Dims is null && value.Initializer is { } initializer)
            return new TensorShape(initializer.ElementType, initializer.Dims.Select(Dim.Known).ToArray());
        return inferred;
    }

    private static long? ConvMacs(Node node, ShapeInferenceResult shapes)
    {
        var output = shapes.Get(node.Outputs[0]).ElementCount;
        var conv = ConvGeometry.Read(node, ShapeOf(node.Input(1), shapes));
        long? kernel = conv.Kernel?.Aggregate(1L, (a, k) => a * k);
        return Multiply(output, conv.InChannelsPerGroup, kernel);
    }

    private static long? ConvTransposeMacs(Node node, ShapeInferenceResult shapes)
    {
        var input = ShapeOf(node.Input(0), shapes).ElementCount;
        var weight = ShapeOf(node.Input(1), shapes);
        if (weight.Dims is not { Count: > 2 } w) return null;
        long? kernel = node.GetInts("kernel_shape")?.Aggregate(1L, (a, k) => a * k)
            ?? new TensorShape(null, w.Skip(2).ToArray()).ElementCount;
        return Multiply(input, w[1].Value, kernel);
    }

    private static long? MatMulMacs(Node node, ShapeInferenceResult shapes)
    {
        var a = ShapeOf(node.Input(0), shapes);
        if (a.Dims is not { Count: > 0 } dims) return null;
        return Multiply(shapes.Get(node.Outputs[0]).ElementCount, dims[^1].Value);
    }

    private static long? GemmMacs(Node node, ShapeInferenceResult shapes)
    {
        if (ShapeOf(node.Input(0), shapes).Dims is not { Count: 2 } a || ShapeOf(node.Input(1), shapes).Dims is not { Count: 2 } b)
            return null;
        bool transA = node.GetInt("transA", 0) != 0, transB = node.GetInt("transB", 0) != 0;
        var m = transA ? a[1] : a[0];
        var k = transA ? a[0] : a[1];
        var n = transB ? b[0] : b[1];
        return Multiply(m.Value, n.Value, k.Value);
    }

    private static long? Multiply(params long?[] factors)
    {
        long product = 1;
        foreach (var f in factors)
        {
            if (f is null) return null;
            product = checked(product * f.Value);
        }
        return product;
    }
}
