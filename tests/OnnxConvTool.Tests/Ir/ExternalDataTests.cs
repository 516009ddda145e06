using System.Diagnostics;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

using DataType = TensorProto.Types.DataType;

public sealed class ExternalDataTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// The model with all data inline, and the same model written independently of the writer under test with
    /// w1 and w2 moved to weights/params.bin (after a 16-byte gap, with 100-byte gaps between them).
    /// </summary>
    private sealed record Fixture(string Folder, string ExternalModel, byte[] InlineBytes)
    {
        public string InlineModel(string folder)
        {
            string path = Path.Combine(folder, "inline.onnx");
            File.WriteAllBytes(path, InlineBytes);
            return path;
        }
    }

    private Fixture Generate(string name = "src", int seed = 3)
    {
        var b = new TestModelBuilder(opset: 13, seed: seed);
        b.Input("x", 1, 64);
        b.RandomInitializer("w1", [64, 64]);
        b.RandomInitializer("w2", [64]);
        b.Initializer(TestModelBuilder.TensorOf("scale", [1], [0.5]));
        b.Node("MatMul", ["x", "w1"], ["m"]);
        b.Node("Add", ["m", "w2"], ["a"]);
        b.Node("Mul", ["a", "scale"], ["y"]);
        b.Output("y", DataType.Float, 1, 64);
        byte[] inline = b.ToBytes();

        string folder = Directory.CreateDirectory(_temp.File(name)).FullName;
        Directory.CreateDirectory(Path.Combine(folder, "weights"));
        var proto = b.Build();
        using var data = new MemoryStream();
        data.Write(new byte[16]);
        foreach (string tensorName in new[] { "w1", "w2" })
        {
            var tensor = proto.Graph.Initializer.Single(t => t.Name == tensorName);
            long offset = data.Position;
            data.Write(tensor.RawData.Span);
            data.Write(new byte[100]);
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights/params.bin" });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString() });
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ClearRawData();
        }
        File.WriteAllBytes(Path.Combine(folder, "weights", "params.bin"), data.ToArray());
        string modelPath = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(modelPath, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        return new Fixture(folder, modelPath, inline);
    }

    private static Dictionary<string, byte[]> InitializerBytes(Model model) =>
        model.Graph.Initializers.ToDictionary(v => v.Name, v => v.Initializer!.GetRawBytes().ToArray());

    private static Dictionary<string, byte[]> InitializerBytes(byte[] inlineModel) =>
        ModelProto.Parser.ParseFrom(inlineModel).Graph.Initializer.ToDictionary(t => t.Name, t => t.RawData.ToByteArray());

    [Fact]
    public void LoadResolvesExternalDataButDoesNotReadIt()
    {
        var fixture = Generate();

        var model = ModelReader.Load(fixture.ExternalModel);

        var w1 = model.Graph.Find("w1")!.Initializer!;
        Assert.NotNull(w1.External);
        Assert.Equal("weights/params.bin", w1.External!.Location);
        Assert.Equal(Path.Combine(fixture.Folder, "weights", "params.bin"), w1.External.FullPath);
        Assert.Equal((16L, 64L * 64 * 4), (w1.External.Offset, w1.External.Length));
        Assert.False(w1.Proto.HasRawData);
        Assert.Null(model.Graph.Find("scale")!.Initializer!.External);
        Assert.Equal(InitializerBytes(fixture.InlineBytes), InitializerBytes(model));
    }

    [Fact]
    public void LoadSaveLoadKeepsExternalDataAndItsValues()
    {
        var fixture = Generate();
        string copy = Directory.CreateDirectory(_temp.File("copy")).FullName;
        string output = Path.Combine(copy, "model.onnx");

        var saved = ModelWriter.Save(ModelReader.Load(fixture.ExternalModel), output);

        Assert.Equal((2, 1), (saved.ExternalTensors, saved.InlineTensors));
        Assert.Equal(Path.Combine(copy, "model.onnx.data"), saved.DataPath);
        Assert.Equal((64 * 64 + 64) * 4, new FileInfo(saved.DataPath!).Length);
        var reloaded = ModelReader.Load(output);
        Assert.Equal("model.onnx.data", reloaded.Graph.Find("w1")!.Initializer!.External!.Location);
        Assert.Equal(InitializerBytes(fixture.InlineBytes), InitializerBytes(reloaded));
        Assert.Equal(["model.onnx", "model.onnx.data"], Directory.GetFiles(copy).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void InlineBringsExternalDataBackByteForByte()
    {
        var fixture = Generate();
        string output = _temp.File("inline.onnx");

        var saved = ModelWriter.Save(ModelReader.Load(fixture.ExternalModel), output, new SaveOptions { ExternalData = ExternalDataMode.Inline });

        Assert.Null(saved.DataPath);
        Assert.False(File.Exists(output + ".data"));
        Assert.Equal(fixture.InlineBytes, File.ReadAllBytes(output));
    }

    [Fact]
    public void ExternalModeMovesTensorsFromTheThresholdUpAndInlineRestoresThem()
    {
        var fixture = Generate();
        string inline = fixture.InlineModel(_temp.Path);
        string external = _temp.File("external.onnx");
        string back = _temp.File("back.onnx");

        var saved = ModelWriter.Save(ModelReader.Load(inline), external,
            new SaveOptions { ExternalData = ExternalDataMode.External, ExternalThreshold = 257 });
        var model = ModelReader.Load(external);

        Assert.Equal((1, 2), (saved.ExternalTensors, saved.InlineTensors));
        Assert.NotNull(model.Graph.Find("w1")!.Initializer!.External);
        Assert.Null(model.Graph.Find("w2")!.Initializer!.External);
        Assert.Equal(InitializerBytes(fixture.InlineBytes), InitializerBytes(model));
        ModelWriter.Save(model, back, new SaveOptions { ExternalData = ExternalDataMode.Inline });
        Assert.Equal(fixture.InlineBytes, File.ReadAllBytes(back));
    }

    [Fact]
    public void ModelPastTheInlineLimitSavesThroughExternalDataAutomatically()
    {
        var fixture = Generate();
        var model = ModelReader.Load(fixture.InlineModel(_temp.Path));
        var options = new SaveOptions { InlineLimit = 8 << 10 };
        string output = _temp.File("auto.onnx");

        Assert.Equal(ExternalDataMode.External, ModelWriter.ChooseMode(model, options, output));
        var saved = ModelWriter.Save(model, output, options);

        Assert.Equal(output + ".data", saved.DataPath);
        Assert.True(saved.ModelBytes < 8 << 10);
        Assert.Equal(InitializerBytes(fixture.InlineBytes), InitializerBytes(ModelReader.Load(output)));
    }

    [Fact]
    public void ModelUnderTheInlineLimitStaysInline()
    {
        var fixture = Generate();
        var model = ModelReader.Load(fixture.InlineModel(_temp.Path));

        Assert.Equal(ExternalDataMode.Keep, ModelWriter.ChooseMode(model, new SaveOptions { InlineLimit = 64 << 10 }, "x.onnx"));
        Assert.Equal(ExternalDataMode.Keep, ModelWriter.ChooseMode(model, new SaveOptions(), "x.onnx"));
    }

    [Fact]
    public void InlineSavePastTheLimitIsRefusedAndWritesNothing()
    {
        var fixture = Generate();
        var model = ModelReader.Load(fixture.ExternalModel);
        string folder = Directory.CreateDirectory(_temp.File("refused")).FullName;
        var options = new SaveOptions { ExternalData = ExternalDataMode.Inline, InlineLimit = 8 << 10 };

        var error = Assert.Throws<OutputNotWrittenException>(() => ModelWriter.Save(model, Path.Combine(folder, "m.onnx"), options));

        Assert.Contains("exceed the 2 GiB protobuf limit", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void ExternalTensorsAreNeverHeldInMemoryWhole()
    {
        const int tensorBytes = 4 << 20;
        string folder = Directory.CreateDirectory(_temp.File("big")).FullName;
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 1024);
        var random = new Random(5);
        using (var data = File.Create(Path.Combine(folder, "w.bin")))
        {
            var bytes = new byte[tensorBytes];
            string previous = "x";
            for (int i = 0; i < 4; i++)
            {
                random.NextBytes(bytes);
                data.Write(bytes);
                var w = new TensorProto { Name = $"w{i}", DataType = (int)DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
                w.Dims.Add([1024, 1024]);
                w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "w.bin" });
                w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = ((long)i * tensorBytes).ToString() });
                w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensorBytes.ToString() });
                b.Initializer(w);
                previous = b.Node("MatMul", [previous, w.Name], [$"m{i}"])[0];
            }
            b.Output(previous);
        }
        string input = b.Save(Path.Combine(folder, "model.onnx"));
        string output = _temp.File("copy.onnx");

        long before = GC.GetAllocatedBytesForCurrentThread();
        var model = ModelReader.Load(input);
        long afterLoad = GC.GetAllocatedBytesForCurrentThread();
        ModelWriter.Save(model, output);
        long afterSave = GC.GetAllocatedBytesForCurrentThread();

        Assert.True(afterLoad - before < 2 << 20, $"loading allocated {afterLoad - before} bytes for 16 MiB of external data");
        Assert.True(afterSave - afterLoad < 4 << 20, $"saving allocated {afterSave - afterLoad} bytes for 16 MiB of external data");
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "w.bin")), File.ReadAllBytes(output + ".data"));
    }

    [Fact]
    public void ExternalTensorInsideAConstantNodeKeepsItsData()
    {
        string folder = Directory.CreateDirectory(_temp.File("constant")).FullName;
        var b = new TestModelBuilder(opset: 13, seed: 9);
        b.Input("x", 1, 64);
        var value = b.RandomTensor("k", [64, 64]);
        File.WriteAllBytes(Path.Combine(folder, "k.bin"), value.RawData.ToByteArray());
        var external = value.Clone();
        external.ClearRawData();
        external.DataLocation = TensorProto.Types.DataLocation.External;
        external.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "k.bin" });
        b.ConstantNode(external);
        b.Node("MatMul", ["x", "k"], ["y"]);
        b.Output("y");
        string input = b.Save(Path.Combine(folder, "model.onnx"));
        string output = _temp.File("inline.onnx");

        var model = ModelReader.Load(input);
        Assert.Equal(value.RawData.ToByteArray(), Model.TryGetConstant(model.Graph.Find("k")!)!.GetRawBytes().ToArray());
        ModelWriter.Save(model, output, new SaveOptions { ExternalData = ExternalDataMode.Inline });

        var saved = ModelProto.Parser.ParseFrom(File.ReadAllBytes(output)).Graph.Node[0].Attribute[0].T;
        Assert.Equal(value.RawData, saved.RawData);
        Assert.Empty(saved.ExternalData);
    }

    [SkippableFact]
    public void PythonOnnxReadsTheExternalDataWeWrite()
    {
        Skip.IfNot(File.Exists("/usr/bin/python3"), "/usr/bin/python3 (with python3-onnx) is not installed");
        var fixture = Generate();
        string output = _temp.File("for-python.onnx");
        ModelWriter.Save(ModelReader.Load(fixture.InlineModel(_temp.Path)), output,
            new SaveOptions { ExternalData = ExternalDataMode.External, ExternalThreshold = 0 });
        string script = """
            import sys, onnx
            from onnx import numpy_helper
            ours = onnx.load(sys.argv[1])
            onnx.checker.check_model(sys.argv[1], full_check=True)
            reference = onnx.load(sys.argv[2])
            a = {t.name: numpy_helper.to_array(t) for t in ours.graph.initializer}
            b = {t.name: numpy_helper.to_array(t) for t in reference.graph.initializer}
            assert a.keys() == b.keys(), (a.keys(), b.keys())
            assert all((a[k] == b[k]).all() and a[k].shape == b[k].shape for k in a)
            assert all(t.data_location == onnx.TensorProto.EXTERNAL for t in onnx.load(sys.argv[1], load_external_data=False).graph.initializer)
            print("equal", len(a))
            """;
        var (code, stdout, stderr) = RunPython(script, output, fixture.InlineModel(_temp.Path));
        Skip.If(code != 0 && stderr.Contains("No module named 'onnx'"), "python3-onnx is not installed");
        Assert.True(code == 0, stderr);
        Assert.Equal("equal 3", stdout.Trim());
    }

    internal static (int Code, string Stdout, string Stderr) RunPython(string script, params string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
