using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

using static ShapeCases;

/// <summary><c>--shape NAME=d0,d1,...</c>: parsing, validation against the model, and its effect on inference.</summary>
public sealed class ShapeOverridesTests
{
    [Fact]
    public void ParsesIntegersAndSymbolsPerInput()
    {
        var overrides = ShapeOverrides.Parse(["x=1,3,224,224", "input:0=N,seq_len,80", "a=b=2"]);
        Assert.Equal([Dim.Known(1), Dim.Known(3), Dim.Known(224), Dim.Known(224)], overrides["x"]);
        Assert.Equal([Dim.Symbolic("N"), Dim.Symbolic("seq_len"), Dim.Known(80)], overrides["input:0"]);
        Assert.Equal([Dim.Known(2)], overrides["a=b"]);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("=1,2")]
    [InlineData("x=")]
    [InlineData("x=1,,2")]
    [InlineData("x=-1,3")]
    [InlineData("x=1.5")]
    [InlineData("x=3a")]
    [InlineData("x=1,2 3")]
    public void BadSyntaxIsAOneLineUsageError(string spec)
    {
        var error = Assert.Throws<OnnxConvException>(() => ShapeOverrides.Parse([spec]));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains("--shape", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void TheSameInputTwiceIsAUsageError()
    {
        var error = Assert.Throws<OnnxConvException>(() => ShapeOverrides.Parse(["x=1,2", "x=3,4"]));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains("'x'", error.Message);
    }

    private static TestModelBuilder ConvModel()
    {
        var b = new TestModelBuilder(13);
        b.Input("x", "N", 3, "H", "W");
        string y = b.Conv("x", 3, 8, [3, 3], attributes: [Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1)]);
        Node(b, "Identity", [y], ["y"]);
        Out(b, "y");
        return b;
    }

    [Fact]
    public void AnUnknownInputNameIsAUsageErrorListingTheInputs()
    {
        var model = ConvModel().ToIr("conv.onnx");
        var error = Assert.Throws<OnnxConvException>(() => ShapeInference.Run(model, ShapeOverrides.Parse(["image=1,3,8,8"])));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains("'image'", error.Message);
        Assert.Contains("'x'", error.Message);
        Assert.Contains("conv.onnx", error.Message);
    }

    [Fact]
    public void ARankThatContradictsTheDeclarationIsAUsageError()
    {
        var model = ConvModel().ToIr();
        var error = Assert.Throws<OnnxConvException>(() => ShapeInference.Run(model, ShapeOverrides.Parse(["x=1,3,8"])));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains("rank 4", error.Message);
    }

    [Fact]
    public void OverridesReplaceDeclaredDims()
    {
        var model = ConvModel().ToIr();
        var y = model.Graph.Find("y")!;
        Assert.Equal("[N,8,ceil(H/2),ceil(W/2)]", ShapeInference.Run(model).Get(y).ToString());
        Assert.Equal("[2,8,17,16]", ShapeInference.Run(model, ShapeOverrides.Parse(["x=2,3,33,32"])).Get(y).ToString());
        Assert.Equal("[B,8,ceil(S/2),ceil(S/2)]", ShapeInference.Run(model, ShapeOverrides.Parse(["x=B,3,S,S"])).Get(y).ToString());
        Assert.Equal("[1,3,S,S]", ShapeInference.Run(model, ShapeOverrides.Parse(["x=1,3,S,S"])).Get(model.Graph.Inputs[0]).ToString());
    }
}
