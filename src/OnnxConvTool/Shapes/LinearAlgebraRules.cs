using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>Gemm and MatMul (with numpy batch broadcasting and the 1-D promotions), and their integer forms.</summary>
internal static class LinearAlgebraRules
{
    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        rules["Gemm"] = Gemm;
        rules["MatMul"] = c => MatMul(c, 0, 1, c.Type(0));
        rules["MatMulInteger"] = c => MatMul(c, 0, 1, DataType.Int32);
        rules["QLinearMatMul"] = c => MatMul(c, 0, 3, c.HasInput(7) ? c.Type(7) : DataType.Uint8);
    }

    /// <summary>Y = alpha * A' * B' + beta * C with A' [M, K] and B' [K, N] after the optional transposes.</summary>
    private static void Gemm(NodeContext c)
    {
        var a = c.Dims(0);
        var b = c.Dims(1);
        DimExpr? m = a is { Length: 2 } ? a[c.Int("transA", 0) != 0 ? 1 : 0] : null;
        DimExpr? n = b is { Length: 2 } ? b[c.Int("transB", 0) != 0 ? 0 : 1] : null;
        c.SetOutput(0, c.Type(0) ?? c.Type(1), [m, n]);
    }

    /// <summary>numpy.matmul: a 1-D left operand gets a leading 1 and a 1-D right operand a trailing 1, both removed again.</summary>
    private static void MatMul(NodeContext c, int left, int right, DataType? type)
    {
        var a = c.Dims(left);
        var b = c.Dims(right);
        if (a is null || b is null || a.Length == 0 || b.Length == 0)
        {
            c.SetOutput(0, type, null);
            return;
        }
        bool vectorLeft = a.Length == 1;
        bool vectorRight = b.Length == 1;
        var a2 = vectorLeft ? [DimExpr.Of(1), a[0]] : a;
        var b2 = vectorRight ? [b[0], DimExpr.Of(1)] : b;
        var batch = ShapeMath.Broadcast(a2[..^2], b2[..^2]);
        var output = batch.ToList();
        if (!vectorLeft) output.Add(a2[^2]);
        if (!vectorRight) output.Add(b2[^1]);
        c.SetOutput(0, type, output.ToArray());
    }
}
