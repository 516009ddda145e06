namespace OnnxConvTool.Rules;

/// <summary>The form a model is converted into (<c>rewrite --to</c>, <c>optimize --to</c>).</summary>
public enum RewriteTarget
{
    /// <summary>Every 1x1 Conv becomes MatMul (Mul for depthwise).</summary>
    MatMul,
    /// <summary>1x1 Convs on 1×1 maps become Gemm; the others MatMul.</summary>
    Gemm,
    /// <summary>MatMul/Gemm with a constant 2-D weight becomes a 1x1 Conv.</summary>
    Conv,
}
