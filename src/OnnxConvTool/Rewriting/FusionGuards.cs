using OnnxConvTool.Ir;

namespace OnnxConvTool.Rewriting;

/// <summary>
/// The guard checklist every fusion and rewrite reuses. Each guard returns null when it holds, or the
/// sentence that explains why the rewrite must not happen.
/// </summary>
public static class FusionGuards
{
    /// <summary>An intermediate value the rewrite swallows: exactly one consumer and not a graph output.</summary>
    public static string? SingleConsumer(Value value)
    {
        if (value.IsGraphOutput) return $"'{value.Name}' is a graph output, so it must stay";
        return value.Uses.Count switch
        {
            0 => $"'{value.Name}' has no consumer",
            1 => null,
            int n => $"'{value.Name}' has {n} consumers, so it must stay",
        };
    }

    /// <summary>
    /// A weight or parameter the rewrite bakes in: an initializer or <c>Constant</c> node output that no graph
    /// input can override (IR &lt; 4 lists initializers as inputs, which makes them overridable).
    /// </summary>
    public static string? ConstantWeight(Value value, string role)
    {
        if (value.Initializer is not null && value.IsGraphInput)
            return $"the {role} '{value.Name}' is also a graph input, so a caller may override it";
        if (Model.TryGetConstant(value) is not null) return null;
        return value.Producer is { OpType: "Constant" }
            ? $"the {role} '{value.Name}' comes from a Constant node whose value cannot be read"
            : $"the {role} '{value.Name}' is computed at run time, not a constant";
    }

    /// <summary>
    /// True when <paramref name="weight"/> is used by a node other than <paramref name="node"/> (or is a graph
    /// output): a rewrite must then copy it, never change it in place.
    /// </summary>
    public static bool IsUsedOutside(Value weight, Node node) =>
        weight.IsGraphOutput || weight.Uses.Any(u => !ReferenceEquals(u.Node, node));

    /// <summary>The node is in the default ONNX domain (custom-domain ops with the same name mean something else).</summary>
    public static string? OnnxDomain(Node node) =>
        node.IsOnnxDomain ? null : $"'{node.DisplayName}' is in domain '{node.Domain}', not the default ONNX domain";

    /// <summary>BatchNormalization in inference form: one output and not in training mode.</summary>
    public static string? InferenceBatchNorm(Node batchNorm)
    {
        if (batchNorm.GetInt("training_mode", 0) != 0) return $"'{batchNorm.DisplayName}' runs in training mode";
        if (batchNorm.Outputs.Count > 1 && batchNorm.Outputs.Skip(1).Any(o => o.Uses.Count > 0 || o.IsGraphOutput))
            return $"'{batchNorm.DisplayName}' also outputs running statistics that are used";
        return null;
    }

    /// <summary>
    /// A bias may be folded into an op only when no padding sits between them: padded positions would
    /// otherwise receive the bias. <paramref name="pads"/> are the pads applied between the two.
    /// </summary>
    public static string? NoBiasAcrossPadding(IReadOnlyList<long> pads, string biasName) =>
        pads.Any(p => p != 0) ? $"folding bias '{biasName}' across padding would add it to padded positions" : null;
}
