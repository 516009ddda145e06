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
    public static TestModelBuilder InceptionBlock(long c = 16, long size = 16, int seed = 31) =>
        InceptionBlock(4 * c, c, 3 * c / 2, 2 * c, c / 2, c, c, size, seed);

    /// <summary>GoogLeNet's inception (3a) on [1, 192, 28, 28]: 1x1 64; 1x1 96 → 3x3 128; 1x1 16 → 5x5 32; 3x3 max pool → 1x1 32.</summary>
    public static TestModelBuilder GoogLeNetInception3a(int seed = 35) => InceptionBlock(192, 64, 96, 128, 16, 32, 32, 28, seed);

    /// <summary>Inception block on [1, input, s, s], each Conv followed by ReLU, the four branches concatenated.</summary>
    public static TestModelBuilder InceptionBlock(long input, long direct, long reduce3, long out3, long reduce5, long out5, long pool, long size, int seed)
    {
        var b = new TestModelBuilder(13, seed);
        b.Input("x", Dims(input, size, 2));
        string first = b.Relu(Conv(b, "x", input, direct, 2));
        string toThree = b.Relu(Conv(b, "x", input, reduce3, 2));
        string toFive = b.Relu(Conv(b, "x", input, reduce5, 2));
        string three = b.Relu(Conv(b, toThree, reduce3, out3, 2, kernel: 3));
        string five = b.Relu(Conv(b, toFive, reduce5, out5, 2, kernel: 5));
        string pooled = b.Relu(Conv(b, b.MaxPool("x", 3, 1, 1), input, pool, 2));
        b.Node("Concat", [first, three, five, pooled], ["y"], Attr.Int("axis", 1));
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
