using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

using static ShapeCases;

/// <summary>The names symbolic dims get as they flow through ops (the convention documented on DimExpr).</summary>
public sealed class SymbolicNamingTests
{
    private static string Infer(Action<TestModelBuilder> build, string value, int opset = 13)
    {
        var builder = new TestModelBuilder(opset);
        build(builder);
        var model = builder.ToIr();
        var result = ShapeInference.Run(model);
        return result.Get(model.AllGraphs().Select(g => g.Find(value)).First(v => v is not null)!).ToString();
    }

    [Fact]
    public void BatchDimKeepsItsNameThroughConvAndActivations()
    {
        string shape = Infer(b =>
        {
            b.Input("x", "batch", 3, 32, 32);
            string conv = b.Conv("x", 3, 8, [3, 3], attributes: [Attr.Ints("pads", 1, 1, 1, 1)]);
            Node(b, "Relu", [conv], ["y"]);
            Out(b, "y");
        }, "y");
        Assert.Equal("[batch,8,32,32]", shape);
    }

    [Fact]
    public void StridedConvsGiveCeilOfTheInputOverTheTotalStride()
    {
        Action<TestModelBuilder> build = b =>
        {
            b.Input("x", "N", 3, "H", "W");
            string a = b.Conv("x", 3, 16, [3, 3], attributes: [Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1)]);
            Node(b, "Identity", [a], ["first"]);
            string c = b.Conv(a, 16, 16, [3, 3], attributes: [Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1)]);
            Node(b, "Identity", [c], ["second"]);
            Out(b, "second");
        };
        Assert.Equal("[N,16,ceil(H/2),ceil(W/2)]", Infer(build, "first"));
        Assert.Equal("[N,16,ceil(H/4),ceil(W/4)]", Infer(build, "second"));
    }

    [Fact]
    public void PoolsValidConvsAndTransposedConvs()
    {
        Action<TestModelBuilder> build = b =>
        {
            b.Input("x", "N", 4, "H", "W");
            Node(b, "MaxPool", ["x"], ["pool"], Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 2, 2));
            Node(b, "Conv", ["x", Weight(b, "w", 4, 4, 3, 3)], ["valid"]);
            Node(b, "ConvTranspose", ["x", Weight(b, "wt", 4, 2, 2, 2)], ["up"], Attr.Ints("strides", 2, 2));
            Node(b, "Resize", ["x", "", Floats(b, "half", 1, 1, 0.5, 0.5)], ["down"]);
            Out(b, "pool");
        };
        Assert.Equal("[N,4,floor(H/2),floor(W/2)]", Infer(build, "pool"));
        Assert.Equal("[N,4,H-2,W-2]", Infer(build, "valid"));
        Assert.Equal("[N,2,2*H,2*W]", Infer(build, "up"));
        Assert.Equal("[N,4,floor(H/2),floor(W/2)]", Infer(build, "down"));
    }

    [Fact]
    public void ConcatAddsAndReshapeMultiplies()
    {
        Action<TestModelBuilder> build = b =>
        {
            b.Input("a", "N", "C", "H", "W");
            b.Input("c", "N", 8, "H", "W");
            Node(b, "Concat", ["a", "c"], ["cat"], Attr.Int("axis", 1));
            Node(b, "Reshape", ["c", Ints(b, "shape", 0, -1)], ["flat"]);
            Node(b, "Flatten", ["a"], ["flatten"]);
            Out(b, "cat");
        };
        Assert.Equal("[N,C+8,H,W]", Infer(build, "cat"));
        Assert.Equal("[N,8*H*W]", Infer(build, "flat"));
        Assert.Equal("[N,C*H*W]", Infer(build, "flatten"));
    }

    [Fact]
    public void SlicesOfSymbolicDimsAssumeTheBoundsLieInside()
    {
        Action<TestModelBuilder> build = b =>
        {
            b.Input("x", "N", "T");
            Node(b, "Slice", ["x", Ints(b, "s", 1), Ints(b, "e", long.MaxValue), Ints(b, "a", 1)], ["tail"]);
            Node(b, "Slice", ["x", Ints(b, "s2", -3), Ints(b, "e2", int.MaxValue), Ints(b, "a2", 1)], ["last3"]);
            Out(b, "tail");
        };
        Assert.Equal("[N,T-1]", Infer(build, "tail"));
        Assert.Equal("[N,3]", Infer(build, "last3"));
    }

    [Fact]
    public void DifferentSymbolsDoNotBroadcastToEitherName()
    {
        string shape = Infer(b =>
        {
            b.Input("a", "N", "H");
            b.Input("c", "M", 1);
            Node(b, "Add", ["a", "c"], ["y"]);
            Out(b, "y");
        }, "y");
        Assert.Equal("[?,H]", shape);
    }

    [Fact]
    public void ShapeTensorsFoldToSymbolicElements()
    {
        var builder = new TestModelBuilder(13);
        builder.Input("x", "N", 3, "H");
        Node(builder, "Shape", ["x"], ["s"]);
        Node(builder, "Gather", ["s", Ints(builder, "i", 1, 2)], ["ch"]);
        Out(builder, "ch", TensorProto.Types.DataType.Int64);
        var model = builder.ToIr();
        var result = ShapeInference.Run(model);
        Assert.Null(result.TryGetInts(model.Graph.Find("ch")!));
        var fixedResult = ShapeInference.Run(model, ShapeOverrides.Parse(["x=2,3,5"]));
        Assert.Equal([3L, 5L], fixedResult.TryGetInts(model.Graph.Find("ch")!) ?? []);
        Assert.Equal("[2]", fixedResult.Get(model.Graph.Find("ch")!).ToString());
    }
}
