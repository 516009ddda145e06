using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>Runs a model in ONNX Runtime (optimisations off) on seeded inputs and reports the shape of every graph output.</summary>
internal static class OrtShapes
{
    /// <summary>
    /// Output name → dims. Each input gets a tensor of <paramref name="inputDims"/>: floats seeded in [0, 1),
    /// integers zero unless <paramref name="int64Values"/> gives them, bools alternating.
    /// </summary>
    public static Dictionary<string, long[]> Run(ModelProto model, IReadOnlyDictionary<string, long[]> inputDims,
        IReadOnlyDictionary<string, long[]>? int64Values = null)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        };
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
        var random = new Random(7);
        var names = new List<string>();
        var inputs = new List<OrtValue>();
        try
        {
            var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet();
            foreach (var input in model.Graph.Input)
            {
                if (initializers.Contains(input.Name)) continue;
                long[] dims = inputDims[input.Name];
                int count = (int)dims.Aggregate(1L, (a, b) => a * b);
                names.Add(input.Name);
                inputs.Add((DataType)input.Type.TensorType.ElemType switch
                {
                    DataType.Int64 => OrtValue.CreateTensorValueFromMemory(int64Values?.GetValueOrDefault(input.Name) ?? new long[count], dims),
                    DataType.Int32 => OrtValue.CreateTensorValueFromMemory(new int[count], dims),
                    DataType.Bool => OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, count).Select(i => i % 2 == 0).ToArray(), dims),
                    _ => OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, count).Select(_ => (float)random.NextDouble()).ToArray(), dims),
                });
            }
            var outputNames = session.OutputNames.ToList();
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, names, inputs, outputNames);
            return outputNames.Select((name, i) => (name, results[i].GetTensorTypeAndShape().Shape)).ToDictionary(r => r.name, r => r.Shape);
        }
        finally
        {
            foreach (var input in inputs) input.Dispose();
        }
    }

    /// <summary>A copy of <paramref name="model"/> whose main-graph node outputs are all graph outputs too (typed by <paramref name="elementType"/>).</summary>
    public static ModelProto ExposeAllValues(ModelProto model, Func<string, DataType?> elementType)
    {
        var copy = model.Clone();
        var outputs = copy.Graph.Output.Select(o => o.Name).ToHashSet();
        foreach (var node in copy.Graph.Node)
            foreach (string name in node.Output)
                if (name.Length > 0 && outputs.Add(name) && elementType(name) is { } type)
                    copy.Graph.Output.Add(new ValueInfoProto { Name = name, Type = TestModelBuilder.TensorType(type, null) });
        return copy;
    }
}
