using Google.Protobuf;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

using DataType = TensorProto.Types.DataType;

/// <summary>The large benchmark models: chains of 2048→2048 1x1 convs (float32 weights of 16 MiB each) on a 7×7 map.</summary>
internal static class ConvChainModels
{
    public const int Channels = 2048;

    /// <summary>Bytes of one weight decoded to float64, the unit of the audit's memory goal.</summary>
    public const long Float64WeightBytes = 8L * Channels * Channels;

    /// <summary>
    /// <paramref name="layers"/> chained convs with bias and their weights inline, generated once per work folder with
    /// the seeded <see cref="TestModelBuilder"/> (every generation gives the same bytes); 32 layers make the 537 MB model.
    /// </summary>
    public static string Inline(BenchmarkContext context, int layers)
    {
        string path = Path.Combine(context.WorkDirectory, $"conv1x1-{layers}x{Channels}-seed1.onnx");
        if (File.Exists(path)) return path;
        context.Error.WriteLine($"generating {path} ...");
        var builder = new TestModelBuilder(opset: 13, seed: 1);
        string x = builder.Input("x", 1, Channels, 7, 7);
        for (int i = 0; i < layers; i++) x = builder.Conv(x, Channels, Channels, [1, 1]);
        builder.Output(x, DataType.Float, 1, Channels, 7, 7);
        string temp = path + ".partial";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            builder.Build().WriteTo(stream);
        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>
    /// <paramref name="layers"/> chained convs without bias, every weight in one external data file beside the model
    /// (a single protobuf cannot hold more than 2 GB), written one weight at a time so generation needs one weight of
    /// memory. Values are seeded and uniform in ±1/√C. Returns the model's path inside <paramref name="folder"/>.
    /// </summary>
    public static string External(string folder, int layers)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, $"conv1x1-{layers}x{Channels}-external.onnx");
        const string DataFile = "weights.bin";
        var graph = new GraphProto { Name = "chain" };
        graph.Input.Add(TestModelBuilder.ValueInfo("x", DataType.Float, [1, Channels, 7, 7]));
        var random = new Random(1);
        float scale = 1 / MathF.Sqrt(Channels);
        var values = new float[Channels * Channels];
        long offset = 0;
        using (var data = new FileStream(Path.Combine(folder, DataFile), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            string x = "x";
            for (int layer = 0; layer < layers; layer++)
            {
                for (int i = 0; i < values.Length; i++) values[i] = (2 * random.NextSingle() - 1) * scale;
                var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
                data.Write(bytes);
                var weight = new TensorProto { Name = $"w{layer}", DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
                weight.Dims.AddRange([Channels, Channels, 1, 1]);
                weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = DataFile });
                weight.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                weight.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                offset += bytes.Length;
                graph.Initializer.Add(weight);
                string y = $"y{layer}";
                var node = new NodeProto { OpType = "Conv", Name = $"conv{layer}" };
                node.Input.AddRange([x, weight.Name]);
                node.Output.Add(y);
                node.Attribute.Add(Attr.Ints("kernel_shape", 1, 1));
                graph.Node.Add(node);
                x = y;
            }
            graph.Output.Add(TestModelBuilder.ValueInfo(x, DataType.Float, [1, Channels, 7, 7]));
        }
        var model = new ModelProto { IrVersion = TestModelBuilder.IrVersionFor(13), Graph = graph, ProducerName = "onnxconv-benchmark" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }
}
