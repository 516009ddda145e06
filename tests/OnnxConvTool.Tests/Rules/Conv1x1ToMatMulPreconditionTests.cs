using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules;

using DataType = TensorProto.Types.DataType;

/// <summary>One test per precondition of <see cref="Conv1x1ToMatMul"/>, asserting its sentence and that nothing changed.</summary>
public sealed class Conv1x1ToMatMulPreconditionTests
{
    private static string Refusal(TestModelBuilder builder)
    {
        var (before, after, result) = RewriteHarness.ToMatMul(builder);
        var outcome = Assert.Single(result.Outcomes);
        Assert.Equal(CandidateStatus.NotApplicable, outcome.Status);
        Assert.Equal(RewriteHarness.Dump(before.Graph), RewriteHarness.Dump(after.Graph));
        Assert.Equal(0, result.AppliedCount);
        return outcome.Detail;
    }

    private static TestModelBuilder OneConv(int opset, object[] inputDims, Func<TestModelBuilder, string> conv)
    {
        var b = new TestModelBuilder(opset);
        b.Input("x", inputDims);
        b.Node("Relu", [conv(b)], ["y"]);
        b.Output("y");
        return b;
    }

    [Fact]
    public void ConvInAnotherDomainIsLeftAlone()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 3, 3);
        var w = b.RandomInitializer("w", [2, 4, 1, 1]);
        b.Node("Conv", ["x", w], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Graph.Node[^1].Domain = "com.example";
        b.Output("y");
        var model = b.Build();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });
        var ir = ModelReader.Build(model, "t.onnx", ".");
        var result = RewriteDriver.Run(ir, [new Conv1x1ToMatMul()]);
        Assert.Equal("'Conv_0' is in domain 'com.example', not the default ONNX domain", Assert.Single(result.Outcomes).Detail);
    }

    [Fact]
    public void KernelLargerThanOneIsRefused() =>
        Assert.Equal("the kernel is 3x1, not 1x1", Refusal(OneConv(13, [1, 4, 5, 5], b => b.Conv("x", 4, 2, [3, 1]))));

    [Fact]
    public void A1DKernelLargerThanOneIsRefused() =>
        Assert.Equal("the kernel is 3, not 1", Refusal(OneConv(13, [1, 4, 5], b => b.Conv("x", 4, 2, [3]))));

    [Fact]
    public void UnknownKernelIsRefused()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 5, 5);
        b.Input("w", 2, 4, "kh", "kw");
        b.Node("Conv", ["x", "w"], ["y"]);
        b.Output("y");
        Assert.Equal("the kernel size is unknown: no kernel_shape attribute and the weight 'w' has no static shape", Refusal(b));
    }

    [Fact]
    public void FourSpatialDimsAreRefused() =>
        Assert.Equal("the Conv has 4 spatial dims; only 1 to 3 are rewritten",
            Refusal(OneConv(13, [1, 2, 2, 2, 2, 2], b => b.Conv("x", 2, 2, [1, 1, 1, 1]))));

    [Fact]
    public void OpsetBelow7IsRefusedAndNeverRaised()
    {
        var detail = Refusal(OneConv(6, [1, 4, 3, 3], b => b.Conv("x", 4, 2, [1, 1])));
        Assert.Equal("the model imports opset 6; the rewrite needs opset 7 or newer (broadcasting Add/Mul)", detail);
    }

    [Fact]
    public void Bfloat16BeforeOpset13IsRefused()
    {
        var b = new TestModelBuilder(11);
        b.Input("x", DataType.Bfloat16, 1, 4, 3, 3);
        b.Node("Conv", ["x", b.RandomInitializer("w", [2, 4, 1, 1], DataType.Bfloat16)], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y", DataType.Bfloat16, 1, 2, 3, 3);
        Assert.Equal("MatMul accepts bfloat16 only from opset 13, and the model imports opset 11 (the opset is never raised)", Refusal(b));
    }

    [Fact]
    public void Bfloat16AtOpset22KeepsItsElementType()
    {
        var b = new TestModelBuilder(22);
        b.Input("x", DataType.Bfloat16, 1, 4, 3, 3);
        b.Node("Conv", ["x", b.RandomInitializer("w", [2, 4, 1, 1], DataType.Bfloat16), b.RandomInitializer("b", [2], DataType.Bfloat16)], ["y"], Attr.Ints("kernel_shape", 1, 1));
        b.Output("y", DataType.Bfloat16, 1, 2, 3, 3);
        var (_, after, result) = RewriteHarness.ToMatMul(b);
        Assert.Equal(1, result.AppliedCount);
        Assert.All(after.Graph.Initializers.Where(i => i.Initializer!.ElementType != DataType.Int64),
            i => Assert.Equal(DataType.Bfloat16, i.Initializer!.ElementType));
        Assert.Equal(22, after.OnnxOpset);
    }

    [Fact]
    public void NegativePadsAreRefused() =>
        Assert.Equal("pads [-1,0,0,0] has negative values (cropping), which the rewrite does not support",
            Refusal(OneConv(13, [1, 4, 3, 3], b => b.Conv("x", 4, 2, [1, 1], attributes: Attr.Ints("pads", -1, 0, 0, 0)))));

    [Fact]
    public void SameWithLargeStrideOnUnknownSizeIsRefused() =>
        Assert.Equal("auto_pad SAME_UPPER with stride 3 needs negative padding for some sizes of spatial axis 1 of 'x', whose size is not known statically (runtimes disagree on which pixel comes first then)",
            Refusal(OneConv(13, [1, 4, 6, "W"], b => b.Conv("x", 4, 2, [1, 1], attributes: [Attr.Ints("strides", 1, 3), Attr.String("auto_pad", "SAME_UPPER")]))));

    [Fact]
    public void SameWithNegativePaddingOnAKnownSizeIsRefused() =>
        Assert.Equal("auto_pad SAME_LOWER with stride 3 on size 6 (spatial axis 0 of 'x') needs negative padding (-2), where runtimes disagree on which pixel comes first",
            Refusal(OneConv(13, [1, 4, 6, 6], b => b.Conv("x", 4, 2, [1, 1], attributes: [Attr.Ints("strides", 3, 3), Attr.String("auto_pad", "SAME_LOWER")]))));

    [Fact]
    public void GroupedConvWithUnknownRuntimeWeightShapeIsRefused()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 3, 3);
        b.Input("w", "m", "c", 1, 1);
        b.Node("Conv", ["x", "w"], ["y"], Attr.Ints("kernel_shape", 1, 1), Attr.Int("group", 2));
        b.Output("y");
        Assert.Equal("the weight 'w' is computed at run time and its shape is unknown, which a grouped Conv needs", Refusal(b));
    }

    [Fact]
    public void SameStrideRuleMatchesTheSpecFormula()
    {
        Assert.Equal(0, Conv1x1ToMatMul.SamePadNeeded(3, 7));
        Assert.Equal(-1, Conv1x1ToMatMul.SamePadNeeded(3, 8));
        Assert.Equal(-2, Conv1x1ToMatMul.SamePadNeeded(3, 6));
        Assert.Equal(0, Conv1x1ToMatMul.SamePadNeeded(1, 5));
    }
}
