using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Tests.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>Runs a model in ONNX Runtime (optimisations off) on seeded inputs and reports the shape of every graph output.</summary>
internal static class OrtShapes
{
    /// <summary>Output name → dims, feeding each input a tensor of the given dims (float random, integers zero, bools alternating).</summary>
    public static Dictionary<string, long[]> Run(ModelProto model, IReadOnlyDictionary<string, long[]> inputDims)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
        var random = new Random(7);
        var feeds = new List<NamedOnnxValue>();
        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet();
        foreach (var input in model.Graph.Input)
        {
            if (initializers.Contains(input.Name)) continue;
            var dims = inputDims[input.Name].Select(d => (int)d).ToArray();
            int count = dims.Aggregate(1, (a, b) => a * b);
            feeds.Add((DataType)input.Type.TensorType.ElemType switch
            {
                DataType.Int64 => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<long>(new long[count], dims)),
                DataType.Int32 => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<int>(new int[count], dims)),
                DataType.Bool => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<bool>(Enumerable.Range(0, count).Select(i => i % 2 == 0).ToArray(), dims)),
                _ => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<float>(Enumerable.Range(0, count).Select(_ => (float)random.NextDouble()).ToArray(), dims)),
            });
        }
        using var results = session.Run(feeds);
        var shapes = new Dictionary<string, long[]>();
        foreach (var r in results)
        {
            var value = (DisposableNamedOnnxValue)r;
            shapes[r.Name] = value.Value switch
            {
                Tensor<float> t => t.Dimensions.ToArray().Select(d => (long)d).ToArray(),
                Tensor<long> t => t.Dimensions.ToArray().Select(d => (long)d).ToArray(),
                Tensor<int> t => t.Dimensions.ToArray().Select(d => (long)d).ToArray(),
                Tensor<bool> t => t.Dimensions.ToArray().Select(d => (long)d).ToArray(),
                Tensor<byte> t => t.Dimensions.ToArray().Select(d => (long)d).ToArray(),
                Tensor<sbyte> t => t.Dimensions.ToArray().Select(d => (long)d).ToArray(),
                Tensor<double> t => t.Dimensions.ToArray().Select(d => (long)d).ToArray(),
                _ => throw new InvalidOperationException($"output {r.Name} has an unexpected type {value.ValueType}"),
            };
        }
        return shapes;
    }
}
