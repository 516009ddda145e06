using OnnxConvTool.Ir;

namespace OnnxConvTool.Emit;

/// <summary>How an int list that may be an attribute or an input was found.</summary>
public enum AttrOrInputSource
{
    /// <summary>Neither the attribute nor the input is present.</summary>
    Absent,
    /// <summary>The node's attribute.</summary>
    Attribute,
    /// <summary>The input's values are known: a constant, or (with a resolver) values inferred ahead of time.</summary>
    ConstantInput,
    /// <summary>The input is computed at run time; <see cref="AttrOrInputInts.Values"/> is null.</summary>
    DynamicInput,
}

/// <summary>An int list read by <see cref="AttrOrInput"/>.</summary>
internal sealed record AttrOrInputInts(AttrOrInputSource Source, long[]? Values, string Description)
{
    public bool IsKnown => Values is not null;
}

/// <summary>Where a node keeps a value at its opset: in attribute <see cref="Attribute"/>, or at input <see cref="Input"/>, or nowhere (both unset).</summary>
internal readonly record struct AttrOrInputSlot(string? Attribute, int Input)
{
    public static AttrOrInputSlot InAttribute(string name) => new(name, -1);
    public static AttrOrInputSlot AtInput(int index) => new(null, index);
    public static AttrOrInputSlot Nowhere => new(null, -1);
}

/// <summary>
/// The read-side twin of <see cref="OpBuilder"/>: reads values that older opsets keep in an attribute
/// and newer ones take as an input (Reshape shape, Slice starts/ends/axes/steps, Pad pads, Squeeze axes,
/// Split sizes, Reduce axes, Resize/Upsample scales). <see cref="Locate"/> is the one table of which opset
/// moved what. An input's values come from a constant, or from a caller's resolver (shape inference passes
/// the values it folded).
/// </summary>
internal static class AttrOrInput
{
    /// <summary>Where <paramref name="opType"/> keeps <paramref name="name"/> at <paramref name="opset"/>.</summary>
    /// <exception cref="ArgumentException">The op never moved <paramref name="name"/> between attribute and input.</exception>
    public static AttrOrInputSlot Locate(string opType, string name, int opset) => (opType, name) switch
    {
        ("Reshape", "shape") => Moved(opset, OpsetVersion.ReshapeShapeInput, name, 1),
        ("Slice", "starts") => Moved(opset, OpsetVersion.SliceInputs, name, 1),
        ("Slice", "ends") => Moved(opset, OpsetVersion.SliceInputs, name, 2),
        ("Slice", "axes") => Moved(opset, OpsetVersion.SliceInputs, name, 3),
        ("Slice", "steps") => opset < OpsetVersion.SliceInputs ? AttrOrInputSlot.Nowhere : AttrOrInputSlot.AtInput(4),
        ("Pad", "pads") => opset < OpsetVersion.PadPadsAttribute
            ? AttrOrInputSlot.InAttribute("paddings")
            : Moved(opset, OpsetVersion.PadInputs, name, 1),
        ("Squeeze" or "Unsqueeze", "axes") => Moved(opset, OpsetVersion.SqueezeAxesInput, name, 1),
        ("Split", "split") => Moved(opset, OpsetVersion.SplitInput, name, 1),
        ("ReduceSum", "axes") => Moved(opset, OpsetVersion.ReduceSumAxesInput, name, 1),
        (_, "axes") when opType.StartsWith("Reduce", StringComparison.Ordinal) => Moved(opset, OpsetVersion.ReduceAxesInput, name, 1),
        ("Upsample", "scales") => Moved(opset, OpsetVersion.UpsampleScalesInput, name, 1),
        ("Resize", "scales") => AttrOrInputSlot.AtInput(opset < OpsetVersion.ResizeRoiInput ? 1 : 2),
        ("Resize", "sizes") => opset < OpsetVersion.ResizeRoiInput ? AttrOrInputSlot.Nowhere : AttrOrInputSlot.AtInput(3),
        _ => throw new ArgumentException($"{opType} has no '{name}' that moved between attribute and input", nameof(name)),
    };

    /// <summary>
    /// Ints <paramref name="name"/> of <paramref name="node"/>, from the attribute or the input its opset uses
    /// (the model's, unless <paramref name="opset"/> is given). An input's values come from
    /// <paramref name="resolve"/>, by default only from a constant integer tensor no graph input can override.
    /// </summary>
    public static AttrOrInputInts Ints(Node node, string name, int? opset = null, Func<Value, long[]?>? resolve = null)
    {
        var slot = Locate(node.OpType, name, opset ?? node.Graph.Model.OnnxOpset);
        if (slot.Attribute is { } attribute)
            return node.GetInts(attribute) is { } fromAttribute
                ? new AttrOrInputInts(AttrOrInputSource.Attribute, fromAttribute, $"attribute '{attribute}'")
                : new AttrOrInputInts(AttrOrInputSource.Absent, null, $"'{name}' is not given");
        if (slot.Input < 0 || node.Input(slot.Input) is not { } input)
            return new AttrOrInputInts(AttrOrInputSource.Absent, null, $"'{name}' is not given");
        if ((resolve ?? ConstantInts)(input) is { } values)
            return new AttrOrInputInts(AttrOrInputSource.ConstantInput, values, $"constant input '{input.Name}'");
        return new AttrOrInputInts(AttrOrInputSource.DynamicInput, null, $"'{name}' comes from '{input.Name}', which is computed at run time");
    }

    /// <summary>Reshape's target shape (attribute before opset 5, input 1 since).</summary>
    public static AttrOrInputInts ReshapeShape(Node reshape) => Ints(reshape, "shape");

    /// <summary>Slice starts, ends, axes, steps (attributes before opset 10, inputs 1..4 since; no steps before).</summary>
    public static (AttrOrInputInts Starts, AttrOrInputInts Ends, AttrOrInputInts Axes, AttrOrInputInts Steps) Slice(Node slice) =>
        (Ints(slice, "starts"), Ints(slice, "ends"), Ints(slice, "axes"), Ints(slice, "steps"));

    /// <summary>Pad pads (attribute <c>paddings</c> in opset 1, <c>pads</c> until 10, input 1 since 11).</summary>
    public static AttrOrInputInts Pads(Node pad) => Ints(pad, "pads");

    /// <summary>Squeeze/Unsqueeze axes (attribute before 13, input 1 since).</summary>
    public static AttrOrInputInts Axes(Node node) => Ints(node, "axes");

    /// <summary>Split sizes (attribute before 13, input 1 since).</summary>
    public static AttrOrInputInts SplitSizes(Node split) => Ints(split, "split");

    /// <summary>Reduce axes (attribute, or input 1 for ReduceSum ≥ 13 and the others ≥ 18).</summary>
    public static AttrOrInputInts ReduceAxes(Node reduce) => Ints(reduce, "axes");

    private static AttrOrInputSlot Moved(int opset, int inputSince, string attribute, int input) =>
        opset < inputSince ? AttrOrInputSlot.InAttribute(attribute) : AttrOrInputSlot.AtInput(input);

    private static long[]? ConstantInts(Value input) =>
        Model.TryGetConstant(input) is { } tensor && ElementTypes.IsInteger(tensor.ElementType) ? tensor.ToInt64Array() : null;
}
