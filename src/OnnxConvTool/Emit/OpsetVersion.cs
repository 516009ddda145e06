using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Emit;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The opset versions (default ONNX domain) at which the ops this tool emits changed form or
/// gained element types. <see cref="OpBuilder"/> picks the form; rules ask here before they match.
/// </summary>
internal static class OpsetVersion
{
    /// <summary>Reshape takes <c>shape</c> as an input (before: an attribute).</summary>
    public const int ReshapeShapeInput = 5;

    /// <summary>Pad's attribute is called <c>pads</c> (before: <c>paddings</c>).</summary>
    public const int PadPadsAttribute = 2;

    /// <summary>Pad takes <c>pads</c> and <c>constant_value</c> as inputs.</summary>
    public const int PadInputs = 11;

    /// <summary>Add, Mul and the other binary ops broadcast multidirectionally (before: a <c>broadcast</c> attribute).</summary>
    public const int MultidirectionalBroadcast = 7;

    /// <summary>Slice takes <c>starts</c>, <c>ends</c>, <c>axes</c> and <c>steps</c> as inputs; steps exist only from here.</summary>
    public const int SliceInputs = 10;

    /// <summary>Clip takes <c>min</c> and <c>max</c> as inputs.</summary>
    public const int ClipInputs = 11;

    /// <summary>Squeeze and Unsqueeze take <c>axes</c> as an input.</summary>
    public const int SqueezeAxesInput = 13;

    /// <summary>Split takes <c>split</c> as an input.</summary>
    public const int SplitInput = 13;

    /// <summary>Split may give <c>num_outputs</c> instead of sizes.</summary>
    public const int SplitNumOutputs = 18;

    /// <summary>ReduceSum takes <c>axes</c> as an input.</summary>
    public const int ReduceSumAxesInput = 13;

    /// <summary>The other Reduce ops take <c>axes</c> as an input.</summary>
    public const int ReduceAxesInput = 18;

    /// <summary>Upsample takes <c>scales</c> as an input (before: an attribute).</summary>
    public const int UpsampleScalesInput = 9;

    /// <summary>Resize takes <c>roi</c> as input 1, so <c>scales</c> moves to input 2; <c>sizes</c> (input 3) exists from here.</summary>
    public const int ResizeRoiInput = 11;

    /// <summary>Shape has <c>start</c> and <c>end</c> attributes.</summary>
    public const int ShapeStartEnd = 15;

    /// <summary>Most ops accept bfloat16 from here; convolution and pooling only from <see cref="Bfloat16ConvAndPool"/>.</summary>
    public const int Bfloat16 = 13;

    public const int Bfloat16ConvAndPool = 22;

    /// <summary>The newest opset whose op forms this tool knows; it refuses to emit into newer ones.</summary>
    public const int NewestKnown = 25;

    /// <summary>
    /// The first opset at which <paramref name="opType"/> accepts <paramref name="type"/> for its
    /// data tensors, or null when it never does (or the op is not one this tool emits).
    /// </summary>
    public static int? ElementTypeSince(string opType, DataType type) => type switch
    {
        DataType.Float or DataType.Float16 or DataType.Double => 1,
        DataType.Bfloat16 => opType is "Conv" or "ConvTranspose" or "AveragePool" or "MaxPool" or "GlobalAveragePool" or "GlobalMaxPool"
            ? Bfloat16ConvAndPool : Bfloat16,
        _ => null,
    };

    /// <summary>Null when <paramref name="opType"/> can be emitted for <paramref name="type"/> at <paramref name="opset"/>; else why not.</summary>
    public static string? WhyCannotEmit(string opType, DataType type, int opset)
    {
        if (WhyOpsetUnsupported(opset) is { } reason) return reason;
        int? since = ElementTypeSince(opType, type);
        if (since is null) return $"{opType} does not accept {ElementTypes.Name(type)} tensors";
        return since > opset
            ? $"{opType} accepts {ElementTypes.Name(type)} only from opset {since}, and the model imports opset {opset} (the opset is never raised)"
            : null;
    }

    /// <summary>Null when this tool can emit ops at <paramref name="opset"/>; else why not.</summary>
    public static string? WhyOpsetUnsupported(int opset) =>
        opset <= 0 ? "the model imports no default-domain (ai.onnx) opset"
        : opset > NewestKnown ? $"the model imports opset {opset}, newer than the newest this tool knows ({NewestKnown})"
        : null;
}
