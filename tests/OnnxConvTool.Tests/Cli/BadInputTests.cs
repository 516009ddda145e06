using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Each malformed or unsafe input, through <c>onnxconv convert</c> in process: exit code 3, one line on
/// stderr naming the file and the problem, no stack trace, and nothing written.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _in;
    private readonly string _out;

    public BadInputTests()
    {
        _in = Directory.CreateDirectory(_temp.File("in")).FullName;
        _out = Directory.CreateDirectory(_temp.File("out")).FullName;
    }

    public void Dispose() => _temp.Dispose();

    private string InputFile(byte[] bytes, string name = "model.onnx")
    {
        string path = Path.Combine(_in, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Runs convert on <paramref name="input"/> and checks the rejection contract; returns the message.</summary>
    private string AssertRejected(string input, string expected)
    {
        var run = CliInvocation.Run("convert", input, "-o", Path.Combine(_out, "out.onnx"));

        Assert.Equal((int)ExitCode.InputRejected, run.ExitCode);
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"onnxconv: {input}: ", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Empty(run.Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(_out));
        Assert.Empty(Directory.GetFiles(_in, "*.tmp"));
        return line;
    }

    private static TestModelBuilder ValidModel()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 64);
        b.RandomInitializer("w", [64, 64]);
        b.Node("MatMul", ["x", "w"], ["y"]);
        b.Output("y");
        return b;
    }

    [Fact]
    public void EmptyFile() => AssertRejected(InputFile([]), "file is empty");

    [Fact]
    public void MissingFile() => AssertRejected(Path.Combine(_in, "absent.onnx"), "file not found");

    [Fact]
    public void NamedPipe() => AssertRejected(SpecialFiles.Fifo(Path.Combine(_in, "model.onnx")), "is a named pipe (FIFO), not a model file");

    [Fact]
    public void Device()
    {
        var run = CliInvocation.Run("convert", "/dev/zero", "-o", Path.Combine(_out, "out.onnx"));

        Assert.Equal((int)ExitCode.InputRejected, run.ExitCode);
        Assert.Equal("onnxconv: /dev/zero: is a character device, not a model file", Assert.Single(run.StderrLines));
        Assert.Empty(Directory.GetFileSystemEntries(_out));
    }

    [Fact]
    public void TruncatedFile()
    {
        byte[] bytes = ValidModel().ToBytes();
        AssertRejected(InputFile(bytes[..(bytes.Length * 6 / 10)]), "the file is truncated");
    }

    [Fact]
    public void RandomBytes()
    {
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        AssertRejected(InputFile(bytes), "not an ONNX model");
    }

    [Fact]
    public void SerializedTensorProto() =>
        AssertRejected(InputFile(ValidModel().RandomTensor("t", [8, 8]).ToByteArray()), "not an ONNX model");

    [Fact]
    public void SerializedGraphProto() =>
        AssertRejected(InputFile(ValidModel().Graph.ToByteArray()), "not an ONNX model");

    [Fact]
    public void NodeInputThatNothingDefines()
    {
        var b = ValidModel();
        b.Node("Relu", ["nowhere"], ["r"]);
        AssertRejected(InputFile(b.ToBytes()), "node 'Relu_1' (Relu) in graph main uses 'nowhere', which no node, initializer or graph input defines");
    }

    [Fact]
    public void DuplicateOutputNames()
    {
        var b = ValidModel();
        b.Node("Relu", ["x"], ["twice"]);
        b.Node("Neg", ["x"], ["twice"]);
        AssertRejected(InputFile(b.ToBytes()), "value 'twice' is assigned more than once in graph main (node 'Neg_2')");
    }

    [Fact]
    public void DuplicateGraphOutputNames()
    {
        var b = ValidModel();
        b.Output("y");
        AssertRejected(InputFile(b.ToBytes()), "graph main lists output 'y' twice");
    }

    [Fact]
    public void Cycle()
    {
        var b = ValidModel();
        b.Node("Add", ["x", "c2"], ["c1"]);
        b.Node("Relu", ["c1"], ["c2"]);
        AssertRejected(InputFile(b.ToBytes()), "graph main has a cycle through node");
    }

    [Fact]
    public void RawDataLengthDisagreesWithDims()
    {
        var b = ValidModel();
        b.Initializer(Tensor.FromRawBytes("bias", DataType.Float, [64], new byte[255]).Proto);
        AssertRejected(InputFile(b.ToBytes()), "tensor 'bias' has 255 bytes of raw_data but dims [64] of float32 need 256");
    }

    [Fact]
    public void TypedDataCountDisagreesWithDims()
    {
        var b = ValidModel();
        var bias = new TensorProto { Name = "bias", DataType = (int)DataType.Float };
        bias.Dims.Add(4);
        bias.FloatData.Add([1f, 2f, 3f]);
        b.Initializer(bias);
        AssertRejected(InputFile(b.ToBytes()), "tensor 'bias' has 3 values in float_data but dims [4] need 4");
    }

    [Fact]
    public void DimsWhoseElementCountOverflows()
    {
        var b = ValidModel();
        var huge = new TensorProto { Name = "huge", DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(new byte[16]) };
        huge.Dims.Add([1L << 40, 1L << 40]);
        b.Initializer(huge);
        AssertRejected(InputFile(b.ToBytes()), "tensor 'huge' has dims [1099511627776,1099511627776] whose element count overflows");
    }

    /// <summary>A model whose 4×4 float initializer 'w' lives in external data at <paramref name="location"/>.</summary>
    private string ExternalModel(string location, long? offset = null, long? length = null)
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 4);
        var w = new TensorProto { Name = "w", DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        w.Dims.Add([4, 4]);
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        if (offset is not null) w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
        if (length is not null) w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
        b.Initializer(w);
        b.Node("MatMul", ["x", "w"], ["y"]);
        b.Output("y");
        return InputFile(b.ToBytes());
    }

    [Fact]
    public void ExternalDataAtAnAbsoluteLocation()
    {
        string data = _temp.File("w.bin");
        File.WriteAllBytes(data, new byte[64]);
        AssertRejected(ExternalModel(data), $"tensor 'w' has an absolute external data location '{data}'");
    }

    [Fact]
    public void ExternalDataEscapingWithDotDot()
    {
        File.WriteAllBytes(_temp.File("w.bin"), new byte[64]);
        AssertRejected(ExternalModel("../w.bin"), "tensor 'w' external data location '../w.bin' escapes the model's folder");
    }

    [Fact]
    public void ExternalDataEscapingThroughASymbolicLink()
    {
        string outside = Directory.CreateDirectory(_temp.File("elsewhere")).FullName;
        File.WriteAllBytes(Path.Combine(outside, "w.bin"), new byte[64]);
        File.CreateSymbolicLink(Path.Combine(_in, "w.bin"), "../elsewhere/w.bin");
        AssertRejected(ExternalModel("w.bin"), "tensor 'w' external data location 'w.bin' leaves the model's folder through a symbolic link");
    }

    [Fact]
    public void ExternalDataEscapingThroughASymbolicLinkedFolder()
    {
        string outside = Directory.CreateDirectory(_temp.File("elsewhere")).FullName;
        File.WriteAllBytes(Path.Combine(outside, "w.bin"), new byte[64]);
        Directory.CreateSymbolicLink(Path.Combine(_in, "weights"), outside);
        AssertRejected(ExternalModel("weights/w.bin"), "leaves the model's folder through a symbolic link");
    }

    [Fact]
    public void ExternalDataFileMissing() =>
        AssertRejected(ExternalModel("absent.bin"), "tensor 'w' external data file 'absent.bin' does not exist");

    [Fact]
    public void ExternalDataOffsetPastEndOfFile()
    {
        File.WriteAllBytes(Path.Combine(_in, "w.bin"), new byte[64]);
        AssertRejected(ExternalModel("w.bin", offset: 100), "tensor 'w' external data range offset 100 length");
    }

    [Fact]
    public void ExternalDataLengthPastEndOfFile()
    {
        File.WriteAllBytes(Path.Combine(_in, "w.bin"), new byte[64]);
        AssertRejected(ExternalModel("w.bin", offset: 16, length: 64),
            "tensor 'w' external data range offset 16 length 64 runs past the end of 'w.bin' (64 bytes)");
    }

    [Fact]
    public void ExternalDataLengthDisagreesWithDims()
    {
        File.WriteAllBytes(Path.Combine(_in, "w.bin"), new byte[128]);
        AssertRejected(ExternalModel("w.bin", offset: 0, length: 60), "tensor 'w' has 60 bytes of external data but dims [4,4] of float32 need 64");
    }

    [Fact]
    public void ExternalDataLocationWithANulCharacter()
    {
        File.WriteAllBytes(Path.Combine(_in, "w"), new byte[64]);
        AssertRejected(ExternalModel("w\0.bin"), "tensor 'w' has an external data location with a NUL character ('w\\0.bin')");
    }

    /// <summary>ONNX Runtime reads a hard link wherever its other name lives; the loader is the only barrier.</summary>
    [Fact]
    public void ExternalDataFileWithASecondHardLinkOutsideTheFolder()
    {
        string outside = _temp.File("secret.bin");
        File.WriteAllBytes(outside, new byte[64]);
        SpecialFiles.HardLink(outside, Path.Combine(_in, "w.bin"));
        AssertRejected(ExternalModel("w.bin"),
            "tensor 'w' external data file 'w.bin' has 2 hard links; only a file with one link is known to stay inside the model's folder");
    }

    [Fact]
    public void ConstantWithTwoValueAttributes()
    {
        var b = ValidModel();
        b.Node("Constant", [], ["c"], Attr.Tensor("value", b.RandomTensor("cv", [64])), Attr.Float("value_float", 1f));
        AssertRejected(InputFile(b.ToBytes()), "Constant node 'Constant_1' in graph main has 2 value attributes (value, value_float); it must have exactly one");
    }

    [Fact]
    public void ConstantWithoutAValueAttribute()
    {
        var b = ValidModel();
        b.Node("Constant", [], ["c"]);
        AssertRejected(InputFile(b.ToBytes()), "Constant node 'Constant_1' in graph main has no value attribute; it must have exactly one");
    }

    [Fact]
    public void NodeWithADuplicatedAttribute()
    {
        var b = ValidModel();
        b.Node("Transpose", ["x"], ["t"], Attr.Ints("perm", 1, 0), Attr.Ints("perm", 0, 1));
        AssertRejected(InputFile(b.ToBytes()), "node 'Transpose_1' (Transpose) in graph main has attribute 'perm' more than once");
    }

    [Theory]
    [InlineData("initializer")]
    [InlineData("constant")]
    public void TensorOfAnUnknownDataType(string where)
    {
        var b = ValidModel();
        var tensor = b.RandomTensor("odd", [64]);
        tensor.DataType = 99;
        if (where == "initializer") b.Initializer(tensor);
        else b.Node("Constant", [], ["c"], Attr.Tensor("value", tensor));
        AssertRejected(InputFile(b.ToBytes()), "tensor 'odd' has an unknown data_type 99");
    }

    /// <summary>A model whose deepest subgraph sits <paramref name="depth"/> levels below the main graph (If inside If …).</summary>
    internal static byte[] NestedIfModel(int depth)
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 2);
        b.Input("cond", DataType.Bool);
        var inner = Branch("leaf", ("Identity", "x", "leaf_out"));
        for (int level = depth - 1; level >= 1; level--)
            inner = IfGraph($"level{level}", inner, $"y{level}");
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", inner), Attr.Graph("else_branch", Branch("else0", ("Identity", "x", "e0"))));
        b.Output("y");
        return b.ToBytes();

        static GraphProto IfGraph(string name, GraphProto then, string output)
        {
            var graph = new GraphProto { Name = name };
            var node = new NodeProto { OpType = "If", Name = $"If_{name}" };
            node.Input.Add("cond");
            node.Output.Add(output);
            node.Attribute.Add(Attr.Graph("then_branch", then));
            node.Attribute.Add(Attr.Graph("else_branch", Branch($"else_{name}", ("Identity", "x", $"e_{name}"))));
            graph.Node.Add(node);
            graph.Output.Add(TestModelBuilder.ValueInfo(output, DataType.Float, null));
            return graph;
        }

        static GraphProto Branch(string name, (string Op, string Input, string Output) only)
        {
            var graph = new GraphProto { Name = name };
            var node = new NodeProto { OpType = only.Op, Name = $"{only.Op}_{name}" };
            node.Input.Add(only.Input);
            node.Output.Add(only.Output);
            graph.Node.Add(node);
            graph.Output.Add(TestModelBuilder.ValueInfo(only.Output, DataType.Float, null));
            return graph;
        }
    }

    [Fact]
    public void SubgraphsNestedDeeperThanTheLimit() =>
        AssertRejected(InputFile(NestedIfModel(ModelReader.MaxSubgraphDepth + 1)),
            $"subgraphs are nested deeper than the limit of {ModelReader.MaxSubgraphDepth} levels");

    [Fact]
    public void SubgraphsNestedFarBeyondTheLimitStopTheParserItself() =>
        AssertRejected(InputFile(NestedIfModel(200)), "messages are nested too deeply to parse");

    [Fact]
    public void SubgraphsNestedExactlyAtTheLimitLoad()
    {
        string input = InputFile(NestedIfModel(ModelReader.MaxSubgraphDepth));

        var model = ModelReader.Load(input);

        Assert.Equal(ModelReader.MaxSubgraphDepth, model.AllGraphs().Max(g => g.Depth));
    }

    [Fact]
    public void VerboseAddsTheStackTrace()
    {
        var run = CliInvocation.Run("convert", InputFile([]), "-o", Path.Combine(_out, "out.onnx"), "--verbose");

        Assert.Equal((int)ExitCode.InputRejected, run.ExitCode);
        Assert.Contains("ModelRejectedException", run.Stderr);
        Assert.Contains("   at ", run.Stderr);
        Assert.Empty(Directory.GetFileSystemEntries(_out));
    }
}
