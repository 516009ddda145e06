using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

using DataType = TensorProto.Types.DataType;

/// <summary>Audit figures that need shapes inferred through the graph (nothing declared but the inputs).</summary>
public sealed class AuditWithInferenceTests
{
    [Fact]
    public void ConvAfterGlobalAveragePoolIsAProjectionHeadWithoutDeclaredShapes()
    {
        var b = new TestModelBuilder(seed: 1);
        string pooled = b.Node("GlobalAveragePool", [b.Input("x", "N", 32, "H", "W")]);
        b.Output(b.Conv(pooled, 32, 8, [1, 1]));
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(Conv1x1Role.ProjectionHead, row.Role);
        Assert.Equal([Dim.Known(1), Dim.Known(1)], row.InputSpatial);
        Assert.Equal(8 * 32, row.Macs);
    }

    [Fact]
    public void SymbolicBatchTakenAsOneGivesPerExampleMacs()
    {
        var b = new TestModelBuilder(seed: 2);
        b.Output(b.Conv(b.Input("x", "N", 4, 6, 6), 4, 8, [1, 1]));
        var model = b.ToIr();

        Assert.Equal(8 * 36 * 4, Assert.Single(Conv1x1Audit.Run(model).Conv1x1).Macs);
        Assert.Null(Assert.Single(Conv1x1Audit.Run(model, new AuditOptions { AssumeBatchOne = false }).Conv1x1).Macs);
    }

    [Fact]
    public void ShapeOverridesFixSymbolicSpatialDims()
    {
        var b = new TestModelBuilder(seed: 3);
        string a = b.Conv(b.Input("x", "N", 4, "H", "W"), 4, 8, [3, 3], attributes: Attr.Ints("strides", 2, 2));
        b.Output(b.Conv(a, 8, 16, [1, 1]));
        var model = b.ToIr();

        var symbolic = Assert.Single(Conv1x1Audit.Run(model).Conv1x1);
        Assert.Null(symbolic.Macs);
        Assert.All(symbolic.InputSpatial!, d => Assert.True(d.IsSymbolic));

        var overrides = new Dictionary<string, IReadOnlyList<Dim>> { ["x"] = [Dim.Known(2), Dim.Known(4), Dim.Known(17), Dim.Known(11)] };
        var report = Conv1x1Audit.Run(model, new AuditOptions { ShapeOverrides = overrides });
        var row = Assert.Single(report.Conv1x1);
        // 3x3 stride 2 without padding: 17×11 → 8×5. The 1x1: batch 2 × 16 × 40 pixels × 8 inputs.
        Assert.Equal([Dim.Known(8), Dim.Known(5)], row.OutputSpatial);
        Assert.Equal(2 * 16 * 40 * 8, row.Macs);
        Assert.Equal(2 * 8 * 40 * 4 * 9 + row.Macs, report.Totals.Macs);
    }

    /// <summary>
    /// Every MAC count against one computed from the shapes ONNX Runtime produces when it runs the model at a
    /// fixed input size (every Conv/ConvTranspose/MatMul/Gemm input and output made a graph output).
    /// </summary>
    [SkippableTheory]
    [InlineData("ch_PP-OCRv4_det_infer.onnx", "x", "1,3,160,160")]
    [InlineData("ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", "1,3,48,192")]
    [InlineData("mlsd_320x320_tiny.onnx", "input_image_with_alpha:0", "1,320,320,4")]
    [InlineData("face_detection_front_128x128_barracuda.onnx", "input:0", "1,128,128,3")]
    public void MacsOfRealModelsEqualThoseOfTheShapesOnnxRuntimeProduces(string name, string input, string dims)
    {
        string path = Shared.RealModel(name);
        var overrides = ShapeOverrides.Parse([$"{input}={dims}"]);
        var report = Conv1x1Audit.Run(ModelReader.Load(path), new AuditOptions { ShapeOverrides = overrides, ComputeWeightRank = false });
        var (perNode, total) = OrtMacs(path, input, dims.Split(',').Select(long.Parse).ToArray());

        Assert.Equal(total, report.Totals.Macs);
        Assert.Equal(report.Conv1x1.Sum(r => perNode[r.Node]), report.Totals.Conv1x1Macs);
        foreach (var row in report.Conv1x1)
            Assert.Equal(perNode[row.Node], row.Macs);
    }

    private static (Dictionary<string, long> PerNode, long Total) OrtMacs(string path, string inputName, long[] inputDims)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var graph = model.Graph;
        var weights = graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        foreach (var node in graph.Node.Where(n => n.OpType == "Constant"))
            weights[node.Output[0]] = node.Attribute.Single(a => a.Name == "value").T.Dims.ToArray();
        var macNodes = graph.Node.Where(n => n.OpType is "Conv" or "ConvTranspose" or "MatMul" or "Gemm").ToList();
        var probed = macNodes.SelectMany(n => new[] { n.Input[0], n.Output[0] })
            .Where(v => v != inputName && !weights.ContainsKey(v) && graph.Output.All(o => o.Name != v)).Distinct().ToList();
        foreach (var value in probed)
            graph.Output.Add(new ValueInfoProto { Name = value, Type = TestModelBuilder.TensorType(DataType.Float, null) });

        using var temp = new TempDirectory();
        string probe = temp.File("probe.onnx");
        File.WriteAllBytes(probe, Google.Protobuf.MessageExtensions.ToByteArray(model));
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(probe, options);
        using var feed = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(new float[inputDims.Aggregate(1L, (a, b) => a * b)], inputDims);
        var outputNames = session.OutputNames.ToList();
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var results = session.Run(runOptions, [inputName], [feed], outputNames);
        var shapes = outputNames.Select((n, i) => (n, results[i].GetTensorTypeAndShape().Shape)).ToDictionary(p => p.n, p => p.Shape);
        shapes[inputName] = inputDims;
        foreach (var (value, dims) in weights) shapes[value] = dims;

        long Product(IEnumerable<long> dims) => dims.Aggregate(1L, (a, b) => a * b);
        var perNode = new Dictionary<string, long>();
        long total = 0;
        foreach (var node in macNodes)
        {
            long[] x = shapes[node.Input[0]], w = shapes[node.Input[1]], y = shapes[node.Output[0]];
            bool Flag(string attribute) => node.Attribute.FirstOrDefault(a => a.Name == attribute)?.I == 1;
            long macs = node.OpType switch
            {
                "Conv" => Product(y) * w[1] * Product(w.Skip(2)),
                "ConvTranspose" => Product(x) * w[1] * Product(w.Skip(2)),
                "MatMul" => Product(y) * x[^1],
                _ => (Flag("transA") ? x[1] : x[0]) * (Flag("transA") ? x[0] : x[1]) * (Flag("transB") ? w[0] : w[1]),
            };
            perNode[node.Name] = macs;
            total += macs;
        }
        return (perNode, total);
    }
}
