using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.TestKit;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Builds small ONNX models directly as protobuf, independently of the IR under test. Weights come
/// from a seeded generator, so the same calls always give the same bytes.
/// </summary>
public sealed partial class TestModelBuilder
{
    private readonly ModelProto _model;
    private readonly GraphProto _graph;
    private readonly Random _random;
    private readonly NameCounter _names = new();

    public TestModelBuilder(int opset = 13, int seed = 1, long irVersion = 0, string graphName = "test")
    {
        _random = new Random(seed);
        _graph = new GraphProto { Name = graphName };
        _model = new ModelProto
        {
            IrVersion = irVersion > 0 ? irVersion : IrVersionFor(opset),
            ProducerName = "onnxconv-testkit",
            Graph = _graph,
        };
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        Opset = opset;
    }

    public int Opset { get; }
    public GraphProto Graph => _graph;
    public Random Random => _random;

    /// <summary>The IR version that ships with an opset (so ONNX Runtime accepts the pairing).</summary>
    public static long IrVersionFor(int opset) => opset switch
    {
        <= 8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    public string UniqueName(string prefix) => $"{prefix}_{_names.Next()}";

    /// <summary>Adds a graph input; a dim is a number (fixed) or a string (symbolic).</summary>
    public string Input(string name, params object[] dims) => Input(name, DataType.Float, dims);

    public string Input(string name, DataType type, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    public void Output(string name, DataType type = DataType.Float, params object[] dims) =>
        _graph.Output.Add(dims.Length == 0 && type == DataType.Float ? new ValueInfoProto { Name = name, Type = TensorType(type, null) } : ValueInfo(name, type, dims));

    public static ValueInfoProto ValueInfo(string name, DataType type, object[]? dims) =>
        new() { Name = name, Type = TensorType(type, dims) };

    public static TypeProto TensorType(DataType type, object[]? dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (dims is not null)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (var d in dims)
                tensor.Shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s }
                    : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        }
        return new TypeProto { TensorType = tensor };
    }

    /// <summary>Random values in [-1, 1) of <paramref name="type"/>, as a TensorProto with raw data.</summary>
    public TensorProto RandomTensor(string name, long[] dims, DataType type = DataType.Float, double scale = 1.0)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var values = new double[count];
        for (long i = 0; i < count; i++) values[i] = (_random.NextDouble() * 2 - 1) * scale;
        return Tensor.FromValues(name, type, dims, values).Proto;
    }

    public static TensorProto TensorOf(string name, long[] dims, double[] values, DataType type = DataType.Float) =>
        Tensor.FromValues(name, type, dims, values).Proto;

    public static TensorProto Int64Tensor(string name, long[] dims, long[] values) => Tensor.FromInt64s(name, dims, values).Proto;

    public string Initializer(TensorProto tensor)
    {
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    public string RandomInitializer(string name, long[] dims, DataType type = DataType.Float, double scale = 1.0) =>
        Initializer(RandomTensor(name, dims, type, scale));

    /// <summary>Adds a <c>Constant</c> node that produces <paramref name="tensor"/> under its name.</summary>
    public string ConstantNode(TensorProto tensor)
    {
        string output = tensor.Name;
        var value = tensor.Clone();
        value.ClearName();
        Node("Constant", [], [output], Attr.Tensor("value", value));
        return output;
    }

    /// <summary>Adds a node with one output named after the op; returns that output's name.</summary>
    public string Node(string opType, string[] inputs, params AttributeProto[] attributes) =>
        Node(opType, inputs, [UniqueName(opType.ToLowerInvariant())], attributes)[0];

    public string[] Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = UniqueName(opType) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return outputs;
    }

    /// <summary>Conv with a random weight [M, C/group, k...] and optional bias, weight stored as an initializer or Constant node.</summary>
    public string Conv(string input, long inChannels, long outChannels, long[] kernel, long group = 1, bool bias = true,
        WeightStorage storage = WeightStorage.Initializer, DataType type = DataType.Float, params AttributeProto[] attributes)
    {
        var wDims = new long[] { outChannels, inChannels / group }.Concat(kernel).ToArray();
        var weight = RandomTensor(UniqueName("W"), wDims, type, 1.0 / Math.Sqrt(inChannels / group));
        var inputs = new List<string> { input, Store(weight, storage) };
        if (bias) inputs.Add(Store(RandomTensor(UniqueName("B"), [outChannels], type, 0.5), storage));
        var attrs = new List<AttributeProto> { Attr.Ints("kernel_shape", kernel) };
        if (group != 1) attrs.Add(Attr.Int("group", group));
        attrs.AddRange(attributes);
        return Node("Conv", inputs.ToArray(), attrs.ToArray());
    }

    public string Store(TensorProto tensor, WeightStorage storage) => storage switch
    {
        WeightStorage.ConstantNode => ConstantNode(tensor),
        WeightStorage.GraphInput => InitializerAlsoInput(tensor),
        _ => Initializer(tensor),
    };

    private string InitializerAlsoInput(TensorProto tensor)
    {
        _graph.Input.Add(ValueInfo(tensor.Name, (DataType)tensor.DataType, tensor.Dims.Cast<object>().ToArray()));
        return Initializer(tensor);
    }

    public ModelProto Build() => _model.Clone();

    public byte[] ToBytes() => _model.ToByteArray();

    public string Save(string path)
    {
        File.WriteAllBytes(path, _model.ToByteArray());
        return path;
    }

    /// <summary>The model loaded into the IR (through bytes, as a file would be).</summary>
    public Model ToIr(string path = "test.onnx") =>
        ModelReader.Build(ModelProto.Parser.ParseFrom(_model.ToByteArray()), path, Directory.GetCurrentDirectory());
}

public enum WeightStorage
{
    Initializer,
    ConstantNode,
    /// <summary>An initializer that is also a graph input, so a caller may override it.</summary>
    GraphInput,
}

/// <summary>Attribute constructors for <see cref="TestModelBuilder.Node(string, string[], AttributeProto[])"/>.</summary>
public static class Attr
{
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    public static AttributeProto String(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
    public static AttributeProto Tensor(string name, TensorProto value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };
    public static AttributeProto Graph(string name, GraphProto value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Floats(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }
}
