using Google.Protobuf;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

using DataType = OnnxConvTool.Onnx.TensorProto.Types.DataType;

/// <summary>
/// <c>--input NAME=FILE</c> and <c>--test-data</c> files, through the real <c>onnxconv</c> process: a file
/// that is not a regular file, or larger than the tensor it must hold, is refused before it is read (exit 2,
/// one line naming the file) instead of being read without end.
/// </summary>
public sealed class InputFileTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>x [1,8,4,4] (or [N,8,4,4]) → 1x1 Conv → y.</summary>
    private string Model(bool freeBatch = false)
    {
        var b = new TestModelBuilder(opset: 13, seed: 6);
        string x = freeBatch ? b.Input("x", DataType.Float, "N", 8, 4, 4) : b.Input("x", 1, 8, 4, 4);
        string y = b.Conv(x, 8, 8, [1, 1]);
        if (freeBatch) b.Output(y); else b.Output(y, DataType.Float, 1, 8, 4, 4);
        return b.Save(_temp.File("model.onnx"));
    }

    private static void AssertRefused(CliInvocation run, string file, string expected)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal($"onnxconv: {file}: {expected}", Assert.Single(run.StderrLines));
        Assert.Empty(run.Stdout);
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("rewrite")]
    [InlineData("bench")]
    public void ADeviceIsRefusedBeforeItIsRead(string command)
    {
        string model = Model();
        string[] args = command switch
        {
            "verify" => ["verify", model, model, "--input", "x=/dev/zero"],
            "rewrite" => ["rewrite", model, "-o", _temp.File("out.onnx"), "--to", "matmul", "--input", "x=/dev/zero"],
            _ => ["bench", model, "--runs", "1", "--input", "x=/dev/zero"],
        };

        var run = CliInvocation.RunProcess(args);

        AssertRefused(run, "/dev/zero", "is a character device, not a regular file; an input file must be a regular file");
        Assert.Equal(["model.onnx"], Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void APipeIsRefusedWithoutWaitingForAWriter()
    {
        string model = Model();
        string fifo = SpecialFiles.Fifo(_temp.File("x.npy"));

        var run = CliInvocation.RunProcess("verify", model, model, "--input", $"x={fifo}");

        AssertRefused(run, fifo, "is a named pipe (FIFO), not a regular file; an input file must be a regular file");
    }

    [Fact]
    public void AFileLargerThanTheDeclaredTensorIsRefused()
    {
        string model = Model();
        string file = _temp.File("x.npy");
        File.WriteAllBytes(file, new byte[3 << 20]);

        var run = CliInvocation.RunProcess("verify", model, model, "--input", $"x={file}");

        // [1,8,4,4] float32: 128 elements × at most 10 bytes each, plus 1 MiB of header room.
        AssertRefused(run, file, $"{3 << 20} bytes is more than the input's tensor can take ({128 * 10 + (1 << 20)} bytes at most)");
    }

    [Fact]
    public void TheBoundFollowsAShapeGivenOnTheCommandLine()
    {
        string model = Model(freeBatch: true);
        string file = _temp.File("x.pb");
        File.WriteAllBytes(file, new byte[3 << 20]);

        var run = CliInvocation.RunProcess("verify", model, model, "--shape", "x=2,8,4,4", "--input", $"x={file}");

        AssertRefused(run, file, $"{3 << 20} bytes is more than the input's tensor can take ({256 * 10 + (1 << 20)} bytes at most)");
    }

    /// <summary>Reading a pipe or /dev/zero never ends; the refusal comes from the file's type, before it is opened.</summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(60);

    private string TestDataSet() => Directory.CreateDirectory(_temp.File("test_data_set_0")).FullName;

    private static void WriteTensor(string path, long[] dims)
    {
        var b = new TestModelBuilder(seed: 7);
        File.WriteAllBytes(path, b.RandomTensor("x", dims).ToByteArray());
    }

    [Theory]
    [InlineData("input_0.pb")]
    [InlineData("output_0.pb")]
    public void ATestDataFileThatIsAPipeIsRefusedWithoutWaitingForAWriter(string name)
    {
        string model = Model();
        string set = TestDataSet();
        if (name != "input_0.pb") WriteTensor(Path.Combine(set, "input_0.pb"), [1, 8, 4, 4]);
        string fifo = SpecialFiles.Fifo(Path.Combine(set, name));

        var run = CliInvocation.RunProcessWithin(Prompt, "verify", model, model, "--test-data", set);

        AssertRefused(run, fifo, "is a named pipe (FIFO), not a regular file; an input file must be a regular file");
    }

    /// <summary>A device node with the numbers of /dev/zero, made in the test's folder: read, it never ends.</summary>
    [SkippableTheory]
    [InlineData("input_0.pb")]
    [InlineData("output_0.pb")]
    public void ATestDataFileThatIsADeviceIsRefusedBeforeItIsRead(string name)
    {
        string model = Model();
        string set = TestDataSet();
        if (name != "input_0.pb") WriteTensor(Path.Combine(set, "input_0.pb"), [1, 8, 4, 4]);
        string? zero = SpecialFiles.CharacterDevice(Path.Combine(set, name), 1, 5);
        Skip.If(zero is null, "mknod needs root");

        var run = CliInvocation.RunProcessWithin(Prompt, "verify", model, model, "--test-data", set);

        AssertRefused(run, zero, "is a character device, not a regular file; an input file must be a regular file");
        Assert.True(SpecialFiles.IsCharacterDevice(zero));
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("rewrite")]
    [InlineData("optimize")]
    public void AReportNamingATestDataFileIsRefusedAndTheFileStays(string command)
    {
        string model = Model();
        string set = TestDataSet();
        string input = Path.Combine(set, "input_0.pb");
        WriteTensor(input, [1, 8, 4, 4]);
        byte[] before = File.ReadAllBytes(input);
        string[] args = command == "verify"
            ? ["verify", model, model, "--test-data", set, "--report", input]
            : [command, model, "-o", _temp.File("out.onnx"), .. command == "rewrite" ? new[] { "--to", "matmul" } : [], "--test-data", set, "--report", input];

        var run = CliInvocation.RunProcessWithin(Prompt, args);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("--report would overwrite", run.Stderr);
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.False(File.Exists(_temp.File("out.onnx")));
    }

    [Fact]
    public void ATestDataInputLargerThanTheDeclaredTensorIsRefused()
    {
        string model = Model();
        string file = Path.Combine(TestDataSet(), "input_0.pb");
        File.WriteAllBytes(file, new byte[3 << 20]);

        var run = CliInvocation.RunProcessWithin(Prompt, "verify", model, model, "--test-data", _temp.Path);

        AssertRefused(run, file, $"{3 << 20} bytes is more than the input's tensor can take ({128 * 10 + (1 << 20)} bytes at most)");
    }

    [Fact]
    public void ATestDataOutputLargerThanTheDeclaredTensorIsRefusedBeforeAnyRun()
    {
        string model = Model();
        string set = TestDataSet();
        WriteTensor(Path.Combine(set, "input_0.pb"), [1, 8, 4, 4]);
        string file = Path.Combine(set, "output_0.pb");
        File.WriteAllBytes(file, new byte[3 << 20]);

        var run = CliInvocation.RunProcessWithin(Prompt, "rewrite", model, "-o", _temp.File("out.onnx"), "--to", "matmul", "--test-data", set);

        AssertRefused(run, file, $"{3 << 20} bytes is more than the output's tensor can take ({128 * 10 + (1 << 20)} bytes at most)");
        Assert.False(File.Exists(_temp.File("out.onnx")));
    }

    [Fact]
    public void TheTestDataBoundFollowsAShapeGivenOnTheCommandLine()
    {
        string model = Model(freeBatch: true);
        string set = TestDataSet();
        string file = Path.Combine(set, "input_0.pb");
        File.WriteAllBytes(file, new byte[3 << 20]);

        var run = CliInvocation.RunProcessWithin(Prompt, "verify", model, model, "--shape", "x=2,8,4,4", "--test-data", set);

        AssertRefused(run, file, $"{3 << 20} bytes is more than the input's tensor can take ({256 * 10 + (1 << 20)} bytes at most)");
    }

    [Fact]
    public void TestDataThatFitsTheDeclaredTensorsIsStillCompared()
    {
        string model = Model();
        string set = TestDataSet();
        WriteTensor(Path.Combine(set, "input_0.pb"), [1, 8, 4, 4]);

        var run = CliInvocation.RunProcessWithin(Prompt, "verify", model, model, "--test-data", set);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("test_data_set_0", run.Stdout);
    }
}
