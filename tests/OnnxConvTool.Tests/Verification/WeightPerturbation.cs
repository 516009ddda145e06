using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Tests.Verification;

/// <summary>Finds a constant weight in a model's protobuf and perturbs it, to show that verification catches small changes.</summary>
internal static class WeightPerturbation
{
    /// <summary>
    /// The first constant input (initializer or <c>Constant</c> node of the same graph) for which
    /// <paramref name="isWeight"/> holds, given the node, the input's index and the tensor; depth first. In If
    /// nodes the then-branch is searched first: Silero takes it for sr = 16000, and a weight in a branch that
    /// never runs cannot change any output.
    /// </summary>
    public static TensorProto? Find(GraphProto graph, Func<NodeProto, int, TensorProto, bool> isWeight)
    {
        var constants = new Dictionary<string, TensorProto>();
        foreach (var tensor in graph.Initializer) constants[tensor.Name] = tensor;
        foreach (var node in graph.Node.Where(n => n.OpType == "Constant"))
            if (node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value) constants[node.Output[0]] = value;
        foreach (var node in graph.Node)
        {
            for (int i = 0; i < node.Input.Count; i++)
                if (constants.TryGetValue(node.Input[i], out var weight) && isWeight(node, i, weight))
                    return weight;
            foreach (var attribute in node.Attribute.OrderBy(a => a.Name == "then_branch" ? 0 : 1))
                if (attribute.G is { } sub && Find(sub, isWeight) is { } found)
                    return found;
        }
        return null;
    }

    /// <summary>Multiplies each element by 1 ± <paramref name="relative"/>, signs from a seeded generator.</summary>
    public static void PerturbInPlace(TensorProto weight, double relative)
    {
        var values = new Tensor(weight).ToDoubleArray();
        var random = new Random(11);
        for (int i = 0; i < values.Length; i++) values[i] *= 1 + relative * (random.Next(2) == 0 ? -1 : 1);
        var replacement = Tensor.FromValues(weight.Name, (TensorProto.Types.DataType)weight.DataType, weight.Dims.ToArray(), values).Proto;
        weight.FloatData.Clear();
        weight.RawData = replacement.RawData;
    }
}
