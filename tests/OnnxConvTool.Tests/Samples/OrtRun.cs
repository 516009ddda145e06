using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxConvTool.Tests.Samples;

/// <summary>A float output of one ONNX Runtime run.</summary>
internal sealed record OrtOutput(string Name, long[] Shape, float[] Values);

/// <summary>
/// Runs a float model once in ONNX Runtime with every optimisation off and one thread, feeding seeded
/// values in [-1, 1) (or given ones); symbolic input dims take their value from <c>dims</c>.
/// </summary>
internal static class OrtRun
{
    public static List<OrtOutput> Run(string path, IReadOnlyDictionary<string, long> dims, int seed = 7,
        IReadOnlyDictionary<string, float[]>? values = null)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        };
        using var session = new InferenceSession(path, options);
        var random = new Random(seed);
        var names = new List<string>();
        var inputs = new List<OrtValue>();
        try
        {
            foreach (var (name, meta) in session.InputMetadata)
            {
                var shape = meta.Dimensions.Select((d, i) => d >= 0 ? d
                    : dims.TryGetValue(meta.SymbolicDimensions[i], out long v) ? v
                    : throw new ArgumentException($"no value given for symbolic dim '{meta.SymbolicDimensions[i]}' of input {name}")).ToArray();
                float[] data = values?.GetValueOrDefault(name)
                    ?? Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                names.Add(name);
                inputs.Add(meta.ElementDataType == TensorElementType.Bool
                    ? OrtValue.CreateTensorValueFromMemory(data.Select(f => f > 0).ToArray(), shape)
                    : OrtValue.CreateTensorValueFromMemory(data, shape));
            }
            var outputNames = session.OutputNames.ToList();
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, names, inputs, outputNames);
            return outputNames.Select((name, i) => new OrtOutput(name,
                results[i].GetTensorTypeAndShape().Shape, results[i].GetTensorDataAsSpan<float>().ToArray())).ToList();
        }
        finally
        {
            foreach (var input in inputs) input.Dispose();
        }
    }
}
