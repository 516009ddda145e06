using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Fuzz;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The seed corpus, written into a work folder outside the repository: copies of the ONNX backend-test models and
/// the real models in ../shared and of the sample models in models/ (afl-fuzz skips symbolic links), and small
/// builder models. afl-fuzz refuses seeds above 1 MB, so larger real models are left out (and listed).
/// </summary>
internal static class SeedCorpus
{
    private const long AflMaxSeedBytes = 1 << 20;

    public static int Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var copied = new List<string>();
        foreach (string testCase in SharedData.BackendTestCases())
            copied.Add(Copy(directory, Path.Combine(testCase, "model.onnx"), $"backend-{Path.GetFileName(testCase)}.onnx"));
        foreach (string name in SharedData.RealModelNames)
        {
            string path = SharedData.RealModel(name);
            if (!File.Exists(path)) continue;
            if (new FileInfo(path).Length > AflMaxSeedBytes) Console.WriteLine($"seed skipped (above afl-fuzz's 1 MB): {path}");
            else copied.Add(Copy(directory, path, $"shared-{name}"));
        }
        foreach (var sample in SampleModels.All)
            if (File.Exists(sample.CommittedPath)) copied.Add(Copy(directory, sample.CommittedPath, $"sample-{sample.FileName}"));
        foreach (var (name, builder) in BuilderSeeds())
            builder.Save(Path.Combine(directory, $"builder-{name}.onnx"));
        if (SharedData.Root is null) Console.WriteLine("../shared not found: the corpus has only the sample and builder models");
        Console.WriteLine($"seed corpus {directory}: {copied.Count} copied models, {BuilderSeeds().Count} builder models");
        return 0;
    }

    private static string Copy(string directory, string source, string name)
    {
        string copy = Path.Combine(directory, name);
        File.Copy(source, copy, overwrite: true);
        return copy;
    }

    /// <summary>Small models that reach each rule and the shape rules the real models do not: a few hundred bytes each.</summary>
    private static List<(string Name, TestModelBuilder Builder)> BuilderSeeds()
    {
        var seeds = new List<(string, TestModelBuilder)>();

        var b = new TestModelBuilder(seed: 21);
        string x = b.Input("x", "N", 4, 3, 3);
        b.FloatOutput(b.Relu(b.Conv(x, 4, 6, [1, 1], attributes: [Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 0, 1, 0)])), "N", 6, 3, 2);
        seeds.Add(("conv1x1-strided-padded", b));

        b = new TestModelBuilder(seed: 22);
        x = b.GlobalAveragePool(b.Input("x", 1, 4, 5, 5));
        b.FloatOutput(b.Conv(x, 4, 3, [1, 1]), 1, 3, 1, 1);
        seeds.Add(("conv1x1-on-1x1-map", b));

        b = new TestModelBuilder(seed: 23);
        x = b.Input("x", "N", 6);
        b.FloatOutput(b.Gemm(b.MatMul(x, 6, 5), 5, 3), "N", 3);
        seeds.Add(("matmul-gemm", b));

        b = new TestModelBuilder(seed: 24);
        x = b.Input("x", 1, 4, 2, 2);
        b.FloatOutput(b.Conv(x, 4, 4, [1, 1], group: 4), 1, 4, 2, 2);
        seeds.Add(("conv1x1-depthwise", b));

        b = new TestModelBuilder(seed: 25);
        x = b.Input("x", DataType.Float16, 1, 3, 2, 2);
        b.Output(b.Conv(x, 3, 2, [1, 1], storage: WeightStorage.ConstantNode, type: DataType.Float16), DataType.Float16, 1, 2, 2, 2);
        seeds.Add(("conv1x1-float16-constant-node", b));

        b = new TestModelBuilder(seed: 26);
        x = b.Input("x", 1, 2, 5);
        string y = b.Conv(x, 2, 3, [1], attributes: [Attr.Ints("dilations", 2), Attr.Ints("strides", 2)]);
        b.FloatOutput(b.Conv(b.Input("v", 1, 2, 2, 2, 2), 2, 3, [1, 1, 1]), 1, 3, 2, 2, 2);
        b.FloatOutput(y, 1, 3, 3);
        seeds.Add(("conv1x1-1d-3d", b));

        b = new TestModelBuilder(seed: 27);
        x = b.Input("x", "N", 2, 3, 3);
        string cond = b.Input("cond", DataType.Bool);
        var then = b.Subgraph("then");
        then.FloatOutput(then.Relu(then.HeConv(x, 2, 3, kernel: 1)), "N", 3, 3, 3);
        var otherwise = b.Subgraph("else");
        otherwise.FloatOutput(otherwise.HeConv(x, 2, 3, kernel: 1), "N", 3, 3, 3);
        b.FloatOutput(b.If(cond, then, otherwise)[0], "N", 3, 3, 3);
        seeds.Add(("conv1x1-in-if", b));

        b = new TestModelBuilder(opset: 8, seed: 28);
        x = b.Input("x", 2, 3, 2, 2);
        x = b.BatchNormalization(b.Conv(x, 3, 3, [1, 1]), 3);
        b.FloatOutput(b.Gemm(b.Flatten(x), 12, 4), 2, 4);
        b.ListInitializersAsInputs();
        seeds.Add(("opset8-conv-bn-gemm", b));

        return seeds;
    }
}
