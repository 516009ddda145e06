using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>Small seeded models for verification tests; the same arguments always give the same weights.</summary>
internal static class SmallModels
{
    /// <summary>x [N,3,H,W] → 1x1 Conv (3→4, named "conv", output "features") → Relu → y; a second output z = Sigmoid(features) when asked.</summary>
    public static TestModelBuilder ConvNet(int seed = 1, bool twoOutputs = false)
    {
        var b = new TestModelBuilder(opset: 13, seed: seed);
        b.Input("x", "N", 3, "H", "W");
        var w = b.Initializer(b.RandomTensor("conv.weight", [4, 3, 1, 1]));
        var bias = b.Initializer(b.RandomTensor("conv.bias", [4], scale: 0.5));
        b.Node("Conv", [b.Graph.Input[0].Name, w, bias], ["features"], Attr.Ints("kernel_shape", 1, 1));
        b.Node("Relu", ["features"], ["y"]);
        b.Output("y", DataType.Float, "N", 4, "H", "W");
        if (twoOutputs)
        {
            b.Node("Sigmoid", ["features"], ["z"]);
            b.Output("z", DataType.Float, "N", 4, "H", "W");
        }
        return b;
    }

    public static Model Ir(this TestModelBuilder builder, string name = "model.onnx") => builder.ToIr(name);

    /// <summary>Multiplies every element of initializer <paramref name="name"/> by 1 ± <paramref name="relative"/> (signs seeded).</summary>
    public static TestModelBuilder Perturb(this TestModelBuilder builder, string name, double relative, int seed = 7)
    {
        var proto = builder.Graph.Initializer.Single(t => t.Name == name);
        var values = new Tensor(proto).ToDoubleArray();
        var random = new Random(seed);
        for (int i = 0; i < values.Length; i++) values[i] *= 1 + relative * (random.Next(2) == 0 ? -1 : 1);
        var replacement = Tensor.FromValues(name, (DataType)proto.DataType, proto.Dims.ToArray(), values).Proto;
        proto.ClearRawData();
        proto.FloatData.Clear();
        proto.RawData = replacement.RawData;
        return builder;
    }
}
