using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>The shape rule of every supported ONNX-domain op, gathered from the rule families.</summary>
internal static class ShapeRules
{
    public static IReadOnlyDictionary<string, Action<NodeContext>> All { get; } = Build();

    private static Dictionary<string, Action<NodeContext>> Build()
    {
        var rules = new Dictionary<string, Action<NodeContext>>(StringComparer.Ordinal);
        ConvPoolRules.Register(rules);
        ElementwiseRules.Register(rules);
        LayoutRules.Register(rules);
        ShapeTensorRules.Register(rules);
        LinearAlgebraRules.Register(rules);
        ReductionRules.Register(rules);
        RecurrentRules.Register(rules);
        ControlFlowRules.Register(rules);
        return rules;
    }

    public static bool IsIntegerOrBool(DataType type) => type is DataType.Int64 or DataType.Int32 or DataType.Int16 or DataType.Int8
        or DataType.Uint64 or DataType.Uint32 or DataType.Uint16 or DataType.Uint8 or DataType.Bool;

    public static bool IsIntegerOrBool(DataType? type) => type is { } t && IsIntegerOrBool(t);
}
