using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules;

/// <summary>The form <c>onnxconv rewrite --to</c> converts into.</summary>
public enum RewriteTarget
{
    /// <summary>Every 1x1 Conv becomes MatMul (Mul for depthwise).</summary>
    MatMul,
    /// <summary>1x1 Convs on 1×1 maps become Gemm; the others MatMul.</summary>
    Gemm,
    /// <summary>MatMul/Gemm with a constant 2-D weight becomes a 1x1 Conv.</summary>
    Conv,
}

public static class RewriteTargets
{
    /// <summary>The rules that rewrite a model towards <paramref name="target"/>, in the order they are tried.</summary>
    public static IReadOnlyList<IRewriteRule> RulesFor(RewriteTarget target) => target switch
    {
        RewriteTarget.MatMul => [new Conv1x1ToMatMul()],
        RewriteTarget.Gemm => [new Conv1x1ToGemm()],
        RewriteTarget.Conv => [new MatMulToConv1x1()],
        _ => throw new ArgumentOutOfRangeException(nameof(target), target, null),
    };

    /// <summary>Fresh checks of the rules that apply to 1x1 Convs, for the audit's per-node <c>rewrites</c> field.</summary>
    public static IReadOnlyList<Analysis.IConv1x1RewriteCheck> Conv1x1Checks() =>
        [new RuleApplicabilityCheck(new Conv1x1ToMatMul()), new RuleApplicabilityCheck(new Conv1x1ToGemm())];

    /// <summary>Every rule, for audits that report which rewrites apply to each node.</summary>
    public static IReadOnlyList<IRewriteRule> All { get; } = [new Conv1x1ToMatMul(), new Conv1x1ToGemm(), new MatMulToConv1x1()];
}
