using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Rewriting;

using DataType = TensorProto.Types.DataType;

/// <summary>One output of a <see cref="ModelRun"/>: its dims and its values as doubles.</summary>
internal sealed record RunOutput(long[] Dims, double[] Values);

/// <summary>The seeded inputs fed to a model (by name, as doubles) and the outputs it produced.</summary>
internal sealed record RunResult(IReadOnlyDictionary<string, double[]> Inputs, IReadOnlyDictionary<string, RunOutput> Outputs);

/// <summary>
/// Runs one model once in ONNX Runtime with verify's session settings (optimisations off, one thread) on
/// seeded inputs made as verify makes them (<see cref="HostTensor.Random"/>): for emit tests, which check
/// what a single model computes rather than compare two models.
/// </summary>
internal static class ModelRun
{
    public static RunResult Once(Model model, int seed = 7)
    {
        var feeds = Feeds(model, model.Graph.Inputs.Where(v => !v.IsInitializer).Select(v => v.ElementType ?? DataType.Float).ToList(), new Random(seed));
        return Run(model, feeds);
    }

    /// <summary>Runs <paramref name="model"/> on the given feeds.</summary>
    public static RunResult Run(Model model, IReadOnlyList<(string Name, HostTensor Tensor)> feeds)
    {
        using var session = OrtRuntime.CreateSession(model, SessionSettings.Verification, "the model");
        var names = model.Graph.Outputs.Select(o => o.Name).ToList();
        using var outputs = SessionRunner.Run(session, feeds, names, CancellationToken.None);
        return new RunResult(
            feeds.ToDictionary(f => f.Name, f => ToDoubles(f.Tensor.ElementType, f.Tensor.Data, f.Tensor.ElementCount)),
            names.ToDictionary(n => n, n =>
            {
                var output = outputs.Get(n);
                return new RunOutput(output.Shape, ToDoubles(output.ElementType, output.Raw, HostTensor.ElementCountOf(output.Shape)));
            }));
    }

    /// <summary>
    /// Seeded random feeds for every non-initializer input of <paramref name="model"/>, generated in the element
    /// types <paramref name="types"/> (one per input, in order) and converted to the model's own types.
    /// Every input dim must be known.
    /// </summary>
    public static List<(string Name, HostTensor Tensor)> Feeds(Model model, IReadOnlyList<DataType> types, Random random)
    {
        var inputs = model.Graph.Inputs.Where(v => !v.IsInitializer).ToList();
        var feeds = new List<(string, HostTensor)>(inputs.Count);
        for (int i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            var dims = input.Type?.TensorType?.Shape?.Dim
                .Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue
                    : throw new ArgumentException($"input '{input.Name}' has a free dim; ModelRun feeds fixed shapes only"))
                .ToArray() ?? throw new ArgumentException($"input '{input.Name}' declares no shape");
            var generated = HostTensor.Random(types[i], dims, random);
            feeds.Add((input.Name, Convert(generated, input.ElementType ?? DataType.Float)));
        }
        return feeds;
    }

    /// <summary>The tensor's values in another element type (rounded as a cast would).</summary>
    public static HostTensor Convert(HostTensor tensor, DataType type)
    {
        if (tensor.ElementType == type) return tensor;
        var values = ToDoubles(tensor.ElementType, tensor.Data, tensor.ElementCount);
        int size = ElementKinds.ByteSize(type);
        var data = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++) ElementKinds.Write(type, data.AsSpan(i * size, size), values[i]);
        return new HostTensor(type, tensor.Shape, data);
    }

    public static double[] ToDoubles(DataType type, ReadOnlySpan<byte> raw, long count)
    {
        var values = new double[count];
        if (ElementKinds.IsFloating(type))
        {
            ElementKinds.ToDoubles(type, raw, values);
            return values;
        }
        var integers = new long[count];
        ElementKinds.ToInt64s(type, raw, integers);
        for (int i = 0; i < count; i++) values[i] = integers[i];
        return values;
    }

    /// <summary>Doubles as raw float64 bytes, for <see cref="TensorComparer"/>.</summary>
    public static byte[] ToFloat64Bytes(double[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
