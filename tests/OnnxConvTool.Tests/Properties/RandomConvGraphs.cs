using System.Globalization;
using CsCheck;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Properties;

using DataType = TensorProto.Types.DataType;

/// <summary>One layer of a random chain; each knows how it changes the running [N, C, spatial…] shape.</summary>
internal abstract record LayerSpec
{
    public abstract string ToCSharp();
}

/// <summary>Conv with per-axis kernel, stride, dilation and begin/end pads (pads listed begin…, end…, as ONNX does).</summary>
/// With <see cref="AutoPad"/> SAME_UPPER, SAME_LOWER or VALID the pads are all zero and left out of the node.
internal sealed record ConvSpec(int OutChannels, int Group, int[] Kernel, int[] Strides, int[] Pads, int[] Dilations, bool Bias,
    WeightStorage Storage, string AutoPad = "NOTSET") : LayerSpec
{
    public int OutputSize(int axis, int size) => AutoPad.StartsWith("SAME", StringComparison.Ordinal)
        ? (size + Strides[axis] - 1) / Strides[axis]
        : (size + Pads[axis] + Pads[axis + Kernel.Length] - Dilations[axis] * (Kernel[axis] - 1) - 1) / Strides[axis] + 1;

    public override string ToCSharp() =>
        $"new ConvSpec({OutChannels}, {Group}, {Ints(Kernel)}, {Ints(Strides)}, {Ints(Pads)}, {Ints(Dilations)}, {(Bias ? "true" : "false")}, WeightStorage.{Storage}" +
        (AutoPad == "NOTSET" ? ")" : $", \"{AutoPad}\")");

    internal static string Ints(int[] values) => $"[{string.Join(", ", values)}]";
}

/// <summary>
/// Two Convs on the same input: <see cref="Add"/> sums a Conv and a 1x1 Conv centred in it (RepVGG), else their outputs
/// are concatenated along the channels (Inception siblings).
/// </summary>
internal sealed record ParallelSpec(ConvSpec First, ConvSpec Second, bool Add) : LayerSpec
{
    public int OutChannels => Add ? First.OutChannels : First.OutChannels + Second.OutChannels;

    public override string ToCSharp() => $"new ParallelSpec({First.ToCSharp()}, {Second.ToCSharp()}, {(Add ? "true" : "false")})";
}

internal sealed record BatchNormSpec(float Epsilon) : LayerSpec
{
    public override string ToCSharp() => $"new BatchNormSpec({Epsilon.ToString("R", CultureInfo.InvariantCulture)}f)";
}

/// <summary>
/// Add or Mul with a constant: per channel ([C, 1, …]) or a scalar; <paramref name="Reshaped"/>: the per-channel
/// constant is a [C] Constant node reshaped at run time, as exporters write it (what <c>fold-constants</c> evaluates).
/// </summary>
internal sealed record ConstantOpSpec(string Op, bool PerChannel, bool Reshaped = false) : LayerSpec
{
    public override string ToCSharp() => $"new ConstantOpSpec(\"{Op}\", {(PerChannel ? "true" : "false")}{(Reshaped ? ", true" : "")})";
}

/// <summary>A constant-mode Pad with value 0 on the spatial axes (begin pads, then end pads).</summary>
internal sealed record ZeroPadSpec(int[] Pads) : LayerSpec
{
    public override string ToCSharp() => $"new ZeroPadSpec({ConvSpec.Ints(Pads)})";
}

internal sealed record ActivationSpec(string Op) : LayerSpec
{
    public override string ToCSharp() => $"new ActivationSpec(\"{Op}\")";
}

/// <summary>GlobalAveragePool: the map becomes 1×1 (where conv1x1-to-gemm applies).</summary>
internal sealed record GlobalPoolSpec : LayerSpec
{
    public override string ToCSharp() => "new GlobalPoolSpec()";
}

/// <summary>
/// The chain's optional end, with a constant weight: <c>Gemm</c> (C = bias, alpha, beta; W as [K, M] or with
/// transB [M, K]) or <c>MatMul</c> on the flattened [N, K]; <c>MatMulChannelsLast</c>: X as [N, L, K] times W[K, M];
/// <c>MatMulWeightLeft</c>: W[M, K] times X as [N, K, L]. A MatMul's bias is an Add of a constant after it.
/// </summary>
internal sealed record HeadSpec(string Kind, int OutFeatures, bool Bias, float Alpha = 1, float Beta = 1) : LayerSpec
{
    public override string ToCSharp() =>
        $"new HeadSpec(\"{Kind}\", {OutFeatures}, {(Bias ? "true" : "false")}" +
        (Alpha == 1 && Beta == 1 ? ")" : $", {Alpha.ToString("R", CultureInfo.InvariantCulture)}f, {Beta.ToString("R", CultureInfo.InvariantCulture)}f)");
}

/// <summary>
/// A small random model: input x [Batch, Channels, Spatial…] of <see cref="Type"/> through <see cref="Layers"/>
/// to one output y. Built by <see cref="RandomConvGraphs.Build"/> with the seeded <see cref="TestModelBuilder"/>;
/// <see cref="ToCSharp"/> prints the expression that rebuilds it, for a regression test of a shrunk case.
/// </summary>
/// A <see cref="SymbolicBatch"/> declares the batch dim as "N" (the verifier then tries several sizes).
internal sealed record GraphSpec(DataType Type, int Opset, int Batch, int Channels, int[] Spatial, LayerSpec[] Layers, int WeightSeed,
    bool SymbolicBatch = false)
{
    public string ToCSharp() =>
        $"new GraphSpec(DataType.{Type}, {Opset}, {Batch}, {Channels}, {ConvSpec.Ints(Spatial)}, [{string.Join(", ", Layers.Select(l => l.ToCSharp()))}], {WeightSeed}" +
        (SymbolicBatch ? ", SymbolicBatch: true)" : ")");

    public override string ToString() => ToCSharp();
}

/// <summary>
/// Random small graphs of Conv (group, stride, pads, dilation, spatial rank 1–3, float/double/float16, weights as
/// initializers, Constant nodes or overridable graph inputs), BatchNormalization, constant Add/Mul, activations,
/// GlobalAveragePool and a MatMul/Gemm head: the shapes every rewrite rule matches and refuses.
/// </summary>
internal static class RandomConvGraphs
{
    private static readonly string[] Activations = ["Relu", "Sigmoid", "Tanh", "LeakyRelu"];

    /// <summary>The raw draw of one layer, made valid for the running shape by <see cref="Resolve"/>.</summary>
    private sealed record RawLayer(int Kind, int OutChannels, int GroupPick, bool Pointwise, int[] Kernel, int[] Strides, int[] Pads, int[] Dilations,
        bool Bias, int Storage, int Pick);

    private static readonly Gen<int[]> Axes3 = Gen.Int[0, 9].Array[3];

    private static readonly Gen<RawLayer> RawLayers =
        from kind in Gen.Frequency((6, Gen.Const(0)), (3, Gen.Const(1)), (2, Gen.Const(2)), (2, Gen.Const(3)), (1, Gen.Const(4)), (2, Gen.Const(5)), (2, Gen.Const(6)))
        from outChannels in Gen.Int[1, 6]
        from groupPick in Gen.Int[0, 3]
        from pointwise in Gen.Frequency((3, Gen.Const(true)), (2, Gen.Const(false)))
        from kernel in Axes3
        from strides in Axes3
        from pads in Gen.Int[0, 9].Array[6]
        from dilations in Axes3
        from bias in Gen.Bool
        from storage in Gen.Frequency((6, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(2)))
        from pick in Gen.Int[0, 11]
        select new RawLayer(kind, outChannels, groupPick, pointwise, kernel, strides, pads, dilations, bias, storage, pick);

    /// <summary>Specs of the given element types; float16 and double models leave out ops ONNX Runtime's CPU provider lacks for them.</summary>
    public static Gen<GraphSpec> Specs(params DataType[] types) =>
        from type in Gen.OneOf(types)
        from opset in Gen.OneOf(11, 13, 17)
        from batch in Gen.Int[1, 2]
        from channels in Gen.Int[1, 6]
        from rank in Gen.Int[1, 3]
        from spatial in Gen.Int[1, 5].Array[rank]
        from raw in RawLayers.Array[1, 4]
        from head in Gen.Frequency((2, Gen.Const(-1)), (1, Gen.Int[0, 4]))
        from headOut in Gen.Int[1, 5]
        from headBias in Gen.Bool
        from scales in Gen.OneOf(1f, 1f, 0.5f, 2f).Array[2]
        from seed in Gen.Int[1, 1000]
        from symbolicBatch in Gen.Frequency((3, Gen.Const(false)), (1, Gen.Const(true)))
        // the float64 check runs its float32 twin on fixed shapes only
        select WithHead(Resolve(type, opset, batch, channels, spatial, raw, seed), head < 0 ? null
                : new HeadSpec(HeadKinds[head], headOut, headBias, HeadKinds[head].StartsWith("Gemm", StringComparison.Ordinal) ? scales[0] : 1,
                    HeadKinds[head].StartsWith("Gemm", StringComparison.Ordinal) && headBias ? scales[1] : 1))
            with { SymbolicBatch = symbolicBatch && type != DataType.Double };

    private static GraphSpec WithHead(GraphSpec spec, HeadSpec? head) => head is null ? spec : spec with { Layers = [.. spec.Layers, head] };

    private static readonly string[] HeadKinds = ["Gemm", "GemmTransB", "MatMul", "MatMulChannelsLast", "MatMulWeightLeft"];

    private static GraphSpec Resolve(DataType type, int opset, int batch, int channels, int[] spatial, RawLayer[] raw, int seed)
    {
        var layers = new List<LayerSpec>();
        int c = channels;
        var size = spatial.ToArray();
        foreach (var r in raw)
        {
            switch (r.Kind)
            {
                case 0:
                    // ONNX Runtime's CPU provider has no float64 Conv: double models keep to convs the 1x1 rules remove
                    var conv = ResolveConv(type == DataType.Double ? r with { Pointwise = true, Storage = 0 } : r, c, size);
                    layers.Add(conv);
                    c = conv.OutChannels;
                    for (int a = 0; a < size.Length; a++) size[a] = conv.OutputSize(a, size[a]);
                    break;
                case 1 when type == DataType.Float:
                    layers.Add(new BatchNormSpec(r.Pick % 2 == 0 ? 1e-5f : 1e-3f));
                    break;
                case 2:
                    layers.Add(new ConstantOpSpec(r.Pick % 2 == 0 ? "Add" : "Mul", r.Bias, r.Bias && r.Pick % 3 == 0));
                    break;
                case 3:
                    layers.Add(new ActivationSpec(type == DataType.Float ? Activations[r.Pick % Activations.Length] : "Relu"));
                    break;
                case 4 when type != DataType.Double:
                    layers.Add(new GlobalPoolSpec());
                    Array.Fill(size, 1);
                    break;
                case 6 when type != DataType.Double:
                    var parallel = ResolveParallel(r, c, size);
                    layers.Add(parallel);
                    c = parallel.OutChannels;
                    for (int a = 0; a < size.Length; a++) size[a] = parallel.First.OutputSize(a, size[a]);
                    break;
                case 5 when type != DataType.Double:
                    var pads = new int[2 * size.Length];
                    for (int a = 0; a < size.Length; a++) (pads[a], pads[a + size.Length]) = (r.Pads[a] % 2, r.Pads[a + 3] % 2);
                    layers.Add(new ZeroPadSpec(pads));
                    for (int a = 0; a < size.Length; a++) size[a] += pads[a] + pads[a + size.Length];
                    break;
            }
        }
        return new GraphSpec(type, opset, batch, channels, spatial, layers.ToArray(), seed);
    }

    /// <summary>
    /// A Conv with explicit pads and a second one on the same input: for a sum, the 1x1 centred in it (pads smaller by
    /// dilation × (k − 1)/2, clamped at 0 so that some pairs cannot merge); for a Concat, the same geometry with group 1.
    /// </summary>
    private static ParallelSpec ResolveParallel(RawLayer r, int inChannels, int[] size)
    {
        var first = ResolveConv(r with { Pick = r.Pick % 2 }, inChannels, size);
        bool add = r.Bias;
        if (add)
        {
            int rank = size.Length;
            var pads = new int[2 * rank];
            for (int a = 0; a < 2 * rank; a++) pads[a] = Math.Max(0, first.Pads[a] - first.Dilations[a % rank] * (first.Kernel[a % rank] - 1) / 2);
            // The 1x1's output must have the first's size, or the Add would not broadcast: keep only pairs where it does.
            var second = first with { Kernel = Enumerable.Repeat(1, rank).ToArray(), Pads = pads, Bias = r.Pick % 3 == 0 };
            bool sameSize = Enumerable.Range(0, rank).All(a => second.OutputSize(a, size[a]) == first.OutputSize(a, size[a]));
            if (sameSize) return new ParallelSpec(first, second, true);
        }
        first = first with { Group = 1 };
        return new ParallelSpec(first, first with { OutChannels = 1 + r.GroupPick, Bias = !first.Bias }, false);
    }

    private static ConvSpec ResolveConv(RawLayer r, int inChannels, int[] size)
    {
        int rank = size.Length;
        int outChannels = r.OutChannels;
        var groups = Enumerable.Range(1, inChannels).Where(g => inChannels % g == 0 && outChannels % g == 0).ToArray();
        // depthwise (group = C = M) is a case of its own: reach it often
        int group = r.GroupPick == 3 && inChannels > 1 ? inChannels : groups[r.GroupPick % groups.Length];
        if (group == inChannels && outChannels % group != 0) outChannels = group;
        var kernel = new int[rank];
        var strides = new int[rank];
        var dilations = new int[rank];
        var pads = new int[2 * rank];
        for (int a = 0; a < rank; a++)
        {
            kernel[a] = r.Pointwise ? 1 : 1 + r.Kernel[a] % 3;
            strides[a] = 1 + r.Strides[a] % 4 / 3;
            dilations[a] = 1 + r.Dilations[a] % 4 / 3;
            pads[a] = r.Pads[a] % 3 / 2;
            pads[a + rank] = r.Pads[a + 3] % 3 / 2;
        }
        // auto_pad NOTSET (explicit pads) half of the time, SAME_UPPER, SAME_LOWER and VALID a sixth each
        string autoPad = (r.Pick / 2) switch { 1 => "SAME_UPPER", 2 => "SAME_LOWER", 3 => "VALID", _ => "NOTSET" };
        if (autoPad != "NOTSET") Array.Fill(pads, 0);
        // ONNX Runtime refuses dilation with SAME padding
        if (autoPad.StartsWith("SAME", StringComparison.Ordinal)) Array.Fill(dilations, 1);
        for (int a = 0; a < rank; a++)
            if (size[a] + pads[a] + pads[a + rank] - dilations[a] * (kernel[a] - 1) < 1) (kernel[a], dilations[a]) = (1, 1);
        return new ConvSpec(outChannels, group, kernel, strides, pads, dilations, r.Bias, (WeightStorage)r.Storage, autoPad);
    }

    private static string Conv(TestModelBuilder b, string x, long inChannels, ConvSpec conv, DataType t) =>
        b.Conv(x, inChannels, conv.OutChannels, conv.Kernel.Select(k => (long)k).ToArray(), conv.Group, conv.Bias, conv.Storage, t,
            Attr.Ints("strides", Longs(conv.Strides)), Attr.Ints("dilations", Longs(conv.Dilations)),
            conv.AutoPad == "NOTSET" ? Attr.Ints("pads", Longs(conv.Pads)) : Attr.String("auto_pad", conv.AutoPad));

    /// <summary>The model of <paramref name="spec"/>, its element type replaced by <paramref name="type"/> when given (for a float twin).</summary>
    public static TestModelBuilder Build(GraphSpec spec, DataType? type = null)
    {
        var t = type ?? spec.Type;
        var b = new TestModelBuilder(spec.Opset, seed: spec.WeightSeed);
        object batch = spec.SymbolicBatch ? "N" : spec.Batch;
        string x = b.Input("x", t, [batch, spec.Channels, .. spec.Spatial.Cast<object>()]);
        long c = spec.Channels;
        var size = spec.Spatial.ToArray();
        object[]? outputDims = null;
        foreach (var layer in spec.Layers)
        {
            switch (layer)
            {
                case ConvSpec conv:
                    x = Conv(b, x, c, conv, t);
                    c = conv.OutChannels;
                    for (int a = 0; a < size.Length; a++) size[a] = conv.OutputSize(a, size[a]);
                    break;
                case ParallelSpec parallel:
                    string first = Conv(b, x, c, parallel.First, t), second = Conv(b, x, c, parallel.Second, t);
                    x = parallel.Add ? b.Add(first, second) : b.Concat(1, [first, second]);
                    c = parallel.OutChannels;
                    for (int a = 0; a < size.Length; a++) size[a] = parallel.First.OutputSize(a, size[a]);
                    break;
                case BatchNormSpec bn:
                    x = BatchNormalization(b, x, c, bn.Epsilon, t);
                    break;
                case ConstantOpSpec op:
                    long[] dims = op.PerChannel ? [c, .. size.Select(_ => 1L)] : [];
                    double scale = op.Op == "Add" ? 0.5 : 1.5;
                    string k = op.Reshaped
                        ? b.Node("Reshape", [b.ConstantNode(b.RandomTensor(b.UniqueName("k"), [c], t, scale)),
                            b.Initializer(TestModelBuilder.Int64Tensor(b.UniqueName("k_shape"), [dims.Length], dims))])
                        : b.Initializer(b.RandomTensor(b.UniqueName("k"), dims, t, scale));
                    x = b.Node(op.Op, [x, k]);
                    break;
                case ZeroPadSpec pad:
                    int rank = size.Length;
                    long[] allPads = [0, 0, .. pad.Pads[..rank].Select(p => (long)p), 0, 0, .. pad.Pads[rank..].Select(p => (long)p)];
                    x = b.Node("Pad", [x, b.Initializer(TestModelBuilder.Int64Tensor(b.UniqueName("pads"), [allPads.Length], allPads))]);
                    for (int a = 0; a < rank; a++) size[a] += pad.Pads[a] + pad.Pads[a + rank];
                    break;
                case ActivationSpec act:
                    x = b.Node(act.Op, [x]);
                    break;
                case GlobalPoolSpec:
                    x = b.GlobalAveragePool(x);
                    Array.Fill(size, 1);
                    break;
                case HeadSpec head:
                    (x, outputDims) = Head(b, x, head, t, batch, c, size);
                    break;
            }
        }
        b.Node("Identity", [x], ["y"]);
        b.Output("y", t, outputDims ?? [batch, c, .. size.Cast<object>()]);
        return b;
    }

    private static (string Output, object[] Dims) Head(TestModelBuilder b, string x, HeadSpec head, DataType t, object batch, long c, int[] size)
    {
        long pixels = size.Aggregate(1L, (p, s) => p * s);
        long m = head.OutFeatures;
        string Weight(long[] dims, long fanIn) => b.Initializer(b.RandomTensor(b.UniqueName("head_w"), dims, t, 1 / Math.Sqrt(fanIn)));
        string BiasAdd(string y, long[] dims) => head.Bias ? b.Node("Add", [y, b.Initializer(b.RandomTensor(b.UniqueName("head_b"), dims, t, 0.1))]) : y;
        switch (head.Kind)
        {
            case "MatMulChannelsLast":
                x = b.Transpose(b.Reshape(x, [0, c, -1]), [0, 2, 1]);
                return (BiasAdd(b.Node("MatMul", [x, Weight([c, m], c)]), [m]), [batch, pixels, m]);
            case "MatMulWeightLeft":
                x = b.Reshape(x, [0, c, -1]);
                return (BiasAdd(b.Node("MatMul", [Weight([m, c], c), x]), [m, 1]), [batch, m, pixels]);
            case "MatMul":
                long k = c * pixels;
                return (BiasAdd(b.Node("MatMul", [b.Flatten(x), Weight([k, m], k)]), [m]), [batch, m]);
            default:
                long features = c * pixels;
                bool transB = head.Kind == "GemmTransB";
                string[] inputs = [b.Flatten(x), Weight(transB ? [m, features] : [features, m], features)];
                if (head.Bias) inputs = [.. inputs, b.Initializer(b.RandomTensor(b.UniqueName("head_c"), [m], t, 0.1))];
                var attributes = new List<AttributeProto> { Attr.Int("transB", transB ? 1 : 0) };
                if (head.Alpha != 1) attributes.Add(Attr.Float("alpha", head.Alpha));
                if (head.Beta != 1) attributes.Add(Attr.Float("beta", head.Beta));
                return (b.Node("Gemm", inputs, attributes.ToArray()), [batch, m]);
        }
    }

    private static string BatchNormalization(TestModelBuilder b, string x, long channels, float epsilon, DataType type)
    {
        string name = b.UniqueName("bn");
        string[] inputs =
        [
            x,
            b.Initializer(b.UniformTensor($"{name}.scale", [channels], 0.5, 1.5, type)),
            b.Initializer(b.UniformTensor($"{name}.bias", [channels], -0.25, 0.25, type)),
            b.Initializer(b.UniformTensor($"{name}.mean", [channels], -0.5, 0.5, type)),
            b.Initializer(b.UniformTensor($"{name}.var", [channels], 0.5, 2.0, type)),
        ];
        return b.NamedNode(name, "BatchNormalization", inputs, [name], Attr.Float("epsilon", epsilon))[0];
    }

    private static long[] Longs(int[] values) => values.Select(v => (long)v).ToArray();
}
