using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Large models load through a memory mapping: large payloads stay in the file until used. The tests map
/// small files by loading with a threshold of one byte.
/// </summary>
public sealed class MappedLoadTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Large tensors in every place one can be: an initializer (w, 4 MiB), a Constant node (k, 256 KiB), a
    /// subgraph initializer (inner, 64 KiB) and a sparse initializer (sparse, 8 KiB of values), plus a small one.
    /// The weight also carries an unknown field after its raw_data. Sparse initializers are kept as they are (never moved to external data).
    /// </summary>
    private string LargeModel(string name = "large.onnx")
    {
        var b = new TestModelBuilder(opset: 13, seed: 17);
        b.Input("x", 1, 1024);
        b.Input("cond", DataType.Bool);
        var w = b.RandomTensor("w", [1024, 1024]);
        b.Initializer(TensorProto.Parser.ParseFrom([.. w.ToByteArray(), 0xA0, 0x1F, 0x07]));
        b.ConstantNode(b.RandomTensor("k", [256, 256]));
        b.Initializer(TestModelBuilder.TensorOf("small", [4], [1, 2, 3, 4]));
        var sparseValues = b.RandomTensor("sparse", [2048]);
        var sparse = new SparseTensorProto { Values = sparseValues, Indices = TestModelBuilder.Int64Tensor("sparse_indices", [2048], Enumerable.Range(0, 2048).Select(i => (long)i).ToArray()) };
        sparse.Dims.Add(4096);
        b.Graph.SparseInitializer.Add(sparse);
        b.Node("MatMul", ["x", "w"], ["m"]);
        var then = IrTestModels.Branch("then", "inner_out", ("Add", ["m", "inner"], "inner_out"));
        then.Initializer.Add(b.RandomTensor("inner", [128, 128]));
        var otherwise = IrTestModels.Branch("else", "else_out", ("Identity", ["m"], "else_out"));
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", then), Attr.Graph("else_branch", otherwise));
        b.Node("Add", ["k", "k"], ["k2"]);
        b.Output("y");
        b.Output("k2");
        return b.Save(_temp.File(name));
    }

    private static Model Load(string path) => ModelReader.Load(path, mappedLoadThreshold: 1);

    private static bool IsMapped(TensorProto tensor) => MappedModelFile.TryGetRange(tensor.RawData, out _, out _, out _);

    /// <summary>Each tensor's name and a hash of its raw data (hashes keep the comparison of megabytes fast).</summary>
    private static Dictionary<string, string> AllTensorBytes(ModelProto proto) =>
        TensorPayloads.Tensors(proto).ToDictionary(t => t.Name.Length > 0 ? t.Name : "(unnamed)", t => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(t.RawData.Span)));

    [Fact]
    public void LargePayloadsPointIntoTheFileAndTheModelRoundTripsByteForByte()
    {
        string input = LargeModel();
        string output = _temp.File("saved.onnx");

        var model = Load(input);

        Assert.True(IsMapped(model.Graph.Find("w")!.Initializer!.Proto));
        Assert.True(IsMapped(model.Graph.Nodes.Single(n => n.OpType == "Constant").GetTensor("value")!));
        Assert.True(IsMapped(model.AllGraphs().Single(g => g.Name == "then").Find("inner")!.Initializer!.Proto));
        Assert.False(IsMapped(model.Graph.Find("small")!.Initializer!.Proto));
        ModelWriter.Save(model, output);
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(output));
        Assert.Equal(File.ReadAllBytes(input), ModelWriter.ToBytes(model));
    }

    [Fact]
    public void FilesBelowTheThresholdAreReadWhole()
    {
        var model = ModelReader.Load(LargeModel());

        Assert.True(new FileInfo(_temp.File("large.onnx")).Length < ModelReader.MappedLoadThreshold);
        Assert.False(IsMapped(model.Graph.Find("w")!.Initializer!.Proto));
    }

    [Fact]
    public void LoadingDoesNotCopyLargeInlineWeights()
    {
        string input = LargeModel();
        Load(input);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var model = Load(input);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 1 << 20, $"loading a {new FileInfo(input).Length}-byte model allocated {allocated} bytes");
        Assert.Equal(new Tensor(ModelProto.Parser.ParseFrom(File.ReadAllBytes(input)).Graph.Initializer[0]).ToFloatArray(),
            model.Graph.Find("w")!.Initializer!.ToFloatArray());
    }

    [Fact]
    public void MappedModelConvertsToExternalDataAndBack()
    {
        string input = LargeModel();
        string external = _temp.File("external.onnx");
        string back = _temp.File("back.onnx");

        var saved = ModelWriter.Save(Load(input), external, new SaveOptions { ExternalData = ExternalDataMode.External, ExternalThreshold = 4096 });
        var reloaded = Load(external);
        ModelWriter.Save(reloaded, back, new SaveOptions { ExternalData = ExternalDataMode.Inline });

        Assert.Equal(3, saved.ExternalTensors);
        Assert.NotNull(reloaded.Graph.Find("w")!.Initializer!.External);
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(back));
    }

    [Fact]
    public void SavingOverTheMappedInputKeepsBothOldAndNewDataIntact()
    {
        string input = LargeModel();
        byte[] original = File.ReadAllBytes(input);
        var model = Load(input);
        var expected = AllTensorBytes(ModelProto.Parser.ParseFrom(original));

        ModelWriter.Save(model, input, new SaveOptions { ExternalData = ExternalDataMode.External, AllowOverwritingInput = true });

        Assert.Equal(expected, AllTensorBytes(ModelWriter.ToProto(model)));
        Assert.Equal(expected, AllTensorBytes(ModelWriter.ToProto(Load(input))));
        Assert.True(new FileInfo(input).Length < original.Length / 10);
    }

    [Fact]
    public void TruncatedLargeFileIsRejectedAsTruncated()
    {
        byte[] bytes = File.ReadAllBytes(LargeModel());
        string path = _temp.File("truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length * 7 / 10)]);

        var error = Assert.Throws<ModelRejectedException>(() => Load(path));

        Assert.Equal($"{path}: not a complete ONNX model: the file is truncated", error.Message);
    }

    [Fact]
    public void CorruptedLargeFileIsEitherLoadedLikeTheParserWouldOrRejected()
    {
        byte[] bytes = File.ReadAllBytes(LargeModel());
        var random = new Random(23);
        for (int trial = 0; trial < 12; trial++)
        {
            byte[] corrupted = (byte[])bytes.Clone();
            int position = trial < 6 ? random.Next(0, 64) : random.Next(bytes.Length - 4096, bytes.Length);
            corrupted[position] ^= (byte)(1 << random.Next(8));
            string path = _temp.File($"corrupt{trial}.onnx");
            File.WriteAllBytes(path, corrupted);

            Model? loaded = null;
            try
            {
                loaded = Load(path);
            }
            catch (ModelRejectedException e)
            {
                Assert.StartsWith($"{path}: ", e.Message);
            }
            if (loaded is null) continue;
            var reference = new ModelProto();
            reference.MergeFrom(corrupted);
            Assert.Equal(AllTensorBytes(reference), AllTensorBytes(ModelWriter.ToProto(loaded)));
        }
    }
}
