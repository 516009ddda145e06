using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

using DataType = TensorProto.Types.DataType;

/// <summary>A load→save with no change keeps every part of the model the tool does not touch, byte for byte.</summary>
public sealed class PreservationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] UnknownField(int number, string text)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteString(text);
        output.Flush();
        return stream.ToArray();
    }

    /// <summary><paramref name="message"/> re-parsed with <paramref name="extra"/> appended: it now carries an unknown field.</summary>
    private static T WithUnknown<T>(T message, MessageParser<T> parser, byte[] extra) where T : IMessage<T> =>
        parser.ParseFrom([.. message.ToByteArray(), .. extra]);

    private static readonly byte[] NodeExtra = UnknownField(9001, "node extra");
    private static readonly byte[] AttributeExtra = UnknownField(9002, "attribute extra");
    private static readonly byte[] TensorExtra = UnknownField(9003, "tensor extra");
    private static readonly byte[] GraphExtra = UnknownField(9004, "graph extra");
    private static readonly byte[] ValueInfoExtra = UnknownField(9005, "value info extra");
    private static readonly byte[] ModelExtra = UnknownField(9006, "model extra");

    /// <summary>A model using every preserved part: opsets of two domains, producer, doc strings, metadata, value_info, a function, unknown fields.</summary>
    private static byte[] RichModel()
    {
        var b = new TestModelBuilder(opset: 13, seed: 11);
        b.Input("x", 1, 4);
        b.RandomInitializer("w", [4, 4]);
        b.Node("MatMul", ["x", "w"], ["m"]);
        b.Node("Fancy", ["m"], ["y"], Attr.Float("alpha", 0.5f));
        b.Output("y", DataType.Float, 1, 4);
        var model = b.Build();

        model.ProducerVersion = "1.2.3";
        model.Domain = "org.example";
        model.ModelVersion = 7;
        model.DocString = "model doc";
        model.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "tests" });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "license", Value = "MIT" });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });
        var function = new FunctionProto { Name = "Fancy", Domain = "com.example", DocString = "function doc" };
        function.Input.Add("fx");
        function.Output.Add("fy");
        function.Attribute.Add("alpha");
        function.Node.Add(new NodeProto { OpType = "Relu", Input = { "fx" }, Output = { "fy" } });
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        model.Functions.Add(function);
        model.TrainingInfo.Add(new TrainingInfoProto { Algorithm = new GraphProto { Name = "training step" } });

        var graph = model.Graph;
        graph.DocString = "graph doc";
        graph.Input[0].DocString = "input doc";
        graph.Input[0] = WithUnknown(graph.Input[0], ValueInfoProto.Parser, ValueInfoExtra);
        graph.Initializer[0].DocString = "weight doc";
        graph.Initializer[0] = WithUnknown(graph.Initializer[0], TensorProto.Parser, TensorExtra);
        graph.Node[0].DocString = "matmul doc";
        graph.Node[0] = WithUnknown(graph.Node[0], NodeProto.Parser, NodeExtra);
        graph.Node[1].Domain = "com.example";
        graph.Node[1].Attribute[0] = WithUnknown(graph.Node[1].Attribute[0], AttributeProto.Parser, AttributeExtra);
        graph.ValueInfo.Add(new ValueInfoProto { Name = "m", DocString = "m doc", Type = TestModelBuilder.TensorType(DataType.Float, [1, 4]) });
        graph.ValueInfo.Add(new ValueInfoProto { Name = "ghost", DocString = "names no value in the file" });
        graph.QuantizationAnnotation.Add(new TensorAnnotation { TensorName = "m" });
        model.Graph = WithUnknown(graph, GraphProto.Parser, GraphExtra);
        return [.. model.ToByteArray(), .. ModelExtra];
    }

    [Fact]
    public void LoadSaveIsByteIdenticalForARichCanonicalModel()
    {
        string input = _temp.File("rich.onnx");
        File.WriteAllBytes(input, RichModel());
        string output = _temp.File("saved.onnx");

        ModelWriter.Save(ModelReader.Load(input), output);

        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(output));
    }

    [Fact]
    public void EachPreservedPartIsInTheSavedModel()
    {
        string input = _temp.File("rich.onnx");
        File.WriteAllBytes(input, RichModel());

        var saved = ModelWriter.ToProto(ModelReader.Load(input));

        Assert.Equal((7L, "onnxconv-testkit", "1.2.3", "org.example", 7L, "model doc"),
            (saved.IrVersion, saved.ProducerName, saved.ProducerVersion, saved.Domain, saved.ModelVersion, saved.DocString));
        Assert.Equal([("", 13L), ("com.example", 1L)], saved.OpsetImport.Select(o => (o.Domain, o.Version)));
        Assert.Equal(["author=tests", "license=MIT"], saved.MetadataProps.Select(p => $"{p.Key}={p.Value}"));
        Assert.Equal("Fancy", Assert.Single(saved.Functions).Name);
        Assert.Equal("training step", Assert.Single(saved.TrainingInfo).Algorithm.Name);
        Assert.Equal(["m", "ghost"], saved.Graph.ValueInfo.Select(v => v.Name));
        Assert.Equal("m doc", saved.Graph.ValueInfo[0].DocString);
        Assert.Equal(("graph doc", "input doc", "weight doc", "matmul doc"),
            (saved.Graph.DocString, saved.Graph.Input[0].DocString, saved.Graph.Initializer[0].DocString, saved.Graph.Node[0].DocString));
        AssertEndsWith(NodeExtra, saved.Graph.Node[0].ToByteArray());
        AssertEndsWith(AttributeExtra, saved.Graph.Node[1].Attribute[0].ToByteArray());
        AssertEndsWith(TensorExtra, saved.Graph.Initializer[0].ToByteArray());
        AssertEndsWith(ValueInfoExtra, saved.Graph.Input[0].ToByteArray());
        AssertEndsWith(GraphExtra, saved.Graph.ToByteArray());
        AssertEndsWith(ModelExtra, saved.ToByteArray());
    }

    private static void AssertEndsWith(byte[] suffix, byte[] bytes) =>
        Assert.True(bytes.AsSpan().EndsWith(suffix), $"the unknown field {Convert.ToHexString(suffix)} is missing");

    [Fact]
    public void ValueInfoFollowsValuesThatStillExist()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 4);
        b.Node("Relu", ["x"], ["kept"]);
        b.Node("Neg", ["x"], ["dead"]);
        b.Node("Abs", ["kept"], ["y"]);
        b.Output("y");
        b.Graph.ValueInfo.Add(new ValueInfoProto { Name = "kept", DocString = "kept doc", Type = TestModelBuilder.TensorType(DataType.Float, [1, 4]) });
        b.Graph.ValueInfo.Add(new ValueInfoProto { Name = "dead", Type = TestModelBuilder.TensorType(DataType.Float, [1, 4]) });
        var model = b.ToIr();

        model.Graph.RemoveNode(model.Graph.Nodes.Single(n => n.OpType == "Neg"));

        var info = Assert.Single(ModelWriter.ToProto(model).Graph.ValueInfo);
        Assert.Equal(("kept", "kept doc"), (info.Name, info.DocString));
    }

    [Fact]
    public void SubgraphValueInfoNamingAnOuterValueIsKept()
    {
        var b = IrTestModels.IfReadingOuterValue();
        var then = b.Graph.Node.Single(n => n.OpType == "If").Attribute.Single(a => a.Name == "then_branch").G;
        then.ValueInfo.Add(new ValueInfoProto { Name = "t", Type = TestModelBuilder.TensorType(DataType.Float, [2]) });
        then.ValueInfo.Add(new ValueInfoProto { Name = "a", Type = TestModelBuilder.TensorType(DataType.Float, [2]) });

        Assert.Equal(b.ToBytes(), ModelWriter.ToBytes(b.ToIr()));
    }

    [Fact]
    public void RenamedValueCarriesItsDeclaredTypeUnderTheNewName()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 4);
        b.Node("Relu", ["x"], ["r"]);
        b.Node("Abs", ["r"], ["y"]);
        b.Output("y", DataType.Float, 1, 4);
        var model = b.ToIr();

        model.Graph.Find("y")!.Name = "renamed";

        var output = Assert.Single(ModelWriter.ToProto(model).Graph.Output);
        Assert.Equal("renamed", output.Name);
        Assert.Equal([1L, 4L], output.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        Assert.Equal("renamed", ModelWriter.ToProto(model).Graph.Node[1].Output[0]);
    }
}
