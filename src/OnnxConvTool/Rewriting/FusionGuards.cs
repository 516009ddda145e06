using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.Ops;

namespace OnnxConvTool.Rewriting;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The guard checklist every fusion and rewrite reuses. Each guard returns null when it holds, or the
/// sentence that explains why the rewrite must not happen.
/// </summary>
internal static class FusionGuards
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
    /// <see cref="ConstantWeight(Value, string)"/> for a fold: with <see cref="RewriteContext.FoldOverridableInitializers"/>
    /// an initializer that is also a graph input counts as a constant. On success <paramref name="tensor"/> is its data.
    /// </summary>
    public static string? FoldableConstant(Value value, string role, RewriteContext context, out Tensor tensor)
    {
        tensor = null!;
        if (context.FoldOverridableInitializers && value.Initializer is { } overridable)
        {
            tensor = overridable;
            return null;
        }
        if (ConstantWeight(value, role) is { } reason)
            return value.Initializer is not null && value.IsGraphInput ? reason + " (IR < 4 lists initializers as inputs; folding those must be asked for explicitly)" : reason;
        tensor = Model.TryGetConstant(value)!;
        return null;
    }

    /// <summary>
    /// A fold keeps the node's element type: <paramref name="role"/>'s type must equal <paramref name="expected"/>,
    /// the type of the value the fused node replaces.
    /// </summary>
    public static string? SameElementType(DataType actual, DataType expected, string role) =>
        actual == expected ? null
            : $"the {role} is {ElementTypes.Name(actual)} but the result is {ElementTypes.Name(expected)}; the fold would change the element type";

    /// <summary>
    /// A folded constant is computed in float64 and stored once rounded: every value must be finite and fit
    /// the stored type (float16 and bfloat16 overflow easily).
    /// </summary>
    public static string? FitsElementType(ReadOnlySpan<double> truth, DataType type, string what) =>
        WeightMath.WhyNotRepresentable(type, truth, what);

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

    /// <summary>
    /// <see cref="NoBiasAcrossPadding(IReadOnlyList{long}, string)"/> for the padding a Conv applies to its input:
    /// explicit pads, or SAME auto-padding with a kernel above 1 (whose pads depend on the input size).
    /// </summary>
    public static string? NoBiasAcrossPadding(ConvGeometry geometry, string biasName)
    {
        if (geometry.AutoPad is AutoPad.SameUpper or AutoPad.SameLower && !geometry.IsPointwise)
            return $"folding bias '{biasName}' across the {geometry.AutoPadText} padding of a {geometry.KernelText} kernel would add it to padded positions";
        return geometry.AutoPad is AutoPad.NotSet ? NoBiasAcrossPadding(geometry.Pads, biasName) : null;
    }
}
