using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;

namespace OnnxConvTool.Tests.Samples;

/// <summary>
/// The committed models/ files: reproducible byte for byte from <see cref="SampleModels"/>, valid for our IR,
/// for the ONNX reference checker and for ONNX Runtime. With ONNXCONV_WRITE_SAMPLES=1 the reproducibility test
/// writes the files instead of comparing them.
/// </summary>
public sealed class SampleModelsTests
{
    private static readonly Lazy<IReadOnlyList<OnnxCheckResult>> CheckerResults =
        new(() => PythonOnnx.CheckModels(SampleModels.All.Select(m => m.CommittedPath)));

    private static bool WriteRequested => Environment.GetEnvironmentVariable("ONNXCONV_WRITE_SAMPLES") == "1";

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var model in SampleModels.All) data.Add(model.FileName);
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SampleModelsAreReproducible(string fileName)
    {
        var sample = SampleModels.Get(fileName);
        byte[] generated = sample.ToBytes();
        Assert.Equal(generated, sample.ToBytes());
        if (WriteRequested)
        {
            Directory.CreateDirectory(SampleModels.Directory);
            File.WriteAllBytes(sample.CommittedPath, generated);
        }
        Assert.True(File.Exists(sample.CommittedPath),
            $"{sample.CommittedPath} is missing; regenerate with ONNXCONV_WRITE_SAMPLES=1 dotnet test tests/OnnxConvTool.Tests --filter SampleModelsAreReproducible");
        Assert.True(generated.AsSpan().SequenceEqual(File.ReadAllBytes(sample.CommittedPath)),
            $"{sample.CommittedPath} differs from what SampleModels generates for it; regenerate with ONNXCONV_WRITE_SAMPLES=1 dotnet test tests/OnnxConvTool.Tests --filter SampleModelsAreReproducible");
    }

    [Fact]
    public void ModelsFolderHoldsExactlyTheSampleModels()
    {
        var committed = Directory.GetFiles(SampleModels.Directory, "*.onnx").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(SampleModels.All.Select(m => m.FileName).Order(StringComparer.Ordinal), committed);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SampleModelLoadsAndValidatesInTheIr(string fileName)
    {
        string path = SampleModels.Get(fileName).CommittedPath;
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var model = ModelReader.Load(path);

        Assert.Empty(GraphValidator.Validate(model));
        Assert.Equal(SampleModels.Opset, model.OnnxOpset);
        Assert.Equal(TestModelBuilder.IrVersionFor(SampleModels.Opset), model.IrVersion);
        Assert.Equal(proto.Graph.Node.Select(n => n.Name), model.Graph.Nodes.Select(n => n.Name));
        Assert.All(model.Graph.Initializers, v => Assert.Equal(ConstantSource.Initializer, Model.GetConstantSource(v)));
    }

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void SampleModelPassesTheOnnxChecker(string fileName)
    {
        PythonOracle.Require();
        var result = CheckerResults.Value.Single(r => Path.GetFileName(r.Path) == fileName);
        Assert.True(result.Ok, result.ToString());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SampleModelRunsInOnnxRuntimeWithSaneActivations(string fileName)
    {
        string path = SampleModels.Get(fileName).CommittedPath;
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        // Batch 2 and, for the model with free spatial dims, a non-square odd size.
        var dims = new Dictionary<string, long> { ["N"] = 2, ["H"] = 37, ["W"] = 29 };

        var outputs = OrtRun.Run(path, dims);

        Assert.Equal(proto.Graph.Output.Count, outputs.Count);
        foreach (var (declared, output) in proto.Graph.Output.Zip(outputs))
        {
            var expectedShape = declared.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? dims[d.DimParam] : d.DimValue);
            Assert.Equal(expectedShape, output.Shape);
            Assert.All(output.Values, v => Assert.True(float.IsFinite(v), $"{fileName}: {output.Name} has {v}"));
            double maxAbs = output.Values.Max(v => Math.Abs((double)v));
            Assert.InRange(maxAbs, 1e-2, 1e3);
            Assert.True(output.Values.Distinct().Count() > output.Values.Length / 10, $"{fileName}: {output.Name} is nearly constant");
        }
    }

    [Fact]
    public void SampleModelsShowTheirOneByOneConvolutions()
    {
        var counts = SampleModels.All.ToDictionary(m => m.FileName, m => OneByOneConvs(m.Create().Build()).Count);

        Assert.Equal(9, counts["squeezenet_fire.onnx"]);
        Assert.Equal(2, counts["mnist_1x1.onnx"]);
        Assert.Equal(6, counts["nin_mlpconv.onnx"]);
        Assert.Equal(2, counts["mobilenetv2_block.onnx"]);
        Assert.Equal(3, counts["resnet_bottleneck.onnx"]);
    }

    [Fact]
    public void SqueezeNetFireModulesConcatA1x1AndA3x3ExpandOfOneSqueeze()
    {
        var model = SampleModels.SqueezeNetFire().Build();
        var graph = model.Graph;
        var concats = graph.Node.Where(n => n.OpType == "Concat").ToList();
        Assert.Equal(4, concats.Count);
        foreach (var concat in concats)
        {
            var expands = concat.Input.Select(i => ProducerThroughRelu(graph, i)).ToList();
            Assert.Equal([1L, 3L], expands.Select(c => KernelOf(graph, c)));
            Assert.Equal(expands[0].Input[0], expands[1].Input[0]);
            var squeeze = ProducerThroughRelu(graph, expands[0].Input[0]);
            Assert.Equal(1, KernelOf(graph, squeeze));
            Assert.True(WeightDims(graph, squeeze)[0] < WeightDims(graph, squeeze)[1], $"{squeeze.Name} should reduce channels");
        }
        var classifier = ProducerThroughRelu(graph, graph.Node.Single(n => n.OpType == "GlobalAveragePool").Input[0]);
        Assert.Equal(1, KernelOf(graph, classifier));
        Assert.Equal(10, WeightDims(graph, classifier)[0]);
    }

    [Fact]
    public void MnistTakesAnNhwcImageIntoAOneChannelInOneByOneConvToSixteen()
    {
        var graph = SampleModels.Mnist1x1().Build().Graph;
        Assert.Equal(["N", "28", "28", "1"], graph.Input[0].Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString()));
        var transpose = graph.Node.Single(n => n.Input.Contains(graph.Input[0].Name));
        Assert.Equal("Transpose", transpose.OpType);
        Assert.Equal([0L, 3L, 1L, 2L], transpose.Attribute.Single(a => a.Name == "perm").Ints);
        var first = graph.Node.Single(n => n.Input.Contains(transpose.Output[0]));
        Assert.Equal("Conv", first.OpType);
        Assert.Equal([16L, 1L, 1L, 1L], WeightDims(graph, first));
        var head = OneByOneConvs(graph.Node).Last();
        Assert.Equal("GlobalAveragePool", graph.Node.Single(n => n.Output.Contains(head.Input[0])).OpType);
    }

    [Fact]
    public void NinBlocksAreAConvFollowedByTwoOneByOneConvsWithRelu()
    {
        var graph = SampleModels.NinMlpconv().Build().Graph;
        Assert.Equal(["N", "3", "H", "W"], graph.Input[0].Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString()));
        var convs = graph.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal([5L, 1L, 1L, 5L, 1L, 1L, 3L, 1L, 1L], convs.Select(c => KernelOf(graph, c)));
        Assert.All(convs, c => Assert.Equal("Relu", graph.Node.Single(n => n.Input.Contains(c.Output[0])).OpType));
    }

    [Fact]
    public void MobileNetV2BlockExpandsFiltersDepthwiseAndProjectsLinearlyIntoTheResidual()
    {
        var graph = SampleModels.MobileNetV2Block().Build().Graph;
        var convs = graph.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(["expand", "depthwise", "project"], convs.Select(c => c.Name));
        Assert.Equal([144L, 24L, 1L, 1L], WeightDims(graph, convs[0]));
        Assert.Equal([144L, 1L, 3L, 3L], WeightDims(graph, convs[1]));
        Assert.Equal(144, convs[1].Attribute.Single(a => a.Name == "group").I);
        Assert.Equal([24L, 144L, 1L, 1L], WeightDims(graph, convs[2]));

        var clips = graph.Node.Where(n => n.OpType == "Clip").ToList();
        Assert.Equal([convs[0].Output[0], convs[1].Output[0]], clips.Select(c => c.Input[0]));
        Assert.Equal(clips[0].Input.Skip(1), clips[1].Input.Skip(1));

        var add = graph.Node.Single(n => n.Input.Contains(convs[2].Output[0]));
        Assert.Equal("Add", add.OpType);
        Assert.Contains(graph.Input[0].Name, add.Input);
        Assert.Equal(graph.Output[0].Name, add.Output[0]);
    }

    [Fact]
    public void ResNetBottleneckHasUnfusedBatchNormWithNonTrivialStatistics()
    {
        var graph = SampleModels.ResNetBottleneck().Build().Graph;
        var norms = graph.Node.Where(n => n.OpType == "BatchNormalization").ToList();
        Assert.Equal(4, norms.Count);
        foreach (var bn in norms)
        {
            var conv = graph.Node.Single(n => n.Output.Contains(bn.Input[0]));
            Assert.Equal("Conv", conv.OpType);
            Assert.Equal(2, conv.Input.Count);
            var stats = bn.Input.Skip(1).Select(name => new Tensor(graph.Initializer.Single(t => t.Name == name)).ToDoubleArray()).ToArray();
            Assert.Contains(stats[0], v => Math.Abs(v - 1) > 0.1);
            Assert.Contains(stats[1], v => Math.Abs(v) > 0.1);
            Assert.Contains(stats[2], v => Math.Abs(v) > 0.1);
            Assert.Contains(stats[3], v => Math.Abs(v - 1) > 0.1);
            Assert.All(stats[3], v => Assert.True(v > 0));
        }

        var shortcut = graph.Node.Single(n => n.Name == "downsample.0");
        Assert.Equal(graph.Input[0].Name, shortcut.Input[0]);
        Assert.Equal(1, KernelOf(graph, shortcut));
        Assert.Equal([2L, 2L], shortcut.Attribute.Single(a => a.Name == "strides").Ints);
        var add = graph.Node.Single(n => n.OpType == "Add");
        Assert.Equal(["bn3", "downsample.1"], add.Input.Select(i => graph.Node.Single(n => n.Output.Contains(i)).Name));
    }

    private static List<NodeProto> OneByOneConvs(ModelProto model) => OneByOneConvs(model.Graph.Node);

    private static List<NodeProto> OneByOneConvs(IEnumerable<NodeProto> nodes) =>
        nodes.Where(n => n.OpType == "Conv" && n.Attribute.Single(a => a.Name == "kernel_shape").Ints.All(k => k == 1)).ToList();

    private static NodeProto ProducerThroughRelu(GraphProto graph, string value)
    {
        var producer = graph.Node.Single(n => n.Output.Contains(value));
        return producer.OpType == "Relu" ? graph.Node.Single(n => n.Output.Contains(producer.Input[0])) : producer;
    }

    private static long KernelOf(GraphProto graph, NodeProto conv)
    {
        var dims = WeightDims(graph, conv);
        Assert.Equal(dims[2], dims[3]);
        return dims[2];
    }

    private static long[] WeightDims(GraphProto graph, NodeProto conv) =>
        graph.Initializer.Single(t => t.Name == conv.Input[1]).Dims.ToArray();
}
