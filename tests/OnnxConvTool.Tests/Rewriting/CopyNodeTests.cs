using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Rewriting;

public sealed class CopyNodeTests
{
    private static Model ConvWithEveryAttribute()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", 1, 4, 9, 9);
        b.Node("Conv", ["x", b.RandomInitializer("w", [4, 2, 3, 3]), b.RandomInitializer("bias", [4])], ["y"],
            Attr.String("auto_pad", "SAME_UPPER"), Attr.Ints("dilations", 2, 2), Attr.Int("group", 2), Attr.Ints("kernel_shape", 3, 3),
            Attr.Ints("strides", 1, 1), Attr.Float("custom_float", 0.5f), Attr.Floats("custom_floats", 1f, 2f), Attr.Tensor("custom_tensor",
                TestModelBuilder.TensorOf("t", [2], [1, 2])));
        b.Output("y", Onnx.TensorProto.Types.DataType.Float, 1, 4, 9, 9);
        return b.ToIr();
    }

    [Fact]
    public void ACopyKeepsEveryAttributeByValueAndTheOriginalIsUntouched()
    {
        var model = ConvWithEveryAttribute();
        var conv = model.Graph.Nodes[0];
        conv.Proto.DocString = "from the exporter";
        var before = conv.Proto.Clone();
        var rewriter = new GraphRewriter(model);
        var copy = rewriter.CopyNode(conv);

        Assert.Equal(conv.Proto.Attribute, copy.Proto.Attribute);
        Assert.Equal(["auto_pad", "dilations", "group", "kernel_shape", "strides", "custom_float", "custom_floats", "custom_tensor"],
            copy.Proto.Attribute.Select(a => a.Name));
        Assert.Equal("from the exporter", copy.Proto.DocString);
        Assert.Equal(conv.Inputs, copy.Inputs);
        Assert.NotEqual(conv.Outputs[0], copy.Outputs[0]);
        Assert.Same(copy, model.Graph.Nodes[0]);
        Assert.Contains(copy, rewriter.CreatedNodes);

        copy.SetAttribute("group", 4L);
        Assert.Equal(before, conv.Proto);
    }

    [Fact]
    public void OverriddenInputsReplaceTheirSlotAndTrailingOmittedInputsAreDropped()
    {
        var model = ConvWithEveryAttribute();
        var conv = model.Graph.Nodes[0];
        var rewriter = new GraphRewriter(model);
        var otherWeight = model.Graph.AddInitializer(Tensor.FromFloats("w2", [4, 2, 3, 3], new float[72]));
        var copy = rewriter.CopyNode(conv, new Dictionary<int, Value?> { [1] = otherWeight, [2] = null });

        Assert.Equal(["x", otherWeight.Name], copy.Inputs.Select(i => i!.Name));
        Assert.Equal(2, conv.Inputs[1]!.Uses.Count + otherWeight.Uses.Count);

        rewriter.ReplaceAllUsesWith(conv.Outputs[0], copy.Outputs[0]);
        rewriter.RemoveNode(conv);
        Assert.Empty(GraphValidator.Validate(model));
        Assert.DoesNotContain(model.Graph.Initializers, i => i.Name is "w" or "bias");
    }

    [Fact]
    public void ANodeWithSubgraphsIsNotCopied()
    {
        var model = OnnxConvTool.Tests.Ir.IrTestModels.IfReadingOuterValue().ToIr();
        var node = model.AllNodes().First(n => n.HasSubgraphs);
        Assert.Throws<InvalidOperationException>(() => new GraphRewriter(model).CopyNode(node));
    }
}
