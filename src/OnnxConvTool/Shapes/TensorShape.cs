using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

/// <summary>One dimension: a known size, a named symbol (e.g. "N", "ceil(H/2)"; see ShapeInference for the convention), or unknown.</summary>
public readonly record struct Dim(long? Value, string? Symbol)
{
    /// <summary>A dim of fixed size <paramref name="value"/>.</summary>
    public static Dim Known(long value) => new(value, null);
    /// <summary>A dim named <paramref name="symbol"/> whose size is known only at run time.</summary>
    public static Dim Symbolic(string symbol) => new(null, symbol);
    /// <summary>A dim with neither a size nor a name.</summary>
    public static readonly Dim Unknown = new(null, null);

    /// <summary>True when the size is fixed.</summary>
    public bool IsKnown => Value.HasValue;
    /// <summary>True when the dim has a name but no fixed size.</summary>
    public bool IsSymbolic => !Value.HasValue && Symbol is not null;

    /// <summary>The size, the symbol, or <c>?</c>.</summary>
    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

/// <summary>Element type and dims of a tensor; <see cref="Dims"/> is null when even the rank is unknown.</summary>
internal sealed record TensorShape(TensorProto.Types.DataType? ElementType, IReadOnlyList<Dim>? Dims)
{
    public int? Rank => Dims?.Count;
    public bool IsFullyKnown => Dims is not null && Dims.All(d => d.IsKnown);

    /// <summary>Product of the dims when all are known.</summary>
    public long? ElementCount => IsFullyKnown ? Dims!.Aggregate(1L, (a, d) => a * d.Value!.Value) : null;

    public override string ToString() => Dims is null ? "?" : "[" + string.Join(",", Dims) + "]";

    public static TensorShape FromType(TypeProto? type)
    {
        if (type?.TensorType is not { } tensor) return new TensorShape(null, null);
        var elementType = tensor.HasElemType ? (TensorProto.Types.DataType?)tensor.ElemType : null;
        if (tensor.Shape is null) return new TensorShape(elementType, null);
        var dims = tensor.Shape.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => Dim.Known(d.DimValue),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when d.DimParam.Length > 0 => Dim.Symbolic(d.DimParam),
            _ => Dim.Unknown,
        }).ToArray();
        return new TensorShape(elementType, dims);
    }
}
