using OnnxConvTool.Onnx;

namespace OnnxConvTool.TestKit;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Layer-level helpers: convolutions with He-scaled weights, BatchNormalization with random inference
/// parameters, Gemm/MatMul with weights, and the plain ops CNNs wire between them. A <c>name</c> argument
/// names both the node and its output (as exporters do); without one, names come from
/// <see cref="UniqueName"/>. Weight initializers are named <c>{name}.weight</c>, <c>{name}.bias</c>, ….
/// Ops whose form depends on the opset (Clip, Reshape, BatchNormalization, Gemm) are emitted in the form
/// of <see cref="Opset"/>.
/// </summary>
public sealed partial class TestModelBuilder
{
    /// <summary>The model's doc_string.</summary>
    public string DocString
    {
        get => _model.DocString;
        set => _model.DocString = value;
    }

    /// <summary>Adds a float graph output with a shape; a dim is a number (fixed) or a string (symbolic).</summary>
    public string FloatOutput(string name, params object[] dims)
    {
        _graph.Output.Add(ValueInfo(name, DataType.Float, dims));
        return name;
    }

    /// <summary>Records a type and shape for an intermediate value in the graph's value_info.</summary>
    public void DeclareValueInfo(string name, DataType type, params object[] dims) =>
        _graph.ValueInfo.Add(ValueInfo(name, type, dims));

    /// <summary>
    /// Lists every initializer that is not yet a graph input as one, as IR versions below 4 require (call it last).
    /// Such initializers are overridable defaults, not constants.
    /// </summary>
    public void ListInitializersAsInputs()
    {
        var inputs = _graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var tensor in _graph.Initializer.Where(t => !inputs.Contains(t.Name)))
            _graph.Input.Add(ValueInfo(tensor.Name, (DataType)tensor.DataType, tensor.Dims.Cast<object>().ToArray()));
    }

    /// <summary>Adds a node named <paramref name="name"/> with the given outputs.</summary>
    public string[] NamedNode(string name, string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return outputs;
    }

    /// <summary>
    /// A 2-D Conv with He-uniform weights (std = sqrt(2 / fan_in), fan_in = C/group · k · k), so that a stack
    /// of them with ReLU keeps activations near unit scale; bias in [-0.1, 0.1). Pads are k/2 on every side
    /// ("same" for odd k at stride 1).
    /// </summary>
    public string HeConv(string input, long inChannels, long outChannels, long kernel, long stride = 1, long group = 1,
        bool bias = true, string? name = null, WeightStorage storage = WeightStorage.Initializer)
    {
        name ??= UniqueName("conv");
        long fanIn = inChannels / group * kernel * kernel;
        var weight = RandomTensor($"{name}.weight", [outChannels, inChannels / group, kernel, kernel], scale: HeUniformLimit(fanIn));
        var inputs = new List<string> { input, Store(weight, storage) };
        if (bias) inputs.Add(Store(RandomTensor($"{name}.bias", [outChannels], scale: 0.1), storage));
        var attributes = new List<AttributeProto>
        {
            Attr.Ints("kernel_shape", kernel, kernel),
            Attr.Ints("pads", kernel / 2, kernel / 2, kernel / 2, kernel / 2),
            Attr.Ints("strides", stride, stride),
        };
        if (group != 1) attributes.Add(Attr.Int("group", group));
        return NamedNode(name, "Conv", inputs.ToArray(), [name], attributes.ToArray())[0];
    }

    /// <summary>The bound a of U(-a, a) whose standard deviation is He's sqrt(2 / fan_in).</summary>
    public static double HeUniformLimit(long fanIn) => Math.Sqrt(6.0 / fanIn);

    /// <summary>
    /// BatchNormalization in inference form with realistic trained statistics: scale in [0.5, 1.5), bias in
    /// [-0.25, 0.25), running mean in [-0.5, 0.5), running variance in [0.5, 2.0), all of <paramref name="type"/>. Below opset 7 the node
    /// carries <c>is_test = 1</c>, below opset 6 also the then required <c>consumed_inputs</c>.
    /// </summary>
    public string BatchNormalization(string input, long channels, string? name = null, float epsilon = 1e-5f, DataType type = DataType.Float)
    {
        name ??= UniqueName("bn");
        string scale = Initializer(UniformTensor($"{name}.weight", [channels], 0.5, 1.5, type));
        string bias = Initializer(UniformTensor($"{name}.bias", [channels], -0.25, 0.25, type));
        string mean = Initializer(UniformTensor($"{name}.running_mean", [channels], -0.5, 0.5, type));
        string variance = Initializer(UniformTensor($"{name}.running_var", [channels], 0.5, 2.0, type));
        var attributes = new List<AttributeProto> { Attr.Float("epsilon", epsilon) };
        if (Opset < 7) attributes.Add(Attr.Int("is_test", 1));
        if (Opset < 6) attributes.Add(Attr.Ints("consumed_inputs", 0, 0, 0, 1, 1));
        return NamedNode(name, "BatchNormalization", [input, scale, bias, mean, variance], [name], attributes.ToArray())[0];
    }

    /// <summary>Values uniform in [<paramref name="low"/>, <paramref name="high"/>) from the seeded generator.</summary>
    public TensorProto UniformTensor(string name, long[] dims, double low, double high, DataType type = DataType.Float)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var values = new double[count];
        for (long i = 0; i < count; i++) values[i] = low + Random.NextDouble() * (high - low);
        return TensorOf(name, dims, values, type);
    }

    /// <summary>
    /// Gemm(input, W, C) with He-uniform W ([out, in] with transB = 1, else [in, out]) and bias C in
    /// [-0.1, 0.1). Gemm without C needs opset 11; below opset 7 the node carries <c>broadcast = 1</c>.
    /// </summary>
    public string Gemm(string input, long inFeatures, long outFeatures, bool bias = true, bool transB = true, string? name = null)
    {
        if (!bias && Opset < 11) throw new InvalidOperationException($"Gemm without C needs opset 11 (this model has opset {Opset})");
        name ??= UniqueName("gemm");
        long[] weightDims = transB ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
        var inputs = new List<string> { input, Initializer(RandomTensor($"{name}.weight", weightDims, scale: HeUniformLimit(inFeatures))) };
        if (bias) inputs.Add(Initializer(RandomTensor($"{name}.bias", [outFeatures], scale: 0.1)));
        var attributes = new List<AttributeProto>();
        if (transB) attributes.Add(Attr.Int("transB", 1));
        if (Opset < 7 && bias) attributes.Add(Attr.Int("broadcast", 1));
        return NamedNode(name, "Gemm", inputs.ToArray(), [name], attributes.ToArray())[0];
    }

    /// <summary>MatMul(input, W) with a He-uniform weight W of shape [in, out].</summary>
    public string MatMul(string input, long inFeatures, long outFeatures, string? name = null)
    {
        name ??= UniqueName("matmul");
        string weight = Initializer(RandomTensor($"{name}.weight", [inFeatures, outFeatures], scale: HeUniformLimit(inFeatures)));
        return NamedNode(name, "MatMul", [input, weight], [name])[0];
    }

    public string Relu(string input, string? name = null) => Op("Relu", name, [input]);

    /// <summary>Clip to [min, max]: attributes before opset 11, scalar initializer inputs from 11 on.</summary>
    public string Clip(string input, float min, float max, string? name = null)
    {
        name ??= UniqueName("clip");
        if (Opset < 11)
            return NamedNode(name, "Clip", [input], [name], Attr.Float("min", min), Attr.Float("max", max))[0];
        string minName = Initializer(TensorOf($"{name}.min", [], [min]));
        string maxName = Initializer(TensorOf($"{name}.max", [], [max]));
        return NamedNode(name, "Clip", [input, minName, maxName], [name])[0];
    }

    public string Add(string a, string b, string? name = null) => Op("Add", name, [a, b]);

    public string Concat(long axis, string[] inputs, string? name = null) => Op("Concat", name, inputs, Attr.Int("axis", axis));

    public string MaxPool(string input, long kernel, long stride, long pad = 0, string? name = null) =>
        Op("MaxPool", name, [input], PoolAttributes(kernel, stride, pad));

    public string AveragePool(string input, long kernel, long stride, long pad = 0, string? name = null) =>
        Op("AveragePool", name, [input], PoolAttributes(kernel, stride, pad));

    public string GlobalAveragePool(string input, string? name = null) => Op("GlobalAveragePool", name, [input]);

    public string Flatten(string input, long axis = 1, string? name = null) => Op("Flatten", name, [input], Attr.Int("axis", axis));

    public string Transpose(string input, long[] perm, string? name = null) => Op("Transpose", name, [input], Attr.Ints("perm", perm));

    /// <summary>Reshape to a constant shape: a <c>shape</c> attribute before opset 5, an int64 initializer input from 5 on.</summary>
    public string Reshape(string input, long[] shape, string? name = null)
    {
        name ??= UniqueName("reshape");
        if (Opset < 5) return NamedNode(name, "Reshape", [input], [name], Attr.Ints("shape", shape))[0];
        string shapeName = Initializer(Int64Tensor($"{name}.shape", [shape.Length], shape));
        return NamedNode(name, "Reshape", [input, shapeName], [name])[0];
    }

    private static AttributeProto[] PoolAttributes(long kernel, long stride, long pad) =>
    [
        Attr.Ints("kernel_shape", kernel, kernel),
        Attr.Ints("pads", pad, pad, pad, pad),
        Attr.Ints("strides", stride, stride),
    ];

    private string Op(string opType, string? name, string[] inputs, params AttributeProto[] attributes) =>
        name is null ? Node(opType, inputs, attributes) : NamedNode(name, opType, inputs, [name], attributes)[0];
}
