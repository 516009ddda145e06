using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Inputs that used to end in exit 4 "internal error", through the real <c>onnxconv</c> process and every
/// command that loads a model: a bad model is exit 3, a bad argument exit 2, with one line naming the problem.
/// </summary>
public sealed class NoInternalErrorTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in new[] { "nul-location", "hard-linked-data", "constant-two-values", "duplicated-attribute", "unknown-data-type" })
            foreach (string command in new[] { "audit", "verify", "rewrite" })
                data.Add(model, command);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ABadModelIsRejectedWithExit3(string kind, string command)
    {
        var (path, expected) = BadModel(kind);
        string[] args = command switch
        {
            "audit" => ["audit", path],
            "verify" => ["verify", path, path],
            _ => ["rewrite", path, "-o", _temp.File("out.onnx"), "--to", "gemm"],
        };

        var run = CliInvocation.RunProcess(args);

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Equal($"onnxconv: {path}: {expected}", Assert.Single(run.StderrLines));
        Assert.False(File.Exists(_temp.File("out.onnx")));
    }

    [Theory]
    [InlineData("audit")]
    [InlineData("verify")]
    [InlineData("rewrite")]
    public void AShapeWhoseElementCountOverflowsIsAUsageError(string command)
    {
        var b = new TestModelBuilder(opset: 13, seed: 8);
        b.Output(b.Conv(b.Input("x", DataType.Float, "N", 3, 8, 8), 3, 4, [1, 1]));
        string path = b.Save(_temp.File("model.onnx"));
        string shape = "x=4611686018427387904,3,8,8";
        string[] args = command switch
        {
            "audit" => ["audit", path, "--shape", shape],
            "verify" => ["verify", path, path, "--shape", shape],
            _ => ["rewrite", path, "-o", _temp.File("out.onnx"), "--to", "gemm", "--shape", shape],
        };

        var run = CliInvocation.RunProcess(args);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal($"onnxconv: --shape '{shape}': the element count of these dims overflows a 64-bit byte count", Assert.Single(run.StderrLines));
        Assert.False(File.Exists(_temp.File("out.onnx")));
    }

    private (string Path, string Problem) BadModel(string kind)
    {
        var b = new TestModelBuilder(opset: 13, seed: 9);
        b.Input("x", 1, 4);
        string problem;
        switch (kind)
        {
            case "nul-location" or "hard-linked-data":
                var w = new TensorProto { Name = "w", DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
                w.Dims.Add([4, 4]);
                string location = kind == "nul-location" ? "w\0.bin" : "w.bin";
                w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                b.Initializer(w);
                File.WriteAllBytes(_temp.File("w"), new byte[64]);
                File.WriteAllBytes(_temp.File("w.bin"), new byte[64]);
                if (kind == "hard-linked-data") SpecialFiles.HardLink(_temp.File("w.bin"), _temp.File("w-again.bin"));
                problem = kind == "nul-location"
                    ? "tensor 'w' has an external data location with a NUL character ('w\\0.bin')"
                    : "tensor 'w' external data file 'w.bin' has 2 hard links; only a file with one link is known to stay inside the model's folder";
                break;
            case "constant-two-values":
                b.Node("Constant", [], ["w"], Attr.Tensor("value", b.RandomTensor("wv", [4, 4])), Attr.Float("value_float", 1f));
                problem = "Constant node 'Constant_0' in graph main has 2 value attributes (value, value_float); it must have exactly one";
                break;
            case "duplicated-attribute":
                b.RandomInitializer("w0", [4, 4]);
                b.Node("Transpose", ["w0"], ["w"], Attr.Ints("perm", 1, 0), Attr.Ints("perm", 0, 1));
                problem = "node 'Transpose_0' (Transpose) in graph main has attribute 'perm' more than once";
                break;
            default:
                var odd = b.RandomTensor("w", [4, 4]);
                odd.DataType = 99;
                b.Initializer(odd);
                problem = "tensor 'w' has an unknown data_type 99";
                break;
        }
        b.Node("MatMul", ["x", "w"], ["y"]);
        b.Output("y", DataType.Float, 1, 4);
        return (b.Save(_temp.File("model.onnx")), problem);
    }
}
