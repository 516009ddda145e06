using OnnxConvTool.Onnx;

namespace OnnxConvTool.TestKit;

using DataType = TensorProto.Types.DataType;

/// <summary>Seeded builder models of the blocks the merge rules target: Inception, a linear 1x1 chain, RepVGG in training form.</summary>
public static class MergeModels
{
    private static object[] Dims(long channels, long size, int rank) => [1L, channels, .. Enumerable.Repeat((object)size, rank)];

    private static string Conv(TestModelBuilder b, string x, long c, long m, int rank, long kernel = 1, long group = 1, bool bias = true, DataType type = DataType.Float)
    {
        var attributes = kernel > 1 ? new[] { Attr.Ints("pads", Enumerable.Repeat(kernel / 2, 2 * rank).ToArray()) } : [];
        return b.Conv(x, c, m, Enumerable.Repeat(kernel, rank).ToArray(), group, bias, WeightStorage.Initializer, type, attributes);
    }

    private static void Output(TestModelBuilder b, string name, int rank, DataType type = DataType.Float) =>
        b.Output(name, type, Enumerable.Range(0, rank).Select(i => (object)$"{name}_d{i}").ToArray());

    /// <summary>Inception block on [1, 4c, s, s]: 1x1 (c), 1x1 → 3x3, 1x1 → 5x5 and pool → 1x1 branches, concatenated.</summary>
    public static TestModelBuilder InceptionBlock(long c = 16, long size = 16, int seed = 31)
    {
        var b = new TestModelBuilder(13, seed);
        b.Input("x", Dims(4 * c, size, 2));
        string direct = b.Relu(Conv(b, "x", 4 * c, c, 2));
        string reduce3 = b.Relu(Conv(b, "x", 4 * c, 3 * c / 2, 2));
        string reduce5 = b.Relu(Conv(b, "x", 4 * c, c / 2, 2));
        string conv3 = b.Relu(Conv(b, reduce3, 3 * c / 2, 2 * c, 2, kernel: 3));
        string conv5 = b.Relu(Conv(b, reduce5, c / 2, c, 2, kernel: 5));
        string pool = b.Relu(Conv(b, b.MaxPool("x", 3, 1, 1), 4 * c, c, 2));
        b.Node("Concat", [direct, conv3, conv5, pool], ["y"], Attr.Int("axis", 1));
        Output(b, "y", 4);
        return b;
    }

    /// <summary>Four 1x1 convolutions in a row on [1, 2c, s, s]: 2c → 4c → 3c → 2c → c, then ReLU.</summary>
    public static TestModelBuilder LinearChain(long c = 32, long size = 32, int seed = 33)
    {
        var b = new TestModelBuilder(13, seed);
        b.Input("x", Dims(2 * c, size, 2));
        string y = "x";
        foreach (var (from, to) in new[] { (2 * c, 4 * c), (4 * c, 3 * c), (3 * c, 2 * c), (2 * c, c) }) y = Conv(b, y, from, to, 2);
        b.Node("Relu", [y], ["y"]);
        Output(b, "y", 4);
        return b;
    }

    /// <summary>
    /// RepVGG block in training form on [1, c, s…]: 3-wide Conv → BN, 1-wide Conv → BN and (with <paramref name="identity"/>)
    /// BN(x), summed, then ReLU.
    /// </summary>
    public static TestModelBuilder RepVggBlock(long channels = 16, long size = 6, int rank = 2, long group = 1, bool identity = true,
        DataType type = DataType.Float, int opset = 13, int seed = 21)
    {
        var b = new TestModelBuilder(opset, seed);
        b.Input("x", type, Dims(channels, size, rank));
        string dense = b.BatchNormalization(Conv(b, "x", channels, channels, rank, kernel: 3, group: group, bias: false, type: type), channels, type: type);
        string pointwise = b.BatchNormalization(Conv(b, "x", channels, channels, rank, group: group, bias: false, type: type), channels, type: type);
        string sum = b.Add(dense, pointwise);
        if (identity) sum = b.Add(sum, b.BatchNormalization("x", channels, type: type));
        b.Node("Relu", [sum], ["y"]);
        Output(b, "y", rank + 2, type);
        return b;
    }
}
