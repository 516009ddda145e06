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
internal sealed record ConvSpec(int OutChannels, int Group, int[] Kernel, int[] Strides, int[] Pads, int[] Dilations, bool Bias,
    WeightStorage Storage) : LayerSpec
{
    public int OutputSize(int axis, int size) =>
        (size + Pads[axis] + Pads[axis + Kernel.Length] - Dilations[axis] * (Kernel[axis] - 1) - 1) / Strides[axis] + 1;

    public override string ToCSharp() =>
        $"new ConvSpec({OutChannels}, {Group}, {Ints(Kernel)}, {Ints(Strides)}, {Ints(Pads)}, {Ints(Dilations)}, {(Bias ? "true" : "false")}, WeightStorage.{Storage})";

    internal static string Ints(int[] values) => $"[{string.Join(", ", values)}]";
}

internal sealed record BatchNormSpec(float Epsilon) : LayerSpec
{
    public override string ToCSharp() => $"new BatchNormSpec({Epsilon.ToString("R", CultureInfo.InvariantCulture)}f)";
}

/// <summary>Add or Mul with a constant: per channel ([C, 1, …]) or a scalar.</summary>
internal sealed record ConstantOpSpec(string Op, bool PerChannel) : LayerSpec
{
    public override string ToCSharp() => $"new ConstantOpSpec(\"{Op}\", {(PerChannel ? "true" : "false")})";
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

/// <summary>The chain's optional end: Flatten, then MatMul or Gemm (transB or not) with a constant weight.</summary>
internal sealed record HeadSpec(string Op, int OutFeatures, bool TransB) : LayerSpec
{
    public override string ToCSharp() => $"new HeadSpec(\"{Op}\", {OutFeatures}, {(TransB ? "true" : "false")})";
}

/// <summary>
/// A small random model: input x [Batch, Channels, Spatial…] of <see cref="Type"/> through <see cref="Layers"/>
/// to one output y. Built by <see cref="RandomConvGraphs.Build"/> with the seeded <see cref="TestModelBuilder"/>;
/// <see cref="ToCSharp"/> prints the expression that rebuilds it, for a regression test of a shrunk case.
/// </summary>
internal sealed record GraphSpec(DataType Type, int Opset, int Batch, int Channels, int[] Spatial, LayerSpec[] Layers, int WeightSeed)
{
    public string ToCSharp() =>
        $"new GraphSpec(DataType.{Type}, {Opset}, {Batch}, {Channels}, {ConvSpec.Ints(Spatial)}, [{string.Join(", ", Layers.Select(l => l.ToCSharp()))}], {WeightSeed})";

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
        from kind in Gen.Frequency((6, Gen.Const(0)), (2, Gen.Const(1)), (2, Gen.Const(2)), (2, Gen.Const(3)), (1, Gen.Const(4)))
        from outChannels in Gen.Int[1, 6]
        from groupPick in Gen.Int[0, 3]
        from pointwise in Gen.Frequency((3, Gen.Const(true)), (2, Gen.Const(false)))
        from kernel in Axes3
        from strides in Axes3
        from pads in Gen.Int[0, 9].Array[6]
        from dilations in Axes3
        from bias in Gen.Bool
        from storage in Gen.Frequency((6, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(2)))
        from pick in Gen.Int[0, 7]
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
        from head in Gen.Frequency((3, Gen.Const(-1)), (1, Gen.Int[0, 3]))
        from headOut in Gen.Int[1, 5]
        from seed in Gen.Int[1, 1000]
        select Resolve(type, opset, batch, channels, spatial, raw, head, headOut, seed);

    private static GraphSpec Resolve(DataType type, int opset, int batch, int channels, int[] spatial, RawLayer[] raw, int head, int headOut, int seed)
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
                    layers.Add(new ConstantOpSpec(r.Pick % 2 == 0 ? "Add" : "Mul", r.Bias));
                    break;
                case 3:
                    layers.Add(new ActivationSpec(type == DataType.Float ? Activations[r.Pick % Activations.Length] : "Relu"));
                    break;
                case 4 when type != DataType.Double:
                    layers.Add(new GlobalPoolSpec());
                    Array.Fill(size, 1);
                    break;
            }
        }
        if (head >= 0) layers.Add(new HeadSpec(head == 0 ? "MatMul" : "Gemm", headOut, head >= 2));
        return new GraphSpec(type, opset, batch, channels, spatial, layers.ToArray(), seed);
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
            if (size[a] + pads[a] + pads[a + rank] - dilations[a] * (kernel[a] - 1) < 1) (kernel[a], dilations[a]) = (1, 1);
        }
        return new ConvSpec(outChannels, group, kernel, strides, pads, dilations, r.Bias, (WeightStorage)r.Storage);
    }

    /// <summary>The model of <paramref name="spec"/>, its element type replaced by <paramref name="type"/> when given (for a float twin).</summary>
    public static TestModelBuilder Build(GraphSpec spec, DataType? type = null)
    {
        var t = type ?? spec.Type;
        var b = new TestModelBuilder(spec.Opset, seed: spec.WeightSeed);
        string x = b.Input("x", t, [spec.Batch, spec.Channels, .. spec.Spatial.Cast<object>()]);
        long c = spec.Channels;
        var size = spec.Spatial.ToArray();
        bool flat = false;
        foreach (var layer in spec.Layers)
        {
            switch (layer)
            {
                case ConvSpec conv:
                    x = b.Conv(x, c, conv.OutChannels, conv.Kernel.Select(k => (long)k).ToArray(), conv.Group, conv.Bias, conv.Storage, t,
                        Attr.Ints("strides", Longs(conv.Strides)), Attr.Ints("pads", Longs(conv.Pads)), Attr.Ints("dilations", Longs(conv.Dilations)));
                    c = conv.OutChannels;
                    for (int a = 0; a < size.Length; a++) size[a] = conv.OutputSize(a, size[a]);
                    break;
                case BatchNormSpec bn:
                    x = BatchNormalization(b, x, c, bn.Epsilon, t);
                    break;
                case ConstantOpSpec op:
                    long[] dims = op.PerChannel && !flat ? [c, .. size.Select(_ => 1L)] : [];
                    x = b.Node(op.Op, [x, b.Initializer(b.RandomTensor(b.UniqueName("k"), dims, t, op.Op == "Add" ? 0.5 : 1.5))]);
                    break;
                case ActivationSpec act:
                    x = b.Node(act.Op, [x]);
                    break;
                case GlobalPoolSpec:
                    x = b.GlobalAveragePool(x);
                    Array.Fill(size, 1);
                    break;
                case HeadSpec head:
                    long features = c * size.Aggregate(1L, (p, s) => p * s);
                    x = b.Flatten(x);
                    long[] weightDims = head.TransB ? [head.OutFeatures, features] : [features, head.OutFeatures];
                    string w = b.Initializer(b.RandomTensor(b.UniqueName("head_w"), weightDims, t, 1 / Math.Sqrt(features)));
                    x = head.Op == "MatMul" && !head.TransB
                        ? b.Node("MatMul", [x, w])
                        : b.Node("Gemm", [x, w, b.Initializer(b.RandomTensor(b.UniqueName("head_b"), [head.OutFeatures], t, 0.1))],
                            Attr.Int("transB", head.TransB ? 1 : 0));
                    c = head.OutFeatures;
                    flat = true;
                    break;
            }
        }
        b.Node("Identity", [x], ["y"]);
        if (flat) b.Output("y", t, spec.Batch, c);
        else b.Output("y", t, [spec.Batch, c, .. size.Cast<object>()]);
        return b;
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
