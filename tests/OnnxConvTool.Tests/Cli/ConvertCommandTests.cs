using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

using DataType = TensorProto.Types.DataType;

/// <summary><c>onnxconv convert</c> end to end, in process.</summary>
public sealed class ConvertCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>x → MatMul(w1 [64,64]) → Add(w2 [64]) → y: w1 is 16 KiB, w2 256 bytes.</summary>
    private static TestModelBuilder Builder()
    {
        var b = new TestModelBuilder(opset: 13, seed: 21);
        b.Input("x", 1, 64);
        b.RandomInitializer("w1", [64, 64]);
        b.RandomInitializer("w2", [64]);
        b.Node("MatMul", ["x", "w1"], ["m"]);
        b.Node("Add", ["m", "w2"], ["y"]);
        b.Output("y", DataType.Float, 1, 64);
        return b;
    }

    private string InlineModel(string name = "model.onnx") => Builder().Save(_temp.File(name));

    private string[] FilesInTemp() => Directory.GetFiles(_temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void ConvertWithoutOptionsCopiesTheModelByteForByte()
    {
        string input = InlineModel();
        string output = _temp.File("copy.onnx");

        var run = CliInvocation.Run("convert", input, "-o", output);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Stderr);
        Assert.Equal($"wrote {output}: {new FileInfo(output).Length} bytes, 2 tensors inline\n", run.Stdout);
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(output));
        Assert.Equal(["copy.onnx", "model.onnx"], FilesInTemp());
    }

    [Fact]
    public void ExternalDataMovesTensorsFromTheThresholdUpAndInlineBringsThemBack()
    {
        string input = InlineModel();
        string external = _temp.File("external.onnx");
        string back = _temp.File("back.onnx");

        var toExternal = CliInvocation.Run("convert", input, "-o", external, "--external-data", "--threshold", "1024");
        var toInline = CliInvocation.Run("convert", external, "-o", back, "--inline");

        Assert.Equal(0, toExternal.ExitCode);
        Assert.EndsWith($"1 tensors inline; external.onnx.data: {64 * 64 * 4} bytes, 1 tensors\n", toExternal.Stdout);
        var model = ModelReader.Load(external);
        Assert.Equal("external.onnx.data", model.Graph.Find("w1")!.Initializer!.External!.Location);
        Assert.Null(model.Graph.Find("w2")!.Initializer!.External);
        Assert.Equal(0, toInline.ExitCode);
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(back));
        Assert.Equal(["back.onnx", "external.onnx", "external.onnx.data", "model.onnx"], FilesInTemp());
    }

    [Fact]
    public void DefaultThresholdIs1024Bytes()
    {
        var run = CliInvocation.Run("convert", InlineModel(), "-o", _temp.File("external.onnx"), "--external-data");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("1 tensors inline; external.onnx.data", run.Stdout);
    }

    [Fact]
    public void OutputEqualToInputIsAUsageErrorAndLeavesTheInputAlone()
    {
        string input = InlineModel();
        byte[] before = File.ReadAllBytes(input);
        string sameThroughDots = Path.Combine(_temp.Path, ".", "model.onnx");

        var run = CliInvocation.Run("convert", input, "-o", sameThroughDots);

        Assert.Equal((int)ExitCode.UsageError, run.ExitCode);
        Assert.Equal($"onnxconv: {sameThroughDots}: the output is the input model; pass --in-place to overwrite it", Assert.Single(run.StderrLines));
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.Equal(["model.onnx"], FilesInTemp());
    }

    [Fact]
    public void OutputThatIsASymbolicLinkToTheInputIsAUsageError()
    {
        string input = InlineModel();
        string link = _temp.File("link.onnx");
        File.CreateSymbolicLink(link, input);

        var run = CliInvocation.Run("convert", input, "-o", link);

        Assert.Equal((int)ExitCode.UsageError, run.ExitCode);
        Assert.Contains("the output is the input model", run.Stderr);
        Assert.NotNull(new FileInfo(link).LinkTarget);
    }

    [Fact]
    public void InPlaceOverwritesTheInput()
    {
        string input = InlineModel();

        var run = CliInvocation.Run("convert", input, "--in-place", "--external-data");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(["model.onnx", "model.onnx.data"], FilesInTemp());
        Assert.NotNull(ModelReader.Load(input).Graph.Find("w1")!.Initializer!.External);
    }

    [Fact]
    public void InPlaceOnAnExternalDataModelRewritesItsDataFileSafely()
    {
        string input = InlineModel();
        Assert.Equal(0, CliInvocation.Run("convert", input, "--in-place", "--external-data", "--threshold", "0").ExitCode);

        var run = CliInvocation.Run("convert", input, "-o", input, "--in-place");

        Assert.Equal(0, run.ExitCode);
        var model = ModelReader.Load(input);
        var expected = ModelReader.Load(Builder().Save(_temp.File("reference.onnx")));
        foreach (var value in expected.Graph.Initializers)
            Assert.Equal(value.Initializer!.GetRawBytes().ToArray(), model.Graph.Find(value.Name)!.Initializer!.GetRawBytes().ToArray());
    }

    [Fact]
    public void OutputThatWouldReplaceTheInputsExternalDataIsAUsageError()
    {
        Assert.Equal(0, CliInvocation.Run("convert", InlineModel("a.onnx"), "-o", _temp.File("b.onnx"), "--external-data").ExitCode);
        File.Copy(_temp.File("b.onnx"), _temp.File("c.onnx"));
        byte[] data = File.ReadAllBytes(_temp.File("b.onnx.data"));

        var dataFileClash = CliInvocation.Run("convert", _temp.File("c.onnx"), "-o", _temp.File("b.onnx"));
        var outputIsDataFile = CliInvocation.Run("convert", _temp.File("c.onnx"), "-o", _temp.File("b.onnx.data"));

        Assert.Equal((int)ExitCode.UsageError, dataFileClash.ExitCode);
        Assert.Contains("its data file 'b.onnx.data' would overwrite the input model's external data", dataFileClash.Stderr);
        Assert.Equal((int)ExitCode.UsageError, outputIsDataFile.ExitCode);
        Assert.Contains("refusing to overwrite the input model's external data file", outputIsDataFile.Stderr);
        Assert.Equal(data, File.ReadAllBytes(_temp.File("b.onnx.data")));
        Assert.Equal(["a.onnx", "b.onnx", "b.onnx.data", "c.onnx"], FilesInTemp());
    }

    [Theory]
    [InlineData("--external-data", "--inline")]
    [InlineData("--threshold", "10")]
    [InlineData("--external-data", "--threshold", "-1")]
    public void ContradictoryOptionsAreUsageErrors(params string[] options)
    {
        string input = InlineModel();

        var run = CliInvocation.Run(["convert", input, "-o", _temp.File("out.onnx"), .. options]);

        Assert.Equal((int)ExitCode.UsageError, run.ExitCode);
        Assert.Equal(["model.onnx"], FilesInTemp());
    }

    [Fact]
    public void MissingOutputIsAUsageError()
    {
        var run = CliInvocation.Run("convert", InlineModel());

        Assert.Equal((int)ExitCode.UsageError, run.ExitCode);
        Assert.Contains("Give the output path with -o OUT", run.Stderr);
    }

    [Fact]
    public void InPlaceWithAnotherOutputIsAUsageError()
    {
        var run = CliInvocation.Run("convert", InlineModel(), "-o", _temp.File("other.onnx"), "--in-place");

        Assert.Equal((int)ExitCode.UsageError, run.ExitCode);
        Assert.Equal(["model.onnx"], FilesInTemp());
    }

    [Fact]
    public void MissingOutputFolderIsOutputNotWritten()
    {
        string output = _temp.File("no/such/folder/out.onnx");

        var run = CliInvocation.Run("convert", InlineModel(), "-o", output);

        Assert.Equal((int)ExitCode.OutputNotWritten, run.ExitCode);
        Assert.StartsWith($"onnxconv: {output}: folder", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void FailedFinalRenameLeavesNoTempFilesAndRestoresTheOldDataFile()
    {
        string input = InlineModel();
        string output = _temp.File("occupied.onnx");
        File.WriteAllText(output + ".data", "previous data");
        // A folder that appears at the output path after the checks makes the model's rename fail.
        var options = new SaveOptions
        {
            ExternalData = ExternalDataMode.External,
            BeforeRename = () => File.WriteAllText(Path.Combine(Directory.CreateDirectory(output).FullName, "keeps the rename from replacing it"), ""),
        };

        var e = Assert.Throws<OutputNotWrittenException>(() => ModelWriter.Save(ModelReader.Load(input), output, options));

        Assert.StartsWith($"{output}: ", e.Message);
        Assert.Equal(["model.onnx", "occupied.onnx.data"], FilesInTemp());
        Assert.Equal("previous data", File.ReadAllText(output + ".data"));
    }

    [Fact]
    public void OutputThatIsAFolderGetsTheInputsNameInIt()
    {
        string output = Directory.CreateDirectory(_temp.File("folder.onnx")).FullName;

        var run = CliInvocation.Run("convert", InlineModel(), "-o", output);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(Path.Combine(output, "model.onnx")));
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void UnwritableFolderIsOutputNotWrittenWithNoTempFiles()
    {
        string folder = Directory.CreateDirectory(_temp.File("readonly")).FullName;
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        bool immutable = false;
        try
        {
            if (CanWriteInto(folder))
            {
                // root ignores permission bits; the immutable attribute stops root too
                immutable = RunChattr("+i", folder) && !CanWriteInto(folder);
                Skip.IfNot(immutable, "this user can write into a read-only folder and chattr +i is not available");
            }

            var run = CliInvocation.Run("convert", InlineModel(), "-o", Path.Combine(folder, "out.onnx"));

            Assert.Equal((int)ExitCode.OutputNotWritten, run.ExitCode);
            Assert.StartsWith("onnxconv: ", Assert.Single(run.StderrLines));
            Assert.Empty(Directory.GetFileSystemEntries(folder));
        }
        finally
        {
            if (immutable) RunChattr("-i", folder);
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static bool CanWriteInto(string folder)
    {
        string probe = Path.Combine(folder, "probe");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    private static bool RunChattr(string flag, string path)
    {
        try
        {
            using var chattr = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true });
            chattr!.WaitForExit();
            return chattr.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
