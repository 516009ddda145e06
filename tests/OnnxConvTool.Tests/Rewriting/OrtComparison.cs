using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Tests.Rewriting;

using DataType = TensorProto.Types.DataType;

/// <summary>Inputs and tolerances for <see cref="OrtComparison"/>.</summary>
internal sealed record OrtCompareOptions
{
    public int Trials { get; init; } = 2;
    public int Seed { get; init; } = 7;

    /// <summary>Values for symbolic dims, one per trial (a symbol not listed gets 2 + trial·3).</summary>
    public Dictionary<string, long[]> SymbolValues { get; init; } = [];

    /// <summary>Full dims for inputs whose declared shape is missing or should be overridden.</summary>
    public Dictionary<string, long[]> InputShapes { get; init; } = [];

    /// <summary>Inputs filled with one constant (e.g. sr = 16000).</summary>
    public Dictionary<string, double> ConstantInputs { get; init; } = [];

    /// <summary>Compare values even when the element types differ (a float16/double model against its float twin).</summary>
    public bool AcrossElementTypes { get; init; }

    public double? Rtol { get; init; }
    public double? Atol { get; init; }
}

/// <summary>
/// A test-only equivalence check until the verification layer lands: runs both models in ONNX Runtime with
/// every graph optimisation off and one thread, on the same seeded signed inputs, and compares every output.
/// </summary>
internal static class OrtComparison
{
    /// <summary>Throws with the first difference; returns the number of output values compared.</summary>
    public static long AssertEquivalent(Model reference, Model candidate, OrtCompareOptions? options = null)
    {
        options ??= new OrtCompareOptions();
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var refSession = new InferenceSession(ModelWriter.ToBytes(reference), sessionOptions);
        using var candSession = new InferenceSession(ModelWriter.ToBytes(candidate), sessionOptions);
        var random = new Random(options.Seed);
        long compared = 0;
        for (int trial = 0; trial < options.Trials; trial++)
        {
            var values = MakeInputValues(reference, options, trial, random);
            using var expected = refSession.Run(ToInputs(reference, values));
            using var actual = candSession.Run(ToInputs(candidate, values));
            var actualByName = actual.ToDictionary(v => v.Name);
            Assert.Equal(expected.Count, actual.Count);
            foreach (var e in expected)
            {
                Assert.True(actualByName.TryGetValue(e.Name, out var a), $"candidate has no output '{e.Name}'");
                compared += CompareTensor(e, a!, options, trial);
            }
        }
        Assert.True(compared > 0, "the comparison compared no values");
        return compared;
    }

    /// <summary>Runs <paramref name="model"/> once on seeded inputs; returns every output's dims and values.</summary>
    public static Dictionary<string, (int[] Dims, double[] Values)> Run(Model model, OrtCompareOptions? options = null)
    {
        options ??= new OrtCompareOptions();
        using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(ModelWriter.ToBytes(model), sessionOptions);
        using var outputs = session.Run(ToInputs(model, MakeInputValues(model, options, 0, new Random(options.Seed))));
        return outputs.ToDictionary(o => o.Name, o =>
        {
            var (dims, values, _) = Read(o);
            return (dims, values);
        });
    }

    private static long CompareTensor(DisposableNamedOnnxValue expected, DisposableNamedOnnxValue actual, OrtCompareOptions options, int trial)
    {
        var (eDims, eValues, eType) = Read(expected);
        var (aDims, aValues, aType) = Read(actual);
        Assert.True(eType == aType || options.AcrossElementTypes, $"output '{expected.Name}': element type {aType}, expected {eType}");
        Assert.True(eDims.SequenceEqual(aDims), $"output '{expected.Name}' (trial {trial}): shape [{string.Join(",", aDims)}], expected [{string.Join(",", eDims)}]");
        (double rtol, double atol) = eType switch
        {
            "Float16" => (1e-2, 1e-3),
            "BFloat16" => (2e-2, 1e-2),
            "Double" => (1e-10, 1e-12),
            _ => (1e-4, 1e-5),
        };
        rtol = options.Rtol ?? rtol;
        atol = options.Atol ?? atol;
        for (int i = 0; i < eValues.Length; i++)
        {
            double e = eValues[i], a = aValues[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (Math.Abs(a - e) <= atol + rtol * Math.Abs(e)) continue;
            Assert.Fail($"output '{expected.Name}' (trial {trial}) differs at flat index {i}: {a} vs expected {e} (rtol {rtol}, atol {atol})");
        }
        return eValues.Length;
    }

    private static (int[] Dims, double[] Values, string Type) Read(DisposableNamedOnnxValue value) => value.Value switch
    {
        DenseTensor<float> t => (t.Dimensions.ToArray(), t.Buffer.ToArray().Select(v => (double)v).ToArray(), "Float"),
        DenseTensor<double> t => (t.Dimensions.ToArray(), t.Buffer.ToArray(), "Double"),
        DenseTensor<Float16> t => (t.Dimensions.ToArray(), t.Buffer.ToArray().Select(v => (double)(float)v).ToArray(), "Float16"),
        DenseTensor<BFloat16> t => (t.Dimensions.ToArray(), t.Buffer.ToArray().Select(v => (double)(float)v).ToArray(), "BFloat16"),
        DenseTensor<long> t => (t.Dimensions.ToArray(), t.Buffer.ToArray().Select(v => (double)v).ToArray(), "Int64"),
        DenseTensor<int> t => (t.Dimensions.ToArray(), t.Buffer.ToArray().Select(v => (double)v).ToArray(), "Int32"),
        DenseTensor<bool> t => (t.Dimensions.ToArray(), t.Buffer.ToArray().Select(v => v ? 1.0 : 0.0).ToArray(), "Bool"),
        var other => throw new NotSupportedException($"output '{value.Name}' has unsupported type {other?.GetType().Name}"),
    };

    /// <summary>Seeded values for every fed input of <paramref name="model"/> in one trial: dims and values as doubles.</summary>
    private static Dictionary<string, (int[] Dims, double[] Values)> MakeInputValues(Model model, OrtCompareOptions options, int trial, Random random)
    {
        var values = new Dictionary<string, (int[], double[])>();
        foreach (var input in model.Graph.Inputs)
        {
            if (input.IsInitializer) continue;
            var dims = options.InputShapes.TryGetValue(input.Name, out var fixedDims) ? fixedDims : DimsOf(input, options, trial);
            int count = (int)dims.Aggregate(1L, (a, b) => a * b);
            var type = input.ElementType ?? DataType.Float;
            bool constant = options.ConstantInputs.TryGetValue(input.Name, out double fill);
            var data = new double[count];
            for (int i = 0; i < count; i++)
                data[i] = constant ? fill
                    : type == DataType.Int64 ? random.Next(-3, 4)
                    : type == DataType.Bool ? random.Next(2)
                    : random.NextDouble() * 2 - 1;
            values[input.Name] = (dims.Select(d => (int)d).ToArray(), data);
        }
        return values;
    }

    /// <summary>The values as ORT inputs of each input's own element type in <paramref name="model"/>.</summary>
    private static List<NamedOnnxValue> ToInputs(Model model, Dictionary<string, (int[] Dims, double[] Values)> values)
    {
        var inputs = new List<NamedOnnxValue>();
        foreach (var input in model.Graph.Inputs)
        {
            if (input.IsInitializer || !values.TryGetValue(input.Name, out var v)) continue;
            var (shape, data) = v;
            var type = input.ElementType ?? DataType.Float;
            inputs.Add(type switch
            {
                DataType.Float => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<float>(data.Select(d => (float)d).ToArray(), shape)),
                DataType.Double => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<double>(data.ToArray(), shape)),
                DataType.Float16 => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<Float16>(data.Select(d => (Float16)(float)d).ToArray(), shape)),
                DataType.Bfloat16 => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<BFloat16>(data.Select(d => (BFloat16)(float)d).ToArray(), shape)),
                DataType.Int64 => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<long>(data.Select(d => (long)d).ToArray(), shape)),
                DataType.Bool => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<bool>(data.Select(d => d != 0).ToArray(), shape)),
                _ => throw new NotSupportedException($"input '{input.Name}' has unsupported type {type}"),
            });
        }
        return inputs;
    }

    private static T[] Fill<T>(int count, Func<T> next)
    {
        var data = new T[count];
        for (int i = 0; i < count; i++) data[i] = next();
        return data;
    }

    private static long[] DimsOf(Value input, OrtCompareOptions options, int trial)
    {
        var shape = input.Type?.TensorType?.Shape ?? throw new InvalidOperationException($"input '{input.Name}' has no declared shape; give InputShapes");
        return shape.Dim.Select(d =>
            d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue
            : d.DimParam is { Length: > 0 } symbol && options.SymbolValues.TryGetValue(symbol, out var values) ? values[trial % values.Length]
            : 2 + trial * 3).ToArray();
    }
}
