using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;

namespace OnnxConvTool.Tests.Samples;

using DataType = TensorProto.Types.DataType;

/// <summary>The layer and subgraph helpers of <see cref="TestModelBuilder"/> build what they say, checked by ORT and the ONNX checker.</summary>
public sealed class TestModelBuilderLayersTests
{
    [Fact]
    public void IfBranchesReadOuterValuesAndComputeTheirOwnConvs()
    {
        var b = IfModel();
        using var temp = new TempDirectory();
        string path = b.Save(temp.File("if.onnx"));
        var model = b.Build();
        float[] x = Enumerable.Range(0, 2 * 2 * 3 * 3).Select(i => (float)Math.Sin(i)).ToArray();

        foreach (bool condition in new[] { true, false })
        {
            var output = OrtRun.Run(path, new Dictionary<string, long> { ["N"] = 2 },
                values: new Dictionary<string, float[]> { ["x"] = x, ["cond"] = [condition ? 1f : 0f] }).Single();

            var branch = model.Graph.Node.Single(n => n.OpType == "If").Attribute.Single(a => a.Name == (condition ? "then_branch" : "else_branch")).G;
            var conv = branch.Node.Single(n => n.OpType == "Conv");
            var expected = PointwiseConv(x, batch: 2, pixels: 9, Values(branch, conv.Input[1]), Values(branch, conv.Input[2]));
            if (condition) expected = expected.Select(v => Math.Max(v, 0f)).ToArray();
            Assert.Equal([2L, 3L, 3L, 3L], output.Shape);
            AssertClose(expected, output.Values);
        }
    }

    [Fact]
    public void SubgraphBuildersShareTheSeededGeneratorAndTheNameCounter()
    {
        var first = IfModel().ToBytes();
        Assert.Equal(first, IfModel().ToBytes());

        var model = IfModel().Build();
        var graphs = new[] { model.Graph }.Concat(model.Graph.Node.SelectMany(n => n.Attribute).Where(a => a.G is not null).Select(a => a.G)).ToList();
        Assert.Equal(3, graphs.Count);
        var produced = graphs.SelectMany(g => g.Node.SelectMany(n => n.Output).Concat(g.Initializer.Select(t => t.Name))).ToList();
        Assert.Equal(produced.Count, produced.Distinct().Count());
        var nodeNames = graphs.SelectMany(g => g.Node.Select(n => n.Name)).ToList();
        Assert.Equal(nodeNames.Count, nodeNames.Distinct().Count());
        var weights = graphs.Skip(1).Select(g => Values(g, g.Node.Single(n => n.OpType == "Conv").Input[1])).ToList();
        Assert.NotEqual(weights[0], weights[1]);
    }

    [SkippableFact]
    public void IfModelPassesTheOnnxChecker()
    {
        using var temp = new TempDirectory();
        PythonOracle.AssertValid(IfModel().Save(temp.File("if.onnx")));
    }

    [Fact]
    public void BatchNormalizationIsTheInferenceFormulaWithNonTrivialStatistics()
    {
        var b = new TestModelBuilder(seed: 5);
        string x = b.Input("x", "N", 3, 2, 2);
        b.BatchNormalization(x, 3, "bn", epsilon: 1e-3f);
        b.FloatOutput("bn", "N", 3, 2, 2);
        using var temp = new TempDirectory();
        float[] input = Enumerable.Range(0, 3 * 3 * 4).Select(i => (float)Math.Cos(i)).ToArray();

        var output = OrtRun.Run(b.Save(temp.File("bn.onnx")), new Dictionary<string, long> { ["N"] = 3 },
            values: new Dictionary<string, float[]> { ["x"] = input }).Single();

        var graph = b.Graph;
        var (scale, bias, mean, variance) = (Values(graph, "bn.weight"), Values(graph, "bn.bias"), Values(graph, "bn.running_mean"), Values(graph, "bn.running_var"));
        var expected = input.Select((v, i) =>
        {
            int c = i / 4 % 3;
            return scale[c] * (v - mean[c]) / MathF.Sqrt(variance[c] + 1e-3f) + bias[c];
        }).ToArray();
        AssertClose(expected, output.Values);
        Assert.All(variance, v => Assert.InRange(v, 0.5f, 2.0f));
        Assert.Contains(mean, v => Math.Abs(v) > 0.05f);
    }

    [Fact]
    public void GemmAndMatMulMultiplyByTheirWeights()
    {
        var b = new TestModelBuilder(seed: 6);
        string x = b.Input("x", "N", 5);
        b.FloatOutput(b.Gemm(x, 5, 4, name: "gemm"), "N", 4);
        b.FloatOutput(b.MatMul(x, 5, 3, name: "matmul"), "N", 3);
        using var temp = new TempDirectory();
        float[] input = Enumerable.Range(0, 2 * 5).Select(i => (float)Math.Sin(3 * i)).ToArray();

        var outputs = OrtRun.Run(b.Save(temp.File("gemm.onnx")), new Dictionary<string, long> { ["N"] = 2 },
            values: new Dictionary<string, float[]> { ["x"] = input });

        // Gemm with transB: W is [out, in]; MatMul: W is [in, out]. A pointwise conv over one "pixel" is W·x + b.
        float[] gemmW = Values(b.Graph, "gemm.weight"), gemmB = Values(b.Graph, "gemm.bias"), matmulW = Values(b.Graph, "matmul.weight");
        AssertClose(PointwiseConv(Transpose(input, 2, 5), batch: 1, pixels: 2, gemmW, gemmB), Transpose(outputs[0].Values, 2, 4));
        float[] matmulWt = Transpose(matmulW, 5, 3);
        AssertClose(PointwiseConv(Transpose(input, 2, 5), batch: 1, pixels: 2, matmulWt, new float[3]), Transpose(outputs[1].Values, 2, 3));
    }

    [Fact]
    public void GemmWithoutBiasBelowOpset11IsRefused()
    {
        var b = new TestModelBuilder(opset: 9);
        var error = Assert.Throws<InvalidOperationException>(() => b.Gemm(b.Input("x", 1, 5), 5, 4, bias: false));
        Assert.Contains("opset 11", error.Message);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(10)]
    [InlineData(13)]
    public void OpsetDependentOpsTakeTheFormOfTheOpset(int opset)
    {
        var graph = OpsetFormsModel(opset).Graph;

        var clip = graph.Node.Single(n => n.OpType == "Clip");
        Assert.Equal(opset >= 11 ? 3 : 1, clip.Input.Count);
        Assert.Equal(opset >= 11 ? 0 : 2, clip.Attribute.Count);
        Assert.Equal(2, graph.Node.Single(n => n.OpType == "Reshape").Input.Count);
        Assert.Equal(opset < 7, graph.Node.Single(n => n.OpType == "BatchNormalization").Attribute.Any(a => a.Name == "is_test" && a.I == 1));
        Assert.Equal(opset < 7, graph.Node.Single(n => n.OpType == "Gemm").Attribute.Any(a => a.Name == "broadcast" && a.I == 1));
    }

    [SkippableFact]
    public void OpsetDependentFormsPassTheOnnxChecker()
    {
        using var temp = new TempDirectory();
        PythonOracle.AssertValid(new[] { 4, 6, 10, 13, 17 }.Select(opset => OpsetFormsModel(opset).Save(temp.File($"forms{opset}.onnx"))).ToArray());
    }

    [Fact]
    public void ReshapeBeforeOpset5UsesTheShapeAttribute()
    {
        var graph = OpsetFormsModel(4).Graph;
        var reshape = graph.Node.Single(n => n.OpType == "Reshape");
        Assert.Single(reshape.Input);
        Assert.Equal([-1L, 12L], reshape.Attribute.Single(a => a.Name == "shape").Ints);
    }

    /// <summary>x [N,2,3,3]; then: Relu(Conv1x1(x)), else: Conv1x1(x) with another weight; both branches read x from the outer scope.</summary>
    private static TestModelBuilder IfModel()
    {
        var b = new TestModelBuilder(seed: 11);
        string x = b.Input("x", "N", 2, 3, 3);
        string cond = b.Input("cond", DataType.Bool);
        var then = b.Subgraph("then");
        then.FloatOutput(then.Relu(then.HeConv(x, 2, 3, kernel: 1)), "N", 3, 3, 3);
        var otherwise = b.Subgraph("else");
        otherwise.FloatOutput(otherwise.HeConv(x, 2, 3, kernel: 1), "N", 3, 3, 3);
        string y = b.If(cond, then, otherwise)[0];
        b.FloatOutput(y, "N", 3, 3, 3);
        return b;
    }

    /// <summary>x [2,3,2,2] → BN → Clip → Reshape [-1,12] → Gemm 12→4: every op whose form the builder chooses by opset.</summary>
    private static TestModelBuilder OpsetFormsModel(int opset)
    {
        var b = new TestModelBuilder(opset: opset, seed: 3);
        string x = b.Input("x", 2, 3, 2, 2);
        x = b.Clip(b.BatchNormalization(x, 3), 0, 6);
        x = b.Reshape(x, [-1, 12]);
        b.FloatOutput(b.Gemm(x, 12, 4), 2, 4);
        if (b.Build().IrVersion < 4) b.ListInitializersAsInputs();
        return b;
    }

    /// <summary>y[n, m, p] = Σc W[m, c] · x[n, c, p] + b[m] for x in NCHW with <paramref name="pixels"/> = H·W.</summary>
    private static float[] PointwiseConv(float[] x, int batch, int pixels, float[] weight, float[] bias)
    {
        int outChannels = bias.Length, inChannels = weight.Length / outChannels;
        var y = new float[batch * outChannels * pixels];
        for (int n = 0; n < batch; n++)
            for (int m = 0; m < outChannels; m++)
                for (int p = 0; p < pixels; p++)
                {
                    double sum = bias[m];
                    for (int c = 0; c < inChannels; c++) sum += weight[m * inChannels + c] * x[(n * inChannels + c) * pixels + p];
                    y[(n * outChannels + m) * pixels + p] = (float)sum;
                }
        return y;
    }

    private static float[] Transpose(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[c * rows + r] = matrix[r * columns + c];
        return result;
    }

    private static float[] Values(GraphProto graph, string initializer) =>
        new Tensor(graph.Initializer.Single(t => t.Name == initializer)).ToFloatArray();

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]), $"element {i}: expected {expected[i]}, got {actual[i]}");
    }
}
