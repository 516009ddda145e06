using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// What inference knows about one value: element type, dims (null: unknown rank; a null dim: unknown
/// size) and, for small integer or bool tensors of known shape, their elements in row-major order
/// (bools as 0 and 1). Elements are what lets Reshape, Slice, Resize or Expand follow shape tensors
/// built from Shape, Gather and Concat.
/// </summary>
internal sealed record InferredTensor(DataType? Type, DimExpr?[]? Dims, DimExpr?[]? Values = null)
{
    /// <summary>Tensors with more elements than this are never folded into <see cref="Values"/>.</summary>
    public const int MaxFoldedElements = 1024;

    public static readonly InferredTensor Unknown = new(null, null);

    public int? Rank => Dims?.Length;

    /// <summary>The element count when every dim is a known constant.</summary>
    public long? KnownElementCount
    {
        get
        {
            if (Dims is null) return null;
            long count = 1;
            foreach (var d in Dims)
            {
                if (d?.Constant is not { } v) return null;
                count = checked(count * v);
            }
            return count;
        }
    }

    public static InferredTensor FromType(TypeProto? type)
    {
        if (type?.TensorType is not { } tensor) return Unknown;
        DataType? elementType = tensor.HasElemType && tensor.ElemType != 0 ? (DataType)tensor.ElemType : null;
        if (tensor.Shape is null) return new InferredTensor(elementType, null);
        var dims = new DimExpr?[tensor.Shape.Dim.Count];
        for (int i = 0; i < dims.Length; i++)
        {
            var d = tensor.Shape.Dim[i];
            dims[i] = d.ValueCase switch
            {
                TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue when d.DimValue >= 0 => DimExpr.Of(d.DimValue),
                TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when d.DimParam.Length > 0 => DimExpr.Symbol(d.DimParam),
                _ => null,
            };
        }
        return new InferredTensor(elementType, dims);
    }

    public TensorShape ToTensorShape() =>
        new(Type, Dims?.Select(d => d is null ? Dim.Unknown : d.Constant is { } v ? Dim.Known(v) : Dim.Symbolic(d.ToString())).ToArray());

    /// <summary>
    /// Combines what inference found with what the model declares (value_info, graph outputs): per dim,
    /// an inferred constant wins, then a declared constant, then an inferred symbol, then a declared one.
    /// A declared shape of another rank is ignored.
    /// </summary>
    public static InferredTensor Merge(InferredTensor inferred, InferredTensor declared)
    {
        var type = inferred.Type ?? declared.Type;
        if (declared.Dims is null) return inferred with { Type = type };
        if (inferred.Dims is null) return new InferredTensor(type, declared.Dims);
        if (inferred.Dims.Length != declared.Dims.Length) return inferred with { Type = type };
        var dims = new DimExpr?[inferred.Dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            var a = inferred.Dims[i];
            var b = declared.Dims[i];
            dims[i] = a is { IsConstant: true } ? a : b is { IsConstant: true } ? b : a ?? b;
        }
        return inferred with { Type = type, Dims = dims };
    }
}
