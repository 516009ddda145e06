using OnnxConvTool.Ir;

namespace OnnxConvTool.Emit;

/// <summary>How an int list that may be an attribute or an input was found.</summary>
public enum AttrOrInputSource
{
    /// <summary>Neither the attribute nor the input is present.</summary>
    Absent,
    Attribute,
    ConstantInput,
    /// <summary>The input is computed at run time; <see cref="AttrOrInputInts.Values"/> is null.</summary>
    DynamicInput,
}

/// <summary>An int list read by <see cref="AttrOrInput"/>.</summary>
public sealed record AttrOrInputInts(AttrOrInputSource Source, long[]? Values, string Description)
{
    public bool IsKnown => Values is not null;
}

/// <summary>
/// The read-side twin of <see cref="OpBuilder"/>: reads values that older opsets keep in an attribute
/// and newer ones take as an input (Reshape shape, Slice starts/ends/axes/steps, Pad pads, Squeeze axes,
/// Split sizes, Reduce axes), from whichever the node has; an input counts only when it is a constant.
/// </summary>
public static class AttrOrInput
{
    /// <summary>
    /// Ints from attribute <paramref name="attribute"/>, or from the constant behind input <paramref name="inputIndex"/>
    /// (pass -1 when the op never takes it as an input).
    /// </summary>
    public static AttrOrInputInts Ints(Node node, string attribute, int inputIndex)
    {
        if (node.GetInts(attribute) is { } fromAttribute)
            return new AttrOrInputInts(AttrOrInputSource.Attribute, fromAttribute, $"attribute '{attribute}'");
        if (inputIndex < 0 || node.Input(inputIndex) is not { } input)
            return new AttrOrInputInts(AttrOrInputSource.Absent, null, $"'{attribute}' is not given");
        if (Model.TryGetConstant(input) is { } tensor && Ir.ElementTypes.IsInteger(tensor.ElementType))
            return new AttrOrInputInts(AttrOrInputSource.ConstantInput, tensor.ToInt64Array(), $"constant input '{input.Name}'");
        return new AttrOrInputInts(AttrOrInputSource.DynamicInput, null, $"'{attribute}' comes from '{input.Name}', which is computed at run time");
    }

    /// <summary>Reshape's target shape (attribute before opset 5, input 1 since).</summary>
    public static AttrOrInputInts ReshapeShape(Node reshape) => Ints(reshape, "shape", 1);

    /// <summary>Slice starts, ends, axes, steps (attributes before opset 10, inputs 1..4 since; no steps before).</summary>
    public static (AttrOrInputInts Starts, AttrOrInputInts Ends, AttrOrInputInts Axes, AttrOrInputInts Steps) Slice(Node slice) =>
        (Ints(slice, "starts", 1), Ints(slice, "ends", 2), Ints(slice, "axes", 3), Ints(slice, "steps", 4));

    /// <summary>Pad pads (attribute <c>paddings</c> in opset 1, <c>pads</c> until 10, input 1 since 11).</summary>
    public static AttrOrInputInts Pads(Node pad) =>
        pad.HasAttribute("paddings") ? Ints(pad, "paddings", -1) : Ints(pad, "pads", 1);

    /// <summary>Squeeze/Unsqueeze axes (attribute before 13, input 1 since).</summary>
    public static AttrOrInputInts Axes(Node node) => Ints(node, "axes", 1);

    /// <summary>Split sizes (attribute before 13, input 1 since).</summary>
    public static AttrOrInputInts SplitSizes(Node split) => Ints(split, "split", 1);

    /// <summary>Reduce axes (attribute, or input 1 for ReduceSum ≥ 13 and the others ≥ 18).</summary>
    public static AttrOrInputInts ReduceAxes(Node reduce) => Ints(reduce, "axes", 1);
}
