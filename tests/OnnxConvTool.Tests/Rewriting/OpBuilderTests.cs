using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;

namespace OnnxConvTool.Tests.Rewriting;

using DataType = TensorProto.Types.DataType;

public sealed class OpBuilderTests
{
    /// <summary>A model with float input x of <paramref name="dims"/>, whose output is what <paramref name="emit"/> builds.</summary>
    private static (Model Model, Node Node) Emit(int opset, long[] dims, Func<OpBuilder, Value, Value> emit, DataType outputType = DataType.Float, int? outputRank = null)
    {
        var builder = new TestModelBuilder(opset);
        builder.Input("x", dims.Cast<object>().ToArray());
        var model = builder.ToIr();
        var x = model.Graph.Find("x")!;
        var ops = new OpBuilder(model.Graph);
        var result = emit(ops, x);
        AddTypedOutput(model, result, outputType, outputRank ?? dims.Length);
        Assert.Empty(GraphValidator.Validate(model));
        return (model, result.Producer!);
    }

    /// <summary>Graph outputs need a type for the checker; the element type is enough.</summary>
    internal static void AddTypedOutput(Model model, Value value, DataType type, int rank)
    {
        var shape = new TensorShapeProto();
        for (int i = 0; i < rank; i++) shape.Dim.Add(new TensorShapeProto.Types.Dimension());
        value.Type ??= new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } };
        model.Graph.AddOutput(value);
    }

    private static void AssertValidEverywhere(Model model, long[]? expectedOutputDims = null)
    {
        PythonOracle.AssertValid(model);
        if (model.OnnxOpset < 7) return;
        var outputs = ModelRun.Once(model).Outputs;
        if (expectedOutputDims is not null) Assert.Equal(expectedOutputDims, outputs.Values.Single().Dims);
    }

    private static string[] ConstantInputs(Node node) =>
        node.Inputs.Skip(1).Select(i => i is null ? "" : Model.TryGetConstant(i) is { } t ? string.Join(",", t.ToInt64Array()) : "?").ToArray();

    [SkippableTheory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(13)]
    [InlineData(21)]
    public void ReshapeTakesShapeAsAttributeBeforeOpset5AndAsInputSince(int opset)
    {
        var (model, node) = Emit(opset, [2, 3, 4], (ops, x) => ops.Reshape(x, 0, -1), outputRank: 2);
        Assert.Equal("Reshape", node.OpType);
        if (opset < 5)
        {
            Assert.Equal([0L, -1L], node.GetInts("shape")!);
            Assert.Single(node.Inputs);
        }
        else
        {
            Assert.Null(node.GetInts("shape"));
            if (model.IrVersion >= 4) Assert.Equal(["0,-1"], ConstantInputs(node));
            else Assert.True(node.Inputs[1]!.IsInitializer && node.Inputs[1]!.IsGraphInput, "IR 3 lists int64 constants as initializer inputs");
        }
        AssertValidEverywhere(model, [2, 12]);
    }

    [SkippableTheory]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(13)]
    [InlineData(21)]
    public void SliceTakesAttributesBeforeOpset10AndInputsSince(int opset)
    {
        var (model, node) = Emit(opset, [1, 2, 7], (ops, x) => ops.Slice(x, [1], [long.MaxValue], [2]));
        if (opset < 10)
        {
            Assert.Equal([1L], node.GetInts("starts")!);
            Assert.Equal([2L], node.GetInts("axes")!);
            Assert.Single(node.Inputs);
        }
        else
        {
            Assert.Equal(["1", long.MaxValue.ToString(), "2"], ConstantInputs(node));
        }
        AssertValidEverywhere(model, [1, 2, 6]);
    }

    [SkippableTheory]
    [InlineData(10)]
    [InlineData(13)]
    [InlineData(21)]
    public void StridedSliceHasAStepsInputFromOpset10(int opset)
    {
        var (model, node) = Emit(opset, [1, 2, 7, 5], (ops, x) => ops.Slice(x, [0, 0], [long.MaxValue, long.MaxValue], [2, 3], [2, 3]));
        Assert.Equal(5, node.Inputs.Count);
        Assert.Equal("2,3", ConstantInputs(node)[3]);
        AssertValidEverywhere(model, [1, 2, 4, 2]);
    }

    [Fact]
    public void StridedSliceBeforeOpset10IsRefusedWithAReason()
    {
        var model = new TestModelBuilder(9).Also(b => b.Input("x", 1, 2, 7)).ToIr();
        var ops = new OpBuilder(model.Graph);
        var e = Assert.Throws<OpsetFormException>(() => ops.Slice(model.Graph.Find("x")!, [0], [long.MaxValue], [2], [2]));
        Assert.Equal("Slice with steps needs opset 10, and the model imports opset 9", e.Message);
        Assert.Empty(model.Graph.Nodes);
        Assert.Equal(9, model.OnnxOpset);
    }

    [SkippableTheory]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(13)]
    public void SubsampleIsAnOpsetIndependentStridedPick(int opset)
    {
        var (model, node) = Emit(opset, [1, 2, 7, 5], (ops, x) => ops.Subsample(x, [2, 3]));
        Assert.Equal("AveragePool", node.OpType);
        Assert.Equal([1L, 1L], node.GetInts("kernel_shape")!);
        var run = ModelRun.Once(model);
        var x = run.Inputs["x"];
        var y = run.Outputs.Values.Single();
        Assert.Equal([1, 2, 4, 2], y.Dims);
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 2; j++)
                    Assert.Equal(x[c * 35 + 2 * i * 5 + 3 * j], y.Values[c * 8 + i * 2 + j], 6);
        PythonOracle.AssertValid(model);
    }

    [SkippableTheory]
    [InlineData(1, "paddings")]
    [InlineData(2, "pads")]
    [InlineData(10, "pads")]
    [InlineData(11, null)]
    [InlineData(13, null)]
    [InlineData(21, null)]
    public void PadUsesPaddingsThenPadsAttributeThenInput(int opset, string? attribute)
    {
        var (model, node) = Emit(opset, [1, 2, 3, 3], (ops, x) => ops.PadWithZeros(x, 0, 0, 1, 0, 0, 0, 2, 1));
        if (attribute is not null)
        {
            Assert.Equal([0L, 0, 1, 0, 0, 0, 2, 1], node.GetInts(attribute)!);
            Assert.Single(node.Inputs);
        }
        else
        {
            Assert.Equal(["0,0,1,0,0,0,2,1"], ConstantInputs(node));
        }
        AssertValidEverywhere(model, [1, 2, 6, 4]);
    }

    [SkippableTheory]
    [InlineData(6)]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(21)]
    public void ClipTakesMinMaxAsAttributesBeforeOpset11(int opset)
    {
        var (model, node) = Emit(opset, [2, 3], (ops, x) => ops.Clip(x, DataType.Float, -0.25, 0.5));
        if (opset < 11)
        {
            Assert.Equal(-0.25f, node.GetFloat("min", 0));
            Assert.Equal(0.5f, node.GetFloat("max", 0));
        }
        else
        {
            Assert.Equal(3, node.Inputs.Count);
            Assert.Equal([-0.25], Model.TryGetConstant(node.Inputs[1]!)!.ToDoubleArray());
        }
        var y = ModelRun.Once(model).Outputs.Values.Single().Values;
        Assert.All(y, v => Assert.InRange(v, -0.25, 0.5));
        Assert.Contains(y, v => v == 0.5);
        PythonOracle.AssertValid(model);
    }

    [SkippableTheory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(21)]
    public void SqueezeAndUnsqueezeTakeAxesAsInputFromOpset13(int opset)
    {
        var (model, node) = Emit(opset, [2, 1, 3], (ops, x) => ops.Unsqueeze(ops.Squeeze(x, 1), 0, 3), outputRank: 4);
        var squeeze = node.Inputs[0]!.Producer!;
        foreach (var n in new[] { node, squeeze })
        {
            if (opset < 13) Assert.Single(n.Inputs);
            else Assert.Equal(2, n.Inputs.Count);
        }
        Assert.Equal(opset < 13 ? [0L, 3L] : null, node.GetInts("axes"));
        AssertValidEverywhere(model, [1, 2, 3, 1]);
    }

    [SkippableTheory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(18)]
    [InlineData(21)]
    public void SplitTakesSizesAsInputFromOpset13(int opset)
    {
        var builder = new TestModelBuilder(opset);
        builder.Input("x", 2, 5);
        var model = builder.ToIr();
        var parts = new OpBuilder(model.Graph).Split(model.Graph.Find("x")!, 1, 2, 3);
        foreach (var p in parts) AddTypedOutput(model, p, DataType.Float, 2);
        var node = parts[0].Producer!;
        Assert.Equal(opset < 13 ? [2L, 3L] : null, node.GetInts("split"));
        Assert.Equal(opset < 13 ? 1 : 2, node.Inputs.Count);
        PythonOracle.AssertValid(model);
        var outputs = ModelRun.Once(model).Outputs;
        Assert.Equal([[2, 2], [2, 3]], parts.Select(p => outputs[p.Name].Dims).ToArray());
    }

    [SkippableTheory]
    [InlineData(13, false)]
    [InlineData(17, false)]
    [InlineData(18, true)]
    [InlineData(21, true)]
    public void SplitEquallyUsesNumOutputsFromOpset18(int opset, bool numOutputs)
    {
        var builder = new TestModelBuilder(opset);
        builder.Input("x", 2, 6);
        var model = builder.ToIr();
        var parts = new OpBuilder(model.Graph).SplitEqually(model.Graph.Find("x")!, 1, 3);
        foreach (var p in parts) AddTypedOutput(model, p, DataType.Float, 2);
        Assert.Equal(numOutputs, parts[0].Producer!.HasAttribute("num_outputs"));
        PythonOracle.AssertValid(model);
        Assert.All(ModelRun.Once(model).Outputs.Values, v => Assert.Equal([2, 2], v.Dims));
    }

    [SkippableTheory]
    [InlineData("ReduceSum", 12, false)]
    [InlineData("ReduceSum", 13, true)]
    [InlineData("ReduceMean", 13, false)]
    [InlineData("ReduceMean", 17, false)]
    [InlineData("ReduceMean", 18, true)]
    [InlineData("ReduceMean", 21, true)]
    public void ReduceOpsTakeAxesAsInputFromTheirOpset(string op, int opset, bool axesInput)
    {
        var (model, node) = Emit(opset, [2, 3, 4], (ops, x) => ops.Reduce(op, x, [1], keepDims: false), outputRank: 2);
        Assert.Equal(axesInput ? 2 : 1, node.Inputs.Count);
        Assert.Equal(axesInput ? null : [1L], node.GetInts("axes"));
        AssertValidEverywhere(model, [2, 4]);
    }

    [SkippableTheory]
    [InlineData(13, "Gather")]
    [InlineData(14, "Gather")]
    [InlineData(15, "Shape")]
    [InlineData(21, "Shape")]
    public void PartialShapeUsesStartEndFromOpset15(int opset, string lastOp)
    {
        var (model, node) = Emit(opset, [2, 3, 4, 5], (ops, x) => ops.Shape(x, 2, 4), DataType.Int64, 1);
        Assert.Equal(lastOp, node.OpType);
        var y = ModelRun.Once(model).Outputs.Values.Single();
        Assert.Equal([4.0, 5.0], y.Values);
        PythonOracle.AssertValid(model);
    }

    [SkippableTheory]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(21)]
    public void ArithmeticAndLayoutOpsEmitValidNodes(int opset)
    {
        var (model, _) = Emit(opset, [2, 3, 4], (ops, x) =>
        {
            var t = ops.Transpose(x, 0, 2, 1);                       // [2,4,3]
            var flat = ops.Flatten(t, 2);                            // [8,3]
            var gemm = ops.Gemm(flat, ops.Constant(Tensor.FromFloats("g", [3, 5], new float[15])), ops.Constant(Tensor.FromFloats("c", [5], new float[5])));
            var mm = ops.MatMul(gemm, ops.Constant(Tensor.FromFloats("m", [5, 2], new float[10])));  // [8,2]
            var sum = ops.Add(mm, ops.Mul(mm, mm));
            var cat = ops.Concat([sum, sum], 0);                     // [16,2]
            var picked = ops.Gather(cat, ops.Int64s(0, 3), 0);        // [2,2]
            return ops.Reshape(picked, 1, 4);
        }, outputRank: 2);
        AssertValidEverywhere(model, [1, 4]);
    }

    [SkippableTheory]
    [InlineData(9)]
    [InlineData(11)]
    [InlineData(21)]
    public void ConvEmitsExplicitAttributes(int opset)
    {
        var (model, node) = Emit(opset, [1, 2, 5, 5], (ops, x) =>
            ops.Conv(x, ops.Constant(Tensor.FromFloats("w", [4, 1, 3, 3], new float[36])), ops.Constant(Tensor.FromFloats("b", [4], new float[4])),
                kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: 2));
        Assert.Equal(2, node.GetInt("group", 1));
        AssertValidEverywhere(model, [1, 4, 3, 3]);
    }

    [Fact]
    public void GemmWithoutCBeforeOpset11IsRefused()
    {
        var model = new TestModelBuilder(10).Also(b => b.Input("x", 2, 3)).ToIr();
        var ops = new OpBuilder(model.Graph);
        var x = model.Graph.Find("x")!;
        var e = Assert.Throws<OpsetFormException>(() => ops.Gemm(x, x, transB: true));
        Assert.Equal("Gemm without C needs opset 11, and the model imports opset 10", e.Message);
    }

    [Fact]
    public void BroadcastingAddBeforeOpset7IsRefused()
    {
        var model = new TestModelBuilder(6).Also(b => b.Input("x", 2, 3)).ToIr();
        var x = model.Graph.Find("x")!;
        var e = Assert.Throws<OpsetFormException>(() => new OpBuilder(model.Graph).Add(x, x));
        Assert.Equal("Add with broadcasting needs opset 7, and the model imports opset 6", e.Message);
    }

    [Fact]
    public void AnOpsetNewerThanKnownIsRefused()
    {
        var model = new TestModelBuilder(OpsetVersion.NewestKnown + 1).Also(b => b.Input("x", 2)).ToIr();
        var e = Assert.Throws<OpsetFormException>(() => new OpBuilder(model.Graph));
        Assert.Contains($"newer than the newest this tool knows ({OpsetVersion.NewestKnown})", e.Message);
    }

    [Theory]
    [InlineData("MatMul", DataType.Bfloat16, 12, "MatMul accepts bfloat16 only from opset 13, and the model imports opset 12 (the opset is never raised)")]
    [InlineData("MatMul", DataType.Bfloat16, 13, null)]
    [InlineData("Conv", DataType.Bfloat16, 21, "Conv accepts bfloat16 only from opset 22, and the model imports opset 21 (the opset is never raised)")]
    [InlineData("Add", DataType.Float16, 7, null)]
    [InlineData("MatMul", DataType.Int8, 13, "MatMul does not accept int8 tensors")]
    public void ElementTypeSupportFollowsTheSchemas(string op, DataType type, int opset, string? reason) =>
        Assert.Equal(reason, OpsetVersion.WhyCannotEmit(op, type, opset));

    [SkippableFact]
    public void ElementTypeSupportAgreesWithOnnxSchemasUpToOpset17()
    {
        var ops = new[] { "MatMul", "Gemm", "Add", "Mul", "Reshape", "Pad", "Slice", "Unsqueeze", "Squeeze", "Transpose", "Concat", "Gather", "Flatten", "Conv", "AveragePool" };
        string script = string.Join("\n",
            "import onnx.defs as d",
            "ops = " + "[" + string.Join(",", ops.Select(o => $"'{o}'")) + "]",
            "for op in ops:",
            "  for v in range(1, 18):",
            "    try: s = d.get_schema(op, v)",
            "    except Exception: continue",
            "    t = [c for c in s.type_constraints if c.type_param_str == 'T'][0].allowed_type_strs",
            "    print(op, v, int('tensor(float16)' in t), int('tensor(float)' in t), int('tensor(double)' in t), int('tensor(bfloat16)' in t))");
        var lines = PythonOutput(script);
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            var f = line.Split(' ');
            string op = f[0];
            int opset = int.Parse(f[1]);
            var types = new[] { DataType.Float16, DataType.Float, DataType.Double, DataType.Bfloat16 };
            for (int i = 0; i < 4; i++)
                Assert.True((f[2 + i] == "1") == (OpsetVersion.WhyCannotEmit(op, types[i], opset) is null), $"{op} opset {opset} {types[i]}: schema says {f[2 + i]}");
        }
    }

    private static string[] PythonOutput(string script)
    {
        PythonOracle.Require();
        var info = new System.Diagnostics.ProcessStartInfo(PythonOnnx.Interpreter!, ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = System.Diagnostics.Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, error.Result);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void ConstantsAreInitializersWithUniqueNamesOrConstantNodesBeforeIr4()
    {
        var modern = new TestModelBuilder(13).Also(b => b.Input("x", 2)).ToIr();
        var ops = new OpBuilder(modern.Graph);
        var a = ops.Constant(Tensor.FromFloats("x", [1], [1f]));
        var b = ops.Constant(Tensor.FromFloats("x", [1], [2f]));
        Assert.True(a.IsConstantInitializer && b.IsConstantInitializer);
        Assert.NotEqual("x", a.Name);
        Assert.NotEqual(a.Name, b.Name);

        var legacy = new TestModelBuilder(8).Also(b => b.Input("x", 2)).ToIr();
        Assert.Equal(3, legacy.IrVersion);
        var c = new OpBuilder(legacy.Graph).Constant(Tensor.FromFloats("c", [1], [3f]));
        Assert.Equal("Constant", c.Producer!.OpType);
        Assert.Empty(legacy.Graph.Initializers);
        Assert.Equal([3.0], Model.TryGetConstant(c)!.ToDoubleArray());
    }

    [Fact]
    public void EqualInt64ConstantsAreSharedThroughTheCache()
    {
        var model = new TestModelBuilder(13).Also(b => b.Input("x", 2)).ToIr();
        var cache = new Dictionary<string, Value>();
        var first = new OpBuilder(model.Graph, int64ConstantCache: cache).Int64s(0, -1);
        var second = new OpBuilder(model.Graph, int64ConstantCache: cache).Int64s(0, -1);
        var other = new OpBuilder(model.Graph, int64ConstantCache: cache).Int64s(0, 1);
        Assert.Same(first, second);
        Assert.NotSame(first, other);
    }

    [Fact]
    public void NodesGoBeforeTheInsertionPointInCreationOrder()
    {
        var builder = new TestModelBuilder(13);
        builder.Input("x", 2, 3);
        builder.Node("Relu", ["x"], ["r"]);
        builder.Output("r");
        var model = builder.ToIr();
        var relu = model.Graph.Nodes[0];
        var ops = new OpBuilder(model.Graph, relu, "pre");
        var t = ops.Transpose(model.Graph.Find("x")!, 1, 0);
        ops.Transpose(t, 1, 0);
        Assert.Equal(["Transpose", "Transpose", "Relu"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.StartsWith("pre/", model.Graph.Nodes[0].Name);
    }
}

internal static class BuilderExtensions
{
    public static TestModelBuilder Also(this TestModelBuilder builder, Action<TestModelBuilder> configure)
    {
        configure(builder);
        return builder;
    }
}
