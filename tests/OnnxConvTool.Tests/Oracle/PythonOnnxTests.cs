using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Oracle;

public sealed class PythonOnnxTests
{
    [SkippableFact]
    public void ValidModelPasses()
    {
        PythonOracle.Require();
        using var temp = new TempDirectory();
        string path = ConvModel(temp.File("valid.onnx"));

        var (ok, message) = PythonOnnx.CheckModel(path);

        Assert.True(ok, message);
        Assert.Equal("", message);
    }

    [SkippableFact]
    public void UnknownOpInTheDefaultDomainIsInvalidWithTheCheckersMessage()
    {
        PythonOracle.Require();
        using var temp = new TempDirectory();
        var b = new TestModelBuilder();
        string x = b.Input("x", 1, 2, 4, 4);
        b.Node("NoSuchOp", [x], ["y"]);
        b.FloatOutput("y", 1, 2, 4, 4);

        var result = PythonOnnx.CheckModel(b.Save(temp.File("unknown-op.onnx")));

        Assert.Equal(OnnxCheckOutcome.Invalid, result.Outcome);
        Assert.Contains("No Op registered for NoSuchOp", result.Message);
    }

    [SkippableFact]
    public void AttributeOfTheWrongTypeIsInvalidWithTheCheckersMessage()
    {
        PythonOracle.Require();
        using var temp = new TempDirectory();
        var b = new TestModelBuilder();
        string x = b.Input("x", 1, 2, 4, 4);
        string w = b.RandomInitializer("w", [3, 2, 1, 1]);
        b.Node("Conv", [x, w], ["y"], Attr.Int("kernel_shape", 1));
        b.FloatOutput("y", 1, 3, 4, 4);

        var (ok, message) = PythonOnnx.CheckModel(b.Save(temp.File("bad-attribute.onnx")));

        Assert.False(ok);
        Assert.Contains("Mismatched attribute type", message);
        Assert.Contains("kernel_shape", message);
    }

    [SkippableFact]
    public void ShapeInferenceFailureIsInvalid()
    {
        PythonOracle.Require();
        using var temp = new TempDirectory();
        var b = new TestModelBuilder();
        string x = b.Input("x", 1, 2, 4, 4);
        b.HeConv(x, 2, 3, kernel: 1, name: "conv");
        b.FloatOutput("conv", 1, 5, 4, 4);

        var result = PythonOnnx.CheckModel(b.Save(temp.File("wrong-output-shape.onnx")));

        Assert.Equal(OnnxCheckOutcome.Invalid, result.Outcome);
        Assert.Contains("InferenceError", result.Message);
    }

    [SkippableTheory]
    [InlineData(99, 0, "opset ai.onnx 99")]
    [InlineData(13, 99, "IR version 99")]
    public void NewerThanTheInstalledOnnxIsNotCheckableRatherThanInvalid(int opset, long irVersion, string reason)
    {
        PythonOracle.Require();
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(opset: opset, irVersion: irVersion);
        string x = b.Input("x", 1, 2);
        b.Relu(x, "y");
        b.FloatOutput("y", 1, 2);

        var result = PythonOnnx.CheckModel(b.Save(temp.File("newer.onnx")));

        Assert.Equal(OnnxCheckOutcome.NotCheckable, result.Outcome);
        Assert.False(result.Ok);
        Assert.StartsWith($"not checkable by ONNX {PythonOnnx.OnnxVersion}", result.Message);
        Assert.Contains(reason, result.Message);
    }

    [SkippableFact]
    public void SeveralModelsAreCheckedInOneCallInOrder()
    {
        PythonOracle.Require();
        using var temp = new TempDirectory();
        string valid = ConvModel(temp.File("a.onnx"));
        string missing = temp.File("missing.onnx");
        File.WriteAllBytes(temp.File("garbage.onnx"), [0xFF, 0xFF, 0xFF, 0x07, 0x01]);

        var results = PythonOnnx.CheckModels([valid, missing, temp.File("garbage.onnx"), valid]);

        Assert.Equal([OnnxCheckOutcome.Valid, OnnxCheckOutcome.Invalid, OnnxCheckOutcome.Invalid, OnnxCheckOutcome.Valid],
            results.Select(r => r.Outcome));
        Assert.Equal([valid, missing, temp.File("garbage.onnx"), valid], results.Select(r => r.Path));
        Assert.Contains("missing.onnx", results[1].Message);
    }

    /// <summary>ONNX 1.12's own check_model(path, full_check=True) writes shape-inferred output over the file; ours must not.</summary>
    [SkippableFact]
    public void CheckingLeavesTheFileUntouched()
    {
        PythonOracle.Require();
        using var temp = new TempDirectory();
        var b = new TestModelBuilder();
        string x = b.Input("x", "N", 2, 4, 4);
        b.Relu(b.HeConv(x, 2, 3, kernel: 1, name: "conv"), "y");
        b.FloatOutput("y", "N", 3, 4, 4);
        string path = b.Save(temp.File("inferable.onnx"));

        Assert.True(PythonOnnx.CheckModel(path).Ok);

        Assert.Equal(b.ToBytes(), File.ReadAllBytes(path));
        Assert.Equal(["inferable.onnx"], Directory.GetFiles(temp.Path).Select(Path.GetFileName));
    }

    [SkippableTheory]
    [InlineData("Clip", 13, 13)]
    [InlineData("Clip", 10, 6)]
    [InlineData("Unsqueeze", 12, 11)]
    [InlineData("Conv", 17, 11)]
    public void SchemaSinceVersionIsTheVersionInForceAtTheOpset(string op, int opset, int since)
    {
        PythonOracle.Require();
        Assert.Equal(since, PythonOnnx.GetSchemaSinceVersion(op, opset));
    }

    [SkippableFact]
    public void SchemaOfAnUnknownOpIsNull()
    {
        PythonOracle.Require();
        Assert.Null(PythonOnnx.GetSchemaSinceVersion("NoSuchOp", 13));
    }

    private static string ConvModel(string path)
    {
        var b = new TestModelBuilder();
        string x = b.Input("x", "N", 2, 4, 4);
        b.HeConv(x, 2, 3, kernel: 1, name: "conv");
        b.FloatOutput("conv", "N", 3, 4, 4);
        return b.Save(path);
    }
}
