using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Emit;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Emits ONNX nodes into one graph, before an insertion point, in the form the model's opset requires
/// (attribute or input). It never raises the model's opset: a form the opset lacks throws
/// <see cref="OpsetFormException"/>, and rules check <see cref="OpsetVersion"/> while matching so that
/// this does not happen during a rewrite.
/// </summary>
internal sealed class OpBuilder
{
    private readonly Node? _insertBefore;
    private readonly string _namePrefix;
    private readonly Action<Node>? _onNodeCreated;
    private readonly Dictionary<string, Value>? _int64Constants;

    /// <param name="graph">The graph that receives the nodes.</param>
    /// <param name="insertBefore">Nodes go before this node (null: appended at the end).</param>
    /// <param name="namePrefix">Prefix of new node and value names, e.g. the rewritten node's name.</param>
    /// <param name="onNodeCreated">Called for each node created (a rewriter records them).</param>
    /// <param name="int64ConstantCache">Shared cache so equal int64 constants (shapes, axes) are emitted once per graph.</param>
    public OpBuilder(Graph graph, Node? insertBefore = null, string? namePrefix = null, Action<Node>? onNodeCreated = null,
        Dictionary<string, Value>? int64ConstantCache = null)
    {
        if (insertBefore is not null && !ReferenceEquals(insertBefore.Graph, graph))
            throw new ArgumentException($"node '{insertBefore.DisplayName}' is not in graph {graph.Path}", nameof(insertBefore));
        Graph = graph;
        _insertBefore = insertBefore;
        _namePrefix = string.IsNullOrEmpty(namePrefix) ? "" : namePrefix + "/";
        _onNodeCreated = onNodeCreated;
        _int64Constants = int64ConstantCache;
        Opset = graph.Model.OnnxOpset;
        if (OpsetVersion.WhyOpsetUnsupported(Opset) is { } reason) throw new OpsetFormException(reason);
    }

    public Graph Graph { get; }

    /// <summary>The model's default-domain opset, which decides every op's form.</summary>
    public int Opset { get; }

    /// <summary>Creates a node with one output; attributes are set by <paramref name="configure"/>.</summary>
    public Node Node(string opType, IEnumerable<Value?> inputs, int outputCount = 1, Action<Node>? configure = null)
    {
        var node = Graph.CreateNode(opType, inputs, outputCount, nameHint: _namePrefix + opType, before: _insertBefore);
        configure?.Invoke(node);
        _onNodeCreated?.Invoke(node);
        return node;
    }

    private Value Single(string opType, IEnumerable<Value?> inputs, Action<Node>? configure = null) =>
        Node(opType, inputs, 1, configure).Outputs[0];

    // ---- constants ----

    /// <summary>
    /// A new constant holding <paramref name="tensor"/> (its name is made unique): an initializer of this graph.
    /// IR version 3 and older require every initializer to be a graph input too (so a caller could override
    /// it), so there the constant is a <c>Constant</c> node instead, or, for types <c>Constant</c> lacks before
    /// opset 9 (int64), an initializer listed among the main graph's inputs, as such models always did.
    /// </summary>
    public Value Constant(Tensor tensor)
    {
        if (Graph.Model.IrVersion >= 4) return Graph.AddInitializer(tensor);
        if (Opset >= 9 || ElementTypes.IsFloatingPoint(tensor.ElementType))
        {
            var proto = tensor.Proto.Clone();
            proto.ClearName();
            var node = Node("Constant", [], 1, n => n.SetAttribute("value", proto));
            node.Outputs[0].Type = Graph.TypeFor(tensor);
            return node.Outputs[0];
        }
        var main = Graph.Model.Graph;
        var value = main.AddInitializer(tensor);
        main.AddInputValue(value);
        return value;
    }

    /// <summary>A 1-D int64 constant (shapes, axes, indices), shared with equal ones emitted through the same cache.</summary>
    public Value Int64s(params long[] values) => Int64Tensor([values.Length], values);

    /// <summary>A 0-D int64 constant.</summary>
    public Value Int64Scalar(long value) => Int64Tensor([], [value]);

    private Value Int64Tensor(long[] dims, long[] values)
    {
        string key = $"{Graph.Path}|{string.Join(",", dims)}|{string.Join(",", values)}";
        if (_int64Constants is not null && Graph.Model.IrVersion >= 4 && _int64Constants.TryGetValue(key, out var cached)
            && ReferenceEquals(Graph.Find(cached.Name), cached))
            return cached;
        var value = Constant(Tensor.FromInt64s(_namePrefix + "const", dims, values));
        if (_int64Constants is not null && Graph.Model.IrVersion >= 4) _int64Constants[key] = value;
        return value;
    }

    /// <summary>A scalar of <paramref name="type"/> (for Clip bounds and similar inputs).</summary>
    public Value Scalar(DataType type, double value) => Constant(Tensor.FromValues(_namePrefix + "const", type, [], [value]));

    // ---- shape ops ----

    /// <summary>Reshape to a constant shape (0 copies the input dim, -1 is inferred): attribute before opset 5, input since.</summary>
    public Value Reshape(Value data, params long[] shape) =>
        Opset >= OpsetVersion.ReshapeShapeInput
            ? Single("Reshape", [data, Int64s(shape)])
            : Single("Reshape", [data], n => n.SetAttribute("shape", shape));

    /// <summary>Reshape to a shape computed at run time (needs opset 5).</summary>
    public Value Reshape(Value data, Value shape)
    {
        Require(OpsetVersion.ReshapeShapeInput, "Reshape to a run-time shape");
        return Single("Reshape", [data, shape]);
    }

    /// <summary>The shape of <paramref name="data"/>, optionally only dims [start, end) (a Gather before opset 15).</summary>
    public Value Shape(Value data, long? start = null, long? end = null)
    {
        if (start is null && end is null) return Single("Shape", [data]);
        if (Opset >= OpsetVersion.ShapeStartEnd)
            return Single("Shape", [data], n =>
            {
                if (start is { } s) n.SetAttribute("start", s);
                if (end is { } e) n.SetAttribute("end", e);
            });
        if ((start ?? 0) < 0 || end is < 0)
            throw new OpsetFormException($"Shape with negative start or end needs opset {OpsetVersion.ShapeStartEnd}, and the model imports opset {Opset}");
        if (end is null) throw new OpsetFormException($"Shape with only a start needs the rank before opset {OpsetVersion.ShapeStartEnd}; pass an end");
        var full = Single("Shape", [data]);
        long first = start ?? 0;
        return Gather(full, Int64s(Enumerable.Range(0, (int)(end.Value - first)).Select(i => first + i).ToArray()), 0);
    }

    public Value Concat(IReadOnlyList<Value> inputs, long axis) => Single("Concat", inputs, n => n.SetAttribute("axis", axis));

    public Value Gather(Value data, Value indices, long axis = 0) => Single("Gather", [data, indices], n => n.SetAttribute("axis", axis));

    public Value Transpose(Value data, params long[] perm) => Single("Transpose", [data], n => n.SetAttribute("perm", perm));

    public Value Flatten(Value data, long axis = 1) => Single("Flatten", [data], n => n.SetAttribute("axis", axis));

    public Value Squeeze(Value data, params long[] axes) =>
        Opset >= OpsetVersion.SqueezeAxesInput
            ? Single("Squeeze", [data, Int64s(axes)])
            : Single("Squeeze", [data], n => n.SetAttribute("axes", axes));

    public Value Unsqueeze(Value data, params long[] axes) =>
        Opset >= OpsetVersion.SqueezeAxesInput
            ? Single("Unsqueeze", [data, Int64s(axes)])
            : Single("Unsqueeze", [data], n => n.SetAttribute("axes", axes));

    /// <summary>Slice with constant bounds; steps other than 1 need opset 10.</summary>
    public Value Slice(Value data, long[] starts, long[] ends, long[] axes, long[]? steps = null)
    {
        if (starts.Length != ends.Length || starts.Length != axes.Length || (steps is not null && steps.Length != axes.Length))
            throw new ArgumentException("starts, ends, axes and steps must have the same length");
        bool hasSteps = steps is not null && steps.Any(s => s != 1);
        if (Opset >= OpsetVersion.SliceInputs)
        {
            var inputs = new List<Value?> { data, Int64s(starts), Int64s(ends), Int64s(axes) };
            if (hasSteps) inputs.Add(Int64s(steps!));
            return Single("Slice", inputs);
        }
        if (hasSteps)
            throw new OpsetFormException($"Slice with steps needs opset {OpsetVersion.SliceInputs}, and the model imports opset {Opset}");
        return Single("Slice", [data], n =>
        {
            n.SetAttribute("starts", starts);
            n.SetAttribute("ends", ends);
            n.SetAttribute("axes", axes);
        });
    }

    /// <summary>Pads with zeros; <paramref name="pads"/> is [x1_begin, x2_begin, …, x1_end, x2_end, …] over every axis.</summary>
    public Value PadWithZeros(Value data, params long[] pads)
    {
        if (Opset >= OpsetVersion.PadInputs) return Single("Pad", [data, Int64s(pads)]);
        string attribute = Opset >= OpsetVersion.PadPadsAttribute ? "pads" : "paddings";
        return Single("Pad", [data], n => n.SetAttribute(attribute, pads));
    }

    /// <summary>Splits along <paramref name="axis"/> into parts of the given sizes.</summary>
    public IReadOnlyList<Value> Split(Value data, long axis, params long[] sizes)
    {
        var node = Opset >= OpsetVersion.SplitInput
            ? Node("Split", [data, Int64s(sizes)], sizes.Length, n => n.SetAttribute("axis", axis))
            : Node("Split", [data], sizes.Length, n =>
            {
                n.SetAttribute("axis", axis);
                n.SetAttribute("split", sizes);
            });
        return node.Outputs;
    }

    /// <summary>Splits along <paramref name="axis"/> into <paramref name="count"/> equal parts (num_outputs since opset 18).</summary>
    public IReadOnlyList<Value> SplitEqually(Value data, long axis, int count)
    {
        var node = Node("Split", [data], count, n =>
        {
            n.SetAttribute("axis", axis);
            if (Opset >= OpsetVersion.SplitNumOutputs) n.SetAttribute("num_outputs", (long)count);
        });
        return node.Outputs;
    }

    // ---- arithmetic ----

    public Value MatMul(Value a, Value b) => Single("MatMul", [a, b]);

    public Value Add(Value a, Value b)
    {
        Require(OpsetVersion.MultidirectionalBroadcast, "Add with broadcasting");
        return Single("Add", [a, b]);
    }

    public Value Mul(Value a, Value b)
    {
        Require(OpsetVersion.MultidirectionalBroadcast, "Mul with broadcasting");
        return Single("Mul", [a, b]);
    }

    /// <summary>Gemm: alpha·A'·B' + beta·C. Before opset 7, C is broadcast through the <c>broadcast</c> attribute; before 11 it is required.</summary>
    public Value Gemm(Value a, Value b, Value? c = null, bool transA = false, bool transB = false, float alpha = 1f, float beta = 1f)
    {
        if (c is null && Opset < 11)
            throw new OpsetFormException($"Gemm without C needs opset 11, and the model imports opset {Opset}");
        var inputs = new List<Value?> { a, b };
        if (c is not null) inputs.Add(c);
        return Single("Gemm", inputs, n =>
        {
            if (transA) n.SetAttribute("transA", 1L);
            if (transB) n.SetAttribute("transB", 1L);
            if (alpha != 1f) n.SetAttribute("alpha", alpha);
            if (beta != 1f) n.SetAttribute("beta", beta);
            if (Opset < OpsetVersion.MultidirectionalBroadcast && c is not null) n.SetAttribute("broadcast", 1L);
        });
    }

    /// <summary>Clip to [min, max] (either may be null): attributes before opset 11, scalar inputs of <paramref name="type"/> since.</summary>
    public Value Clip(Value data, DataType type, double? min, double? max)
    {
        if (Opset >= OpsetVersion.ClipInputs)
        {
            var inputs = new List<Value?> { data, min is { } lo ? Scalar(type, lo) : null };
            if (max is { } hi) inputs.Add(Scalar(type, hi));
            return Single("Clip", inputs);
        }
        return Single("Clip", [data], n =>
        {
            if (min is { } lo) n.SetAttribute("min", (float)lo);
            if (max is { } hi) n.SetAttribute("max", (float)hi);
        });
    }

    /// <summary>ReduceSum (axes input since 13) or another Reduce op (axes input since 18).</summary>
    public Value Reduce(string opType, Value data, long[] axes, bool keepDims)
    {
        if (!opType.StartsWith("Reduce", StringComparison.Ordinal)) throw new ArgumentException($"{opType} is not a Reduce op", nameof(opType));
        int inputSince = opType == "ReduceSum" ? OpsetVersion.ReduceSumAxesInput : OpsetVersion.ReduceAxesInput;
        return Opset >= inputSince
            ? Single(opType, [data, Int64s(axes)], n => n.SetAttribute("keepdims", keepDims ? 1L : 0L))
            : Single(opType, [data], n =>
            {
                n.SetAttribute("axes", axes);
                n.SetAttribute("keepdims", keepDims ? 1L : 0L);
            });
    }

    public Value ReduceSum(Value data, long[] axes, bool keepDims) => Reduce("ReduceSum", data, axes, keepDims);

    // ---- neural-network ops ----

    /// <summary>Conv with explicit attributes (omitted ones take ONNX defaults).</summary>
    public Value Conv(Value x, Value w, Value? bias = null, long[]? kernelShape = null, long[]? strides = null, long[]? pads = null,
        long[]? dilations = null, long group = 1)
    {
        var inputs = new List<Value?> { x, w };
        if (bias is not null) inputs.Add(bias);
        return Single("Conv", inputs, n =>
        {
            if (kernelShape is not null) n.SetAttribute("kernel_shape", kernelShape);
            if (strides is not null) n.SetAttribute("strides", strides);
            if (pads is not null) n.SetAttribute("pads", pads);
            if (dilations is not null) n.SetAttribute("dilations", dilations);
            if (group != 1) n.SetAttribute("group", group);
        });
    }

    /// <summary>AveragePool with a kernel of ones: picks every stride-th element, exactly, at any opset.</summary>
    public Value Subsample(Value data, long[] strides) => Single("AveragePool", [data], n =>
    {
        n.SetAttribute("kernel_shape", strides.Select(_ => 1L));
        n.SetAttribute("strides", strides);
    });

    private void Require(int since, string what)
    {
        if (Opset < since) throw new OpsetFormException($"{what} needs opset {since}, and the model imports opset {Opset}");
    }
}

/// <summary>An op form the model's opset does not have; the opset is never raised to make room for it.</summary>
internal sealed class OpsetFormException(string message) : OnnxConvException(ExitCode.Unsupported, message);
