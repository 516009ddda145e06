using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// One small model for shape inference: built with the seeded builder at an opset; symbolic input
/// dims are given concrete values from <see cref="Sizes"/> when ONNX Runtime runs it.
/// <see cref="UnknownDims"/> counts output dims inference is expected to leave unknown.
/// </summary>
public sealed record ShapeCase(string Name, int Opset, Action<TestModelBuilder> Build, IReadOnlyList<IReadOnlyDictionary<string, long>> Sizes, int UnknownDims = 0)
{
    public override string ToString() => Name;
}

/// <summary>The catalogue of per-op cases: every op family, attribute and input forms by opset, symbolic dims.</summary>
internal static class ShapeCases
{
    private static readonly IReadOnlyDictionary<string, long>[] Fixed = [new Dictionary<string, long>()];

    public static IReadOnlyDictionary<string, ShapeCase> All { get; } = Build().ToDictionary(c => c.Name);

    private static ShapeCase Case(string name, int opset, Action<TestModelBuilder> build, int unknownDims = 0) =>
        new(name, opset, build, Fixed, unknownDims);

    private static ShapeCase Symbolic(string name, int opset, Action<TestModelBuilder> build, params string[] sizes) =>
        new(name, opset, build, sizes.Select(ParseSizes).ToArray());

    private static IReadOnlyDictionary<string, long> ParseSizes(string text) =>
        text.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1]));

    // Builder shorthands.
    internal static void Out(TestModelBuilder b, string name, DataType type = DataType.Float) =>
        b.Graph.Output.Add(new ValueInfoProto { Name = name, Type = TestModelBuilder.TensorType(type, null) });

    internal static string Ints(TestModelBuilder b, string name, params long[] values) =>
        b.Initializer(TestModelBuilder.Int64Tensor(name, [values.Length], values));

    internal static string Scalar(TestModelBuilder b, string name, long value) =>
        b.Initializer(TestModelBuilder.Int64Tensor(name, [], [value]));

    internal static string Floats(TestModelBuilder b, string name, params double[] values) =>
        b.Initializer(TestModelBuilder.TensorOf(name, [values.Length], values));

    internal static string Weight(TestModelBuilder b, string name, params long[] dims) => b.RandomInitializer(name, dims);

    internal static void Node(TestModelBuilder b, string op, string[] inputs, string[] outputs, params AttributeProto[] attributes) =>
        b.Node(op, inputs, outputs, attributes);

    /// <summary>A single-op model: input x of <paramref name="dims"/>, output y.</summary>
    private static Action<TestModelBuilder> Unary(string op, object[] dims, params AttributeProto[] attributes) => b =>
    {
        b.Input("x", dims);
        Node(b, op, ["x"], ["y"], attributes);
        Out(b, "y");
    };

    private static IEnumerable<ShapeCase> Build()
    {
        // Convolutions.
        yield return Case("conv-2d-stride2-pad1", 13, b =>
        {
            b.Input("x", 1, 3, 9, 11);
            Node(b, "Conv", ["x", Weight(b, "w", 5, 3, 3, 3)], ["y"], Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1));
            Out(b, "y");
        });
        yield return Case("conv-2d-dilations-asymmetric-pads", 13, b =>
        {
            b.Input("x", 1, 4, 10, 12);
            Node(b, "Conv", ["x", Weight(b, "w", 6, 4, 3, 3), Weight(b, "bias", 6)], ["y"],
                Attr.Ints("kernel_shape", 3, 3), Attr.Ints("dilations", 2, 2), Attr.Ints("pads", 0, 1, 2, 0), Attr.Ints("strides", 1, 2));
            Out(b, "y");
        });
        yield return Case("conv-2d-group", 13, b =>
        {
            b.Input("x", 1, 8, 7, 7);
            string y = b.Conv("x", 8, 12, [3, 3], group: 4);
            Out(b, y);
        });
        foreach (var (autoPad, stride) in new[] { ("SAME_UPPER", 2L), ("SAME_LOWER", 3L), ("VALID", 2L) })
        {
            yield return Case($"conv-auto-pad-{autoPad.ToLowerInvariant()}", 13, b =>
            {
                b.Input("x", 1, 3, 10, 11);
                Node(b, "Conv", ["x", Weight(b, "w", 4, 3, 4, 3)], ["y"], Attr.String("auto_pad", autoPad), Attr.Ints("strides", stride, stride));
                Out(b, "y");
            });
        }
        yield return Case("conv-1d", 13, b =>
        {
            b.Input("x", 2, 4, 17);
            Node(b, "Conv", ["x", Weight(b, "w", 3, 4, 5)], ["y"], Attr.Ints("strides", 3), Attr.Ints("pads", 2, 2));
            Out(b, "y");
        });
        yield return Case("conv-3d", 13, b =>
        {
            b.Input("x", 1, 2, 5, 6, 7);
            Node(b, "Conv", ["x", Weight(b, "w", 3, 2, 3, 3, 3)], ["y"], Attr.Ints("strides", 2, 2, 2), Attr.Ints("pads", 1, 1, 1, 1, 1, 1));
            Out(b, "y");
        });
        yield return Case("conv-1x1-opset9", 9, b =>
        {
            b.Input("x", 1, 16, 5, 5);
            string y = b.Conv("x", 16, 4, [1, 1]);
            Out(b, y);
        });
        yield return Symbolic("conv-symbolic-stride2", 13, b =>
        {
            b.Input("x", "N", 3, "H", "W");
            Node(b, "Conv", ["x", Weight(b, "w", 16, 3, 3, 3)], ["y"], Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1));
            Out(b, "y");
        }, "N=1,H=9,W=16", "N=2,H=8,W=7", "N=1,H=1,W=2");
        yield return Symbolic("conv-symbolic-chain", 13, b =>
        {
            b.Input("x", "N", 3, "H", "W");
            Node(b, "Conv", ["x", Weight(b, "w1", 4, 3, 3, 3)], ["a"], Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1));
            Node(b, "Conv", ["a", Weight(b, "w2", 4, 4, 1, 1)], ["c"], Attr.Ints("strides", 2, 2));
            Node(b, "Conv", ["c", Weight(b, "w3", 4, 4, 3, 3)], ["d"], Attr.Ints("dilations", 1, 2));
            Node(b, "Conv", ["d", Weight(b, "w4", 2, 4, 3, 3)], ["y"], Attr.Ints("strides", 3, 3), Attr.String("auto_pad", "SAME_UPPER"));
            Out(b, "c");
            Out(b, "y");
        }, "N=1,H=20,W=23", "N=2,H=33,W=40", "N=1,H=12,W=19");
        yield return Case("convtranspose-stride2", 13, b =>
        {
            b.Input("x", 1, 4, 5, 6);
            Node(b, "ConvTranspose", ["x", Weight(b, "w", 4, 3, 2, 2)], ["y"], Attr.Ints("strides", 2, 2));
            Out(b, "y");
        });
        yield return Case("convtranspose-pads-output-padding-group", 13, b =>
        {
            b.Input("x", 1, 4, 5, 6);
            Node(b, "ConvTranspose", ["x", Weight(b, "w", 4, 2, 3, 3)], ["y"], Attr.Int("group", 2), Attr.Ints("strides", 2, 3),
                Attr.Ints("pads", 1, 0, 1, 2), Attr.Ints("output_padding", 1, 2));
            Out(b, "y");
        });
        yield return Case("convtranspose-dilations", 13, b =>
        {
            b.Input("x", 1, 2, 4, 5);
            Node(b, "ConvTranspose", ["x", Weight(b, "w", 2, 3, 3, 2)], ["y"], Attr.Ints("dilations", 2, 3), Attr.Ints("strides", 1, 2));
            Out(b, "y");
        });
        yield return Case("convtranspose-auto-pad-same-upper", 13, b =>
        {
            b.Input("x", 1, 2, 4, 5);
            Node(b, "ConvTranspose", ["x", Weight(b, "w", 2, 3, 3, 3)], ["y"], Attr.Ints("strides", 2, 2), Attr.String("auto_pad", "SAME_UPPER"));
            Out(b, "y");
        });
        yield return Case("convtranspose-output-shape", 13, b =>
        {
            b.Input("x", 1, 2, 4, 4);
            Node(b, "ConvTranspose", ["x", Weight(b, "w", 2, 3, 3, 3)], ["y"], Attr.Ints("strides", 2, 2), Attr.Ints("output_shape", 9, 10));
            Out(b, "y");
        });
        yield return Symbolic("convtranspose-symbolic", 13, b =>
        {
            b.Input("x", "N", 4, "H", "W");
            Node(b, "ConvTranspose", ["x", Weight(b, "w", 4, 2, 2, 2)], ["y"], Attr.Ints("strides", 2, 2));
            Out(b, "y");
        }, "N=1,H=3,W=5", "N=2,H=1,W=7");

        // Pooling.
        yield return Case("maxpool-stride2-pad1-indices", 12, b =>
        {
            b.Input("x", 1, 3, 9, 10);
            Node(b, "MaxPool", ["x"], ["y", "indices"], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1));
            Out(b, "y");
            Out(b, "indices", DataType.Int64);
        });
        yield return Case("maxpool-ceil-mode", 12, b =>
        {
            b.Input("x", 1, 1, 6, 7);
            Node(b, "MaxPool", ["x"], ["y"], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2), Attr.Int("ceil_mode", 1));
            Out(b, "y");
        });
        yield return Case("maxpool-ceil-mode-drops-window-in-padding", 12, b =>
        {
            b.Input("x", 1, 1, 5, 5);
            Node(b, "MaxPool", ["x"], ["y"], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1), Attr.Int("ceil_mode", 1));
            Out(b, "y");
        });
        yield return Case("maxpool-dilations", 12, b =>
        {
            b.Input("x", 1, 2, 9, 10);
            Node(b, "MaxPool", ["x"], ["y"], Attr.Ints("kernel_shape", 3, 2), Attr.Ints("dilations", 2, 3));
            Out(b, "y");
        });
        foreach (string autoPad in new[] { "SAME_UPPER", "SAME_LOWER", "VALID" })
        {
            yield return Case($"maxpool-auto-pad-{autoPad.ToLowerInvariant()}", 12, b =>
            {
                b.Input("x", 1, 2, 7, 8);
                Node(b, "MaxPool", ["x"], ["y"], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.String("auto_pad", autoPad));
                Out(b, "y");
            });
        }
        yield return Case("averagepool-ceil-mode-count-include-pad", 13, b =>
        {
            b.Input("x", 1, 2, 8, 9);
            Node(b, "AveragePool", ["x"], ["y"], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1),
                Attr.Int("ceil_mode", 1), Attr.Int("count_include_pad", 1));
            Out(b, "y");
        });
        yield return Case("averagepool-1d", 13, b =>
        {
            b.Input("x", 2, 3, 11);
            Node(b, "AveragePool", ["x"], ["y"], Attr.Ints("kernel_shape", 4), Attr.Ints("strides", 3));
            Out(b, "y");
        });
        yield return Case("global-pools", 13, b =>
        {
            b.Input("x", 2, 3, 5, 7);
            b.Input("x1", 2, 4, 9);
            Node(b, "GlobalAveragePool", ["x"], ["avg"]);
            Node(b, "GlobalMaxPool", ["x1"], ["max"]);
            Out(b, "avg");
            Out(b, "max");
        });
        yield return Symbolic("maxpool-symbolic", 13, b =>
        {
            b.Input("x", "N", "C", "H", "W");
            Node(b, "MaxPool", ["x"], ["floor"], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2));
            Node(b, "MaxPool", ["x"], ["ceil"], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2), Attr.Int("ceil_mode", 1));
            Out(b, "floor");
            Out(b, "ceil");
        }, "N=1,C=2,H=7,W=8", "N=2,C=1,H=4,W=9");

        // Normalization.
        yield return Case("batchnormalization", 15, b =>
        {
            b.Input("x", 2, 3, 4, 5);
            Node(b, "BatchNormalization", ["x", Weight(b, "scale", 3), Weight(b, "bias", 3), Weight(b, "mean", 3), Floats(b, "var", 1, 2, 3)], ["y"]);
            Out(b, "y");
        });
        yield return Case("instancenormalization", 13, b =>
        {
            b.Input("x", 2, 3, 4, 5);
            Node(b, "InstanceNormalization", ["x", Weight(b, "scale", 3), Weight(b, "bias", 3)], ["y"]);
            Out(b, "y");
        });
        yield return Case("layernormalization", 17, b =>
        {
            b.Input("x", 2, 3, 4);
            Node(b, "LayerNormalization", ["x", Weight(b, "scale", 4), Weight(b, "bias", 4)], ["y"], Attr.Int("axis", -1));
            Out(b, "y");
        });

        // Elementwise.
        yield return Case("binary-broadcasting", 13, b =>
        {
            b.Input("a", 2, 3, 4);
            b.Input("v", 4);
            b.Input("m", 2, 1, 4);
            b.Input("n", 3, 1);
            Node(b, "Add", ["a", "v"], ["add"]);
            Node(b, "Mul", ["m", "n"], ["mul"]);
            Node(b, "Sub", ["n", "m"], ["sub"]);
            Node(b, "Div", ["v", "a"], ["div"]);
            Node(b, "Pow", ["m", "v"], ["pow"]);
            Node(b, "PRelu", ["a", Weight(b, "slope", 4)], ["prelu"]);
            foreach (string y in new[] { "add", "mul", "sub", "div", "pow", "prelu" }) Out(b, y);
        });
        yield return Case("comparisons-and-logic", 13, b =>
        {
            b.Input("a", 2, 3);
            b.Input("v", 3);
            b.Input("p", DataType.Bool, 2, 1);
            b.Input("q", DataType.Bool, 3);
            Node(b, "Equal", ["a", "v"], ["eq"]);
            Node(b, "Less", ["v", "a"], ["lt"]);
            Node(b, "GreaterOrEqual", ["a", "v"], ["ge"]);
            Node(b, "And", ["p", "q"], ["and"]);
            Node(b, "Or", ["q", "p"], ["or"]);
            Node(b, "Not", ["p"], ["not"]);
            foreach (string y in new[] { "eq", "lt", "ge", "and", "or", "not" }) Out(b, y, DataType.Bool);
        });
        yield return Case("where-three-way-broadcast", 13, b =>
        {
            b.Input("c", DataType.Bool, 3, 1);
            b.Input("x", 1, 4);
            b.Input("y", 2, 1, 1);
            Node(b, "Where", ["c", "x", "y"], ["out"]);
            Out(b, "out");
        });
        yield return Case("variadic-max-min-sum-mean", 13, b =>
        {
            b.Input("a", 2, 1, 3);
            b.Input("c", 4, 1);
            b.Input("d", 3);
            foreach (string op in new[] { "Max", "Min", "Sum", "Mean" })
            {
                Node(b, op, ["a", "c", "d"], [op.ToLowerInvariant()]);
                Out(b, op.ToLowerInvariant());
            }
        });
        yield return Symbolic("binary-symbolic-broadcast", 13, b =>
        {
            b.Input("a", "N", 3, 1);
            b.Input("c", 1, "W");
            b.Input("d", "N", 1, "W");
            Node(b, "Add", ["a", "c"], ["ac"]);
            Node(b, "Mul", ["ac", "d"], ["y"]);
            Out(b, "y");
        }, "N=2,W=5", "N=1,W=1");
        yield return Case("unary-activations-and-math", 18, b =>
        {
            b.Input("x", 2, 3, 4);
            string[] ops =
            [
                "Relu", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Tanh", "Softmax", "LogSoftmax", "Hardmax", "Exp", "Log", "Sqrt",
                "Abs", "Neg", "Erf", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Sin",
                "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Mish", "ThresholdedRelu", "Shrink",
                "Clip", "Identity", "LpNormalization",
            ];
            foreach (string op in ops)
            {
                Node(b, op, ["x"], [op.ToLowerInvariant()]);
                Out(b, op.ToLowerInvariant());
            }
            Node(b, "IsNaN", ["x"], ["isnan"]);
            Out(b, "isnan", DataType.Bool);
            Node(b, "Clip", ["x", b.Initializer(TestModelBuilder.TensorOf("lo", [], [0])), b.Initializer(TestModelBuilder.TensorOf("hi", [], [6]))], ["relu6"]);
            Out(b, "relu6");
            Node(b, "Dropout", ["x"], ["dropout", "mask"]);
            Out(b, "dropout");
            Out(b, "mask", DataType.Bool);
            Node(b, "Cast", ["x"], ["cast"], Attr.Int("to", (long)DataType.Int64));
            Out(b, "cast", DataType.Int64);
            Node(b, "CastLike", ["x", Ints(b, "like", 1)], ["castlike"]);
            Out(b, "castlike", DataType.Int64);
            Node(b, "CumSum", ["x", Scalar(b, "axis", 1)], ["cumsum"]);
            Out(b, "cumsum");
            Node(b, "Trilu", ["x"], ["trilu"]);
            Out(b, "trilu");
        });
        yield return Case("quantize-dequantize", 13, b =>
        {
            b.Input("x", 2, 3);
            string zeroPoint = b.Initializer(new TensorProto { Name = "z", DataType = (int)DataType.Uint8, Int32Data = { 128 } });
            Node(b, "QuantizeLinear", ["x", b.Initializer(TestModelBuilder.TensorOf("s", [], [0.1])), zeroPoint], ["q"]);
            Node(b, "DequantizeLinear", ["q", "s", "z"], ["dq"]);
            Out(b, "q", DataType.Uint8);
            Out(b, "dq");
        });

        // Layout.
        yield return Case("concat-negative-axis", 13, b =>
        {
            b.Input("a", 2, 3, 4);
            b.Input("c", 2, 3, 5);
            Node(b, "Concat", ["a", "c", "a"], ["y"], Attr.Int("axis", -1));
            Out(b, "y");
        });
        yield return Symbolic("concat-symbolic", 13, b =>
        {
            b.Input("a", "N", "C", "H");
            b.Input("c", "N", 4, "H");
            Node(b, "Concat", ["a", "c"], ["y"], Attr.Int("axis", 1));
            Out(b, "y");
        }, "N=2,C=3,H=5", "N=1,C=1,H=2");
        yield return Case("split-attribute-opset11", 11, b =>
        {
            b.Input("x", 6, 4);
            Node(b, "Split", ["x"], ["s0", "s1"], Attr.Ints("split", 2, 4));
            Out(b, "s0");
            Out(b, "s1");
        });
        yield return Case("split-input-opset13", 13, b =>
        {
            b.Input("x", 3, 7);
            Node(b, "Split", ["x", Ints(b, "split", 2, 5)], ["s0", "s1"], Attr.Int("axis", 1));
            Out(b, "s0");
            Out(b, "s1");
        });
        yield return Case("split-equal-parts", 13, b =>
        {
            b.Input("x", 2, 9);
            Node(b, "Split", ["x"], ["s0", "s1", "s2"], Attr.Int("axis", -1));
            foreach (string y in new[] { "s0", "s1", "s2" }) Out(b, y);
        });
        yield return Case("split-num-outputs-opset18", 18, b =>
        {
            b.Input("x", 7, 2);
            Node(b, "Split", ["x"], ["s0", "s1", "s2"], Attr.Int("num_outputs", 3));
            foreach (string y in new[] { "s0", "s1", "s2" }) Out(b, y);
        });
        yield return Case("reshape-zero-and-minus-one", 13, b =>
        {
            b.Input("x", 2, 3, 4);
            Node(b, "Reshape", ["x", Ints(b, "s1", 0, -1)], ["y1"]);
            Node(b, "Reshape", ["x", Ints(b, "s2", -1, 2, 2)], ["y2"]);
            Node(b, "Reshape", ["x", Ints(b, "s3", 4, 0, 2)], ["y3"]);
            Out(b, "y1");
            Out(b, "y2");
            Out(b, "y3");
        });
        yield return Case("reshape-allowzero-opset14", 14, b =>
        {
            b.Input("x", 2, 3, 4);
            Node(b, "Reshape", ["x", Ints(b, "s", 6, -1)], ["y"], Attr.Int("allowzero", 1));
            Out(b, "y");
        });
        yield return Symbolic("reshape-symbolic", 13, b =>
        {
            b.Input("x", "N", 3, 4, 5);
            Node(b, "Reshape", ["x", Ints(b, "s1", 0, -1)], ["y1"]);
            Node(b, "Reshape", ["x", Ints(b, "s2", -1, 20)], ["y2"]);
            Out(b, "y1");
            Out(b, "y2");
        }, "N=1", "N=3");
        yield return Symbolic("flatten-axes", 13, b =>
        {
            b.Input("x", "N", 3, 4, 5);
            Node(b, "Flatten", ["x"], ["f1"]);
            Node(b, "Flatten", ["x"], ["f0"], Attr.Int("axis", 0));
            Node(b, "Flatten", ["x"], ["f2"], Attr.Int("axis", 2));
            Node(b, "Flatten", ["x"], ["fm1"], Attr.Int("axis", -1));
            foreach (string y in new[] { "f1", "f0", "f2", "fm1" }) Out(b, y);
        }, "N=2");
        yield return Case("transpose-default-and-perm", 13, b =>
        {
            b.Input("x", 2, 3, 4, 5);
            Node(b, "Transpose", ["x"], ["rev"]);
            Node(b, "Transpose", ["x"], ["nhwc"], Attr.Ints("perm", 0, 2, 3, 1));
            Out(b, "rev");
            Out(b, "nhwc");
        });
        yield return Case("squeeze-unsqueeze-attributes-opset11", 11, b =>
        {
            b.Input("x", 2, 1, 3, 1);
            Node(b, "Squeeze", ["x"], ["sq"], Attr.Ints("axes", 1, -1));
            Node(b, "Squeeze", ["x"], ["all"]);
            Node(b, "Unsqueeze", ["sq"], ["un"], Attr.Ints("axes", 0, -1));
            Out(b, "sq");
            Out(b, "all");
            Out(b, "un");
        });
        yield return Case("squeeze-unsqueeze-inputs-opset13", 13, b =>
        {
            b.Input("x", 2, 1, 3, 1);
            Node(b, "Squeeze", ["x", Ints(b, "axes", 3)], ["sq"]);
            Node(b, "Unsqueeze", ["sq", Ints(b, "uaxes", 1, -1)], ["un"]);
            Out(b, "sq");
            Out(b, "un");
        });
        yield return Case("gemm-transposes", 13, b =>
        {
            b.Input("a", 4, 3);
            Node(b, "Gemm", ["a", Weight(b, "w", 5, 4), Weight(b, "c", 5)], ["y"], Attr.Int("transA", 1), Attr.Int("transB", 1));
            Node(b, "Gemm", ["y", Weight(b, "w2", 5, 2)], ["z"]);
            Out(b, "y");
            Out(b, "z");
        });
        yield return Case("matmul-vectors-and-batches", 13, b =>
        {
            b.Input("v", 3);
            b.Input("m", 3, 4);
            b.Input("k", 2, 3);
            b.Input("a", 2, 1, 3, 4);
            b.Input("c", 5, 4, 6);
            Node(b, "MatMul", ["v", "m"], ["vm"]);
            Node(b, "MatMul", ["k", "v"], ["kv"]);
            Node(b, "MatMul", ["v", "v"], ["vv"]);
            Node(b, "MatMul", ["a", "c"], ["batched"]);
            Node(b, "MatMul", ["v", "a"], ["va"]);
            foreach (string y in new[] { "vm", "kv", "vv", "batched", "va" }) Out(b, y);
        });
        yield return Symbolic("matmul-symbolic", 13, b =>
        {
            b.Input("x", "N", "T", 8);
            Node(b, "MatMul", ["x", Weight(b, "w", 8, 3)], ["y"]);
            Out(b, "y");
        }, "N=2,T=5");
        yield return Case("pad-attribute-opset10", 10, b =>
        {
            b.Input("x", 2, 3, 4);
            Node(b, "Pad", ["x"], ["y"], Attr.Ints("pads", 0, 1, 2, 0, 3, -1));
            Out(b, "y");
        });
        yield return Case("pad-input-opset13", 13, b =>
        {
            b.Input("x", 1, 3, 4, 5);
            Node(b, "Pad", ["x", Ints(b, "pads", 0, 0, 1, 2, 0, 0, 3, 4)], ["y"], Attr.String("mode", "reflect"));
            Out(b, "y");
        });
        yield return Case("pad-axes-opset18", 18, b =>
        {
            b.Input("x", 1, 3, 4, 5);
            Node(b, "Pad", ["x", Ints(b, "pads", 1, 2, 3, 4), b.Initializer(TestModelBuilder.TensorOf("value", [], [0])), Ints(b, "axes", -1, 1)], ["y"]);
            Out(b, "y");
        });
        yield return Case("slice-attributes-opset9", 9, b =>
        {
            b.Input("x", 5, 6, 7);
            Node(b, "Slice", ["x"], ["y"], Attr.Ints("starts", 1, -4), Attr.Ints("ends", 4, 1000), Attr.Ints("axes", 0, 2));
            Out(b, "y");
        });
        yield return Case("slice-inputs-steps", 13, b =>
        {
            b.Input("x", 5, 6, 7);
            Node(b, "Slice", ["x", Ints(b, "starts", 4, 0, -1), Ints(b, "ends", 0, long.MaxValue, long.MinValue), Ints(b, "axes", 0, 1, -1), Ints(b, "steps", -2, 4, -3)], ["y"]);
            Node(b, "Slice", ["x", Ints(b, "s2", 10), Ints(b, "e2", 20)], ["empty"]);
            Out(b, "y");
            Out(b, "empty");
        });
        yield return Symbolic("slice-symbolic", 13, b =>
        {
            b.Input("x", "N", "T");
            Node(b, "Slice", ["x", Ints(b, "starts", 1), Ints(b, "ends", int.MaxValue), Ints(b, "axes", 1)], ["tail"]);
            Node(b, "Slice", ["x", Ints(b, "s2", 0), Ints(b, "e2", long.MaxValue), Ints(b, "a2", 1), Ints(b, "st2", 2)], ["even"]);
            Node(b, "Slice", ["x", Ints(b, "s3", -1), Ints(b, "e3", long.MinValue), Ints(b, "a3", 0), Ints(b, "st3", -1)], ["reversed"]);
            Out(b, "tail");
            Out(b, "even");
            Out(b, "reversed");
        }, "N=2,T=9", "N=3,T=4");
        yield return Case("resize-scales-opset13", 13, b =>
        {
            b.Input("x", 1, 2, 5, 6);
            Node(b, "Resize", ["x", "", Floats(b, "scales", 1, 1, 2, 1.5)], ["y"], Attr.String("mode", "nearest"));
            Out(b, "y");
        });
        yield return Case("resize-sizes-opset11", 11, b =>
        {
            b.Input("x", 1, 2, 5, 6);
            Node(b, "Resize", ["x", Floats(b, "roi"), Floats(b, "scales"), Ints(b, "sizes", 1, 2, 9, 4)], ["y"], Attr.String("mode", "linear"));
            Out(b, "y");
        });
        yield return Case("resize-scales-opset10", 10, b =>
        {
            b.Input("x", 1, 2, 5, 6);
            Node(b, "Resize", ["x", Floats(b, "scales", 1, 1, 0.5, 3)], ["y"]);
            Out(b, "y");
        });
        yield return Case("resize-axes-opset18", 18, b =>
        {
            b.Input("x", 1, 2, 5, 6);
            Node(b, "Resize", ["x", "", Floats(b, "scales", 3, 2)], ["y"], Attr.Ints("axes", 3, 2));
            Node(b, "Resize", ["x", "", "", Ints(b, "sizes", 8, 8)], ["z"], Attr.Ints("axes", 2, 3), Attr.String("keep_aspect_ratio_policy", "not_larger"));
            Out(b, "y");
            Out(b, "z");
        });
        yield return Case("upsample-opset9", 9, b =>
        {
            b.Input("x", 1, 2, 5, 6);
            Node(b, "Upsample", ["x", Floats(b, "scales", 1, 1, 2, 3)], ["y"]);
            Out(b, "y");
        });
        yield return Symbolic("resize-symbolic-scales", 13, b =>
        {
            b.Input("x", "N", 2, "H", "W");
            Node(b, "Resize", ["x", "", Floats(b, "scales", 1, 1, 2, 0.5)], ["y"]);
            Out(b, "y");
        }, "N=1,H=5,W=7", "N=2,H=2,W=8");
        yield return Case("shape-start-end-and-size", 15, b =>
        {
            b.Input("x", 2, 3, 4, 5);
            Node(b, "Shape", ["x"], ["all"]);
            Node(b, "Shape", ["x"], ["mid"], Attr.Int("start", 1), Attr.Int("end", -1));
            Node(b, "Size", ["x"], ["size"]);
            foreach (string y in new[] { "all", "mid", "size" }) Out(b, y, DataType.Int64);
        });
        yield return Case("gather-forms", 13, b =>
        {
            b.Input("data", 5, 4);
            b.Input("d3", 2, 5, 4);
            b.Input("idx", DataType.Int64, 2, 3);
            Node(b, "Gather", ["data", Scalar(b, "i0", -1)], ["row"]);
            Node(b, "Gather", ["d3", "idx"], ["g"], Attr.Int("axis", 1));
            Node(b, "GatherElements", ["data", b.Initializer(TestModelBuilder.Int64Tensor("ge", [2, 4], new long[8]))], ["elements"]);
            Node(b, "GatherND", ["d3", b.Initializer(TestModelBuilder.Int64Tensor("gnd", [3, 2], new long[6]))], ["nd"]);
            foreach (string y in new[] { "row", "g", "elements", "nd" }) Out(b, y);
        });
        yield return Case("reduce-attribute-forms-opset13", 13, b =>
        {
            b.Input("x", 2, 3, 4);
            Node(b, "ReduceMean", ["x"], ["mean"], Attr.Ints("axes", 1), Attr.Int("keepdims", 0));
            Node(b, "ReduceMax", ["x"], ["max"]);
            Node(b, "ReduceSum", ["x", Ints(b, "axes", -1, 0)], ["sum"]);
            Node(b, "ReduceSum", ["x", Ints(b, "none")], ["noop"], Attr.Int("noop_with_empty_axes", 1));
            Node(b, "ArgMax", ["x"], ["argmax"], Attr.Int("axis", 1), Attr.Int("keepdims", 0));
            Node(b, "ArgMin", ["x"], ["argmin"], Attr.Int("axis", -1));
            foreach (string y in new[] { "mean", "max", "sum", "noop" }) Out(b, y);
            Out(b, "argmax", DataType.Int64);
            Out(b, "argmin", DataType.Int64);
        });
        yield return Case("reduce-input-forms-opset18", 18, b =>
        {
            b.Input("x", 2, 3, 4);
            Node(b, "ReduceMean", ["x", Ints(b, "axes", 2)], ["mean"], Attr.Int("keepdims", 0));
            Node(b, "ReduceL2", ["x", Ints(b, "axes2", 0, 2)], ["l2"]);
            Node(b, "ReduceMax", ["x"], ["max"], Attr.Int("keepdims", 0));
            foreach (string y in new[] { "mean", "l2", "max" }) Out(b, y);
        });
        yield return Case("expand-tile-constantofshape-range", 13, b =>
        {
            b.Input("x", 3, 1);
            Node(b, "Expand", ["x", Ints(b, "shape", 2, 1, 4)], ["expanded"]);
            Node(b, "Tile", ["x", Ints(b, "repeats", 2, 3)], ["tiled"]);
            Node(b, "Shape", ["expanded"], ["s"]);
            Node(b, "ConstantOfShape", ["s"], ["zeros"], Attr.Tensor("value", TestModelBuilder.TensorOf("", [1], [2])));
            Node(b, "Range", [Scalar(b, "start", 2), Scalar(b, "limit", 11), Scalar(b, "delta", 3)], ["range"]);
            Out(b, "expanded");
            Out(b, "tiled");
            Out(b, "zeros");
            Out(b, "range", DataType.Int64);
        });
        yield return Symbolic("shape-gather-concat-reshape", 13, b =>
        {
            b.Input("x", "N", 8, "H", "W");
            Node(b, "Shape", ["x"], ["s"]);
            Node(b, "Gather", ["s", Scalar(b, "zero", 0)], ["n"]);
            Node(b, "Unsqueeze", ["n", Ints(b, "axis0", 0)], ["n1"]);
            Node(b, "Concat", ["n1", Ints(b, "rest", -1)], ["target"], Attr.Int("axis", 0));
            Node(b, "Reshape", ["x", "target"], ["y"]);
            Out(b, "y");
        }, "N=2,H=3,W=5", "N=1,H=7,W=1");
        yield return Symbolic("shape-slice-mul-resize-sizes", 13, b =>
        {
            b.Input("x", "N", 3, "H", "W");
            Node(b, "Shape", ["x"], ["s"]);
            Node(b, "Slice", ["s", Ints(b, "s0", 0), Ints(b, "e0", 2)], ["nc"]);
            Node(b, "Slice", ["s", Ints(b, "s1", 2), Ints(b, "e1", 4)], ["hw"]);
            Node(b, "Mul", ["hw", Ints(b, "two", 2, 3)], ["hw2"]);
            Node(b, "Concat", ["nc", "hw2"], ["sizes"], Attr.Int("axis", 0));
            Node(b, "Resize", ["x", "", "", "sizes"], ["y"]);
            Out(b, "y");
        }, "N=1,H=4,W=5", "N=2,H=3,W=1");
        yield return Symbolic("shape-arithmetic-constantofshape", 13, b =>
        {
            b.Input("x", "N", "T");
            Node(b, "Shape", ["x"], ["s"]);
            Node(b, "Gather", ["s", Ints(b, "t", 1)], ["t1"]);
            Node(b, "Add", ["t1", Ints(b, "one", 1)], ["plus"]);
            Node(b, "Div", ["plus", Ints(b, "two", 2)], ["half"]);
            Node(b, "Sub", ["t1", "half"], ["rest"]);
            Node(b, "Concat", ["half", "rest", "t1"], ["target"], Attr.Int("axis", 0));
            Node(b, "ConstantOfShape", ["target"], ["y"]);
            Out(b, "y");
        }, "N=1,T=5", "N=2,T=8");
        yield return Case("depthtospace-spacetodepth", 13, b =>
        {
            b.Input("x", 1, 8, 3, 4);
            Node(b, "DepthToSpace", ["x"], ["d2s"], Attr.Int("blocksize", 2));
            Node(b, "SpaceToDepth", ["d2s"], ["s2d"], Attr.Int("blocksize", 2));
            Out(b, "d2s");
            Out(b, "s2d");
        });
        yield return Case("topk-and-onehot", 13, b =>
        {
            b.Input("x", 3, 5);
            b.Input("i", DataType.Int64, 2, 3);
            Node(b, "TopK", ["x", Ints(b, "k", 2)], ["values", "indices"]);
            Node(b, "OneHot", ["i", Scalar(b, "depth", 4), Floats(b, "onoff", 0, 1)], ["onehot"], Attr.Int("axis", 1));
            Out(b, "values");
            Out(b, "indices", DataType.Int64);
            Out(b, "onehot");
        });
        yield return Case("lstm-forward", 13, b =>
        {
            b.Input("x", 5, 2, 3);
            Node(b, "LSTM", ["x", Weight(b, "w", 1, 24, 3), Weight(b, "r", 1, 24, 6)], ["y", "h", "c"], Attr.Int("hidden_size", 6));
            foreach (string y in new[] { "y", "h", "c" }) Out(b, y);
        });
        yield return Case("lstm-bidirectional", 14, b =>
        {
            b.Input("x", 2, 5, 3);
            Node(b, "LSTM", ["x", Weight(b, "w", 2, 16, 3), Weight(b, "r", 2, 16, 4)], ["y", "h", "c"], Attr.String("direction", "bidirectional"), Attr.Int("hidden_size", 4));
            foreach (string y in new[] { "y", "h", "c" }) Out(b, y);
        });
        yield return Case("gru-and-rnn", 13, b =>
        {
            b.Input("x", 4, 3, 2);
            Node(b, "GRU", ["x", Weight(b, "w", 1, 15, 2), Weight(b, "r", 1, 15, 5)], ["gy", "gh"], Attr.Int("hidden_size", 5));
            Node(b, "RNN", ["x", Weight(b, "rw", 2, 3, 2), Weight(b, "rr", 2, 3, 3)], ["ry", "rh"], Attr.Int("hidden_size", 3), Attr.String("direction", "bidirectional"));
            foreach (string y in new[] { "gy", "gh", "ry", "rh" }) Out(b, y);
        });
        yield return Case("if-constant-condition-picks-branch", 13, b =>
        {
            b.Input("x", 2, 3);
            Node(b, "Constant", [], ["cond"], Attr.Tensor("value", new TensorProto { DataType = (int)DataType.Bool, Int32Data = { 0 } }));
            Node(b, "If", ["cond"], ["y"], Attr.Graph("then_branch", Branch("Transpose", "t")), Attr.Graph("else_branch", Branch("Flatten", "f", Attr.Int("axis", 0))));
            Out(b, "y");
        });
        yield return Case("if-runtime-condition-agreeing-branches", 13, b =>
        {
            b.Input("x", 2, 3);
            b.Input("cond", DataType.Bool);
            Node(b, "If", ["cond"], ["y"], Attr.Graph("then_branch", Branch("Relu", "r")), Attr.Graph("else_branch", Branch("Sigmoid", "s")));
            Out(b, "y");
        });
        yield return Case("loop-carried-and-scan-outputs", 13, b =>
        {
            b.Input("x", 2, 3);
            Node(b, "Loop", [Scalar(b, "trips", 4), "", "x"], ["final", "stacked"], Attr.Graph("body", LoopBody()));
            Out(b, "final");
            Out(b, "stacked");
        });
        yield return Case("loop-with-condition-has-unknown-trip-count", 13, b =>
        {
            b.Input("x", 2, 3);
            Node(b, "Constant", [], ["go"], Attr.Tensor("value", new TensorProto { DataType = (int)DataType.Bool, Int32Data = { 1 } }));
            Node(b, "Loop", [Scalar(b, "trips", 4), "go", "x"], ["final", "stacked"], Attr.Graph("body", LoopBody()));
            Out(b, "final");
            Out(b, "stacked");
        }, unknownDims: 1);
        yield return Case("scan-opset11", 11, b =>
        {
            b.Input("init", 2);
            b.Input("seq", 5, 2);
            Node(b, "Scan", ["init", "seq"], ["last", "sums"], Attr.Graph("body", ScanBody()), Attr.Int("num_scan_inputs", 1));
            Out(b, "last");
            Out(b, "sums");
        });
        yield return Case("nonzero-is-data-dependent", 13, b =>
        {
            b.Input("x", 2, 3);
            Node(b, "NonZero", ["x"], ["nz"]);
            Out(b, "nz", DataType.Int64);
        }, unknownDims: 1);
    }

    /// <summary>A branch with no inputs that applies <paramref name="op"/> to the outer-scope value x.</summary>
    internal static GraphProto Branch(string op, string output, params AttributeProto[] attributes)
    {
        var graph = new GraphProto { Name = output + "_branch" };
        var node = new NodeProto { OpType = op, Name = output + "_node" };
        node.Input.Add("x");
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        graph.Output.Add(new ValueInfoProto { Name = output, Type = TestModelBuilder.TensorType(DataType.Float, null) });
        return graph;
    }

    /// <summary>Loop body: (i, cond, acc) → (cond, acc + 1, acc) — carried [2,3] state and a per-iteration copy.</summary>
    private static GraphProto LoopBody()
    {
        var body = new GraphProto { Name = "body" };
        body.Input.Add(TestModelBuilder.ValueInfo("i", DataType.Int64, []));
        body.Input.Add(TestModelBuilder.ValueInfo("cond_in", DataType.Bool, []));
        body.Input.Add(new ValueInfoProto { Name = "acc", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        body.Initializer.Add(TestModelBuilder.TensorOf("one", [], [1]));
        body.Node.Add(NodeOf("Identity", ["cond_in"], ["cond_out"]));
        body.Node.Add(NodeOf("Add", ["acc", "one"], ["acc_out"]));
        body.Node.Add(NodeOf("Identity", ["acc"], ["copy"]));
        body.Output.Add(new ValueInfoProto { Name = "cond_out", Type = TestModelBuilder.TensorType(DataType.Bool, []) });
        body.Output.Add(new ValueInfoProto { Name = "acc_out", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        body.Output.Add(new ValueInfoProto { Name = "copy", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        return body;
    }

    /// <summary>Scan body: (sum, row) → (sum + row, sum + row).</summary>
    private static GraphProto ScanBody()
    {
        var body = new GraphProto { Name = "scan_body" };
        body.Input.Add(new ValueInfoProto { Name = "sum", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        body.Input.Add(new ValueInfoProto { Name = "row", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        body.Node.Add(NodeOf("Add", ["sum", "row"], ["next"]));
        body.Node.Add(NodeOf("Identity", ["next"], ["out"]));
        body.Output.Add(new ValueInfoProto { Name = "next", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        body.Output.Add(new ValueInfoProto { Name = "out", Type = TestModelBuilder.TensorType(DataType.Float, null) });
        return body;
    }

    internal static NodeProto NodeOf(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = op + "_" + outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }
}
