using System.Diagnostics;
using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// Where the tool writes, through the real <c>onnxconv</c> process: a report never replaces a model, a
/// device or pipe is never renamed over, temp files are created exclusively under unpredictable names,
/// and temps a killed run left behind are removed by the next write to the same destination.
/// </summary>
public sealed class OutputSafetyTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Model(string name = "model.onnx")
    {
        var b = new TestModelBuilder(opset: 13, seed: 5);
        string x = b.Input("x", 1, 8, 4, 4);
        b.Output(b.Conv(x, 8, 8, [1, 1]), OnnxConvTool.Onnx.TensorProto.Types.DataType.Float, 1, 8, 4, 4);
        return b.Save(_temp.File(name));
    }

    private string[] Entries() => Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    private static void AssertUsageError(CliInvocation run, string path, string expected)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"onnxconv: {path}: ", line);
        Assert.Contains(expected, line);
        Assert.Empty(run.Stdout);
    }

    [Theory]
    [InlineData("same path")]
    [InlineData("another spelling")]
    [InlineData("symbolic link")]
    [InlineData("hard link")]
    public void ReportIsRefusedWhenItIsTheInputModel(string how)
    {
        string model = Model();
        string report = how switch
        {
            "same path" => model,
            "another spelling" => Path.Combine(_temp.Path, ".", "..", Path.GetFileName(_temp.Path), "model.onnx"),
            "symbolic link" => File.CreateSymbolicLink(_temp.File("link.onnx"), model).FullName,
            _ => SpecialFiles.HardLink(model, _temp.File("hard.onnx")),
        };
        byte[] before = File.ReadAllBytes(model);
        var entries = Entries();

        string output = _temp.File("out.onnx");
        string[][] commands =
        [
            ["audit", model, "--report", report],
            ["inspect", model, "--report", report],
            ["verify", model, model, "--report", report],
            ["rewrite", model, "-o", output, "--to", "matmul", "--report", report],
            ["optimize", model, "-o", output, "--report", report],
        ];
        foreach (string[] args in commands)
        {
            var run = CliInvocation.RunProcess(args);
            AssertUsageError(run, report, "--report would overwrite");
            Assert.Equal(before, File.ReadAllBytes(model));
            Assert.Equal(entries, Entries());
        }
    }

    /// <summary>A command that writes a model to <paramref name="output"/>, with <paramref name="extra"/> arguments.</summary>
    private static string[] WriteModel(string command, string model, string output, params string[] extra) => command switch
    {
        "convert" => ["convert", model, "-o", output, .. extra],
        "rewrite" => ["rewrite", model, "-o", output, "--to", "matmul", .. extra],
        _ => ["optimize", model, "-o", output, .. extra],
    };

    [Theory]
    [InlineData("rewrite", "another spelling")]
    [InlineData("optimize", "another spelling")]
    [InlineData("rewrite", "hard link")]
    [InlineData("optimize", "hard link")]
    public void ReportIsRefusedWhenItIsTheModelOutput(string command, string how)
    {
        string model = Model();
        string output = _temp.File("out.onnx");
        string report = Path.Combine(_temp.Path, "..", Path.GetFileName(_temp.Path), "out.onnx");
        if (how == "hard link")
        {
            File.Copy(model, output);
            report = SpecialFiles.HardLink(output, _temp.File("hard.txt"));
        }
        var entries = Entries();

        var run = CliInvocation.RunProcess(WriteModel(command, model, output, "--report", report));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--report would overwrite", Assert.Single(run.StderrLines));
        Assert.Equal(entries, Entries());
        if (how == "hard link") Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(output));
    }

    [Theory]
    [InlineData("convert")]
    [InlineData("rewrite")]
    [InlineData("optimize")]
    public void ModelOutputToAFifoIsRefusedAndTheFifoStays(string command)
    {
        string model = Model();
        string fifo = SpecialFiles.Fifo(_temp.File("pipe"));

        var run = CliInvocation.RunProcess(WriteModel(command, model, fifo));

        AssertUsageError(run, fifo, "is a named pipe (FIFO), not a regular file");
        Assert.True(SpecialFiles.IsFifo(fifo));
        Assert.Equal(["model.onnx", "pipe"], Entries());
    }

    [SkippableTheory]
    [InlineData("convert")]
    [InlineData("rewrite")]
    [InlineData("optimize")]
    public void ModelOutputToADeviceIsRefusedAndTheDeviceStays(string command)
    {
        string model = Model();
        string? device = SpecialFiles.CharacterDevice(_temp.File("null"), 1, 3);
        Skip.If(device is null, "mknod needs root");

        var run = CliInvocation.RunProcess(WriteModel(command, model, device));

        AssertUsageError(run, device, "is a character device, not a regular file");
        Assert.True(SpecialFiles.IsCharacterDevice(device));
        Assert.Equal(["model.onnx", "null"], Entries());
    }

    [Fact]
    public void DataFileThatIsNotARegularFileIsRefused()
    {
        string model = Model();
        string output = _temp.File("out.onnx");
        SpecialFiles.Fifo(output + ".data");

        var run = CliInvocation.RunProcess("convert", model, "-o", output, "--external-data", "--threshold", "0");

        AssertUsageError(run, output + ".data", "is a named pipe (FIFO), not a regular file");
        Assert.True(SpecialFiles.IsFifo(output + ".data"));
        Assert.Equal(["model.onnx", "out.onnx.data"], Entries());
    }

    [Fact]
    public async Task ReportToAFifoIsWrittenIntoIt()
    {
        string model = Model();
        string fifo = SpecialFiles.Fifo(_temp.File("pipe"));
        var reader = Task.Run(() => File.ReadAllText(fifo));

        var run = await Task.Run(() => CliInvocation.RunProcess("inspect", model, "--report", fifo));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith($"model       {model}\n", await reader.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(SpecialFiles.IsFifo(fifo));
        Assert.Equal(["model.onnx", "pipe"], Entries());
    }

    [SkippableFact]
    public void ReportToADeviceIsWrittenIntoItAndAFullDeviceGivesExit5()
    {
        string model = Model();
        string? nullDevice = SpecialFiles.CharacterDevice(_temp.File("null"), 1, 3);
        Skip.If(nullDevice is null, "mknod needs root");
        string fullDevice = SpecialFiles.CharacterDevice(_temp.File("full"), 1, 7)!;

        var toNull = CliInvocation.RunProcess("audit", model, "--report", nullDevice);
        var toFull = CliInvocation.RunProcess("audit", model, "--report", fullDevice);

        Assert.True(toNull.ExitCode == 0, toNull.ToString());
        Assert.Equal(5, toFull.ExitCode);
        Assert.StartsWith($"onnxconv: {fullDevice}: cannot write report: No space left on device", Assert.Single(toFull.StderrLines));
        Assert.True(SpecialFiles.IsCharacterDevice(nullDevice) && SpecialFiles.IsCharacterDevice(fullDevice));
        Assert.Equal(["full", "model.onnx", "null"], Entries());
    }

    [Fact]
    public void ReportThroughASymbolicLinkReplacesTheFileItPointsToAndKeepsTheLink()
    {
        string model = Model();
        string real = _temp.File("real.txt");
        File.WriteAllText(real, "old");
        string link = File.CreateSymbolicLink(_temp.File("report.txt"), real).FullName;

        var run = CliInvocation.RunProcess("inspect", model, "--report", link);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.StartsWith("model ", File.ReadAllText(real));
    }

    /// <summary>The report's temp name used to be <c>.NAME.PID.tmp</c>: a symbolic link planted there redirected the write.</summary>
    [Fact]
    public void ASymbolicLinkPlantedAtThePredictableTempNameIsNotFollowed()
    {
        string model = Model();
        string victim = _temp.File("victim.txt");
        File.WriteAllText(victim, "precious");
        string report = _temp.File("report.txt");
        File.CreateSymbolicLink(_temp.File($".report.txt.{Environment.ProcessId}.tmp"), victim);

        var run = CliInvocation.Run("inspect", model, "--report", report);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.StartsWith("model ", File.ReadAllText(report));
    }

    [Fact]
    public void TempFilesAreNewUnpredictableAndNamedAfterTheirWriter()
    {
        string destination = _temp.File("out.onnx");
        using var first = TempFiles.CreateBeside(destination);
        using var second = TempFiles.CreateBeside(destination);

        Assert.NotEqual(first.Name, second.Name);
        Assert.Matches($@"^\.out\.onnx\.{Environment.ProcessId}\.[0-9a-f]{{32}}\.tmp$", Path.GetFileName(first.Name));
        Assert.Equal(_temp.Path, Path.GetDirectoryName(first.Name));
        TempFiles.Delete(first.Name);
        TempFiles.Delete(second.Name);
    }

    [Fact]
    public void TheNextWriteRemovesTempsOfAKilledRunAndKeepsThoseOfARunningOne()
    {
        string model = Model();
        string output = _temp.File("out.onnx");
        string report = _temp.File("report.txt");
        int dead = DeadProcessId();
        string hex = new('a', 32);
        string[] abandoned = [$".out.onnx.{dead}.{hex}.tmp", $".out.onnx.data.{dead}.{hex}.tmp", $".report.txt.{dead}.{hex}.tmp"];
        string running = $".out.onnx.1.{hex}.tmp";
        string unrelated = $".other.onnx.{dead}.{hex}.tmp";
        foreach (string name in abandoned.Append(running).Append(unrelated)) File.WriteAllBytes(_temp.File(name), new byte[1000]);

        var run = CliInvocation.RunProcess("rewrite", model, "-o", output, "--to", "matmul", "--external-data", "--threshold", "0", "--report", report);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(new[] { running, unrelated, "model.onnx", "out.onnx", "out.onnx.data", "report.txt" }.Order(StringComparer.Ordinal), Entries());
    }

    [Fact]
    public void ARunKilledWhileWritingLeavesATempThatTheNextWriteRemoves()
    {
        string model = Model();
        string output = _temp.File("out.onnx");
        // What a SIGKILL in the middle of a save leaves: the writer's temp, its process gone.
        using (var stream = TempFiles.CreateBeside(output)) stream.Write(new byte[4096]);
        string left = Directory.GetFiles(_temp.Path, ".out.onnx.*.tmp").Single();
        string orphan = left.Replace($".{Environment.ProcessId}.", $".{DeadProcessId()}.");
        File.Move(left, orphan);
        TempFiles.Committed(left);

        var run = CliInvocation.RunProcess("convert", model, "-o", output);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.False(File.Exists(orphan));
        Assert.Equal(["model.onnx", "out.onnx"], Entries());
    }

    /// <summary>
    /// A real <c>kill -9</c> while <c>convert</c> writes a model of 64 MiB or more: the temp stays behind, and the next
    /// write to that destination removes it and leaves a complete model. A write that finishes before the kill lands
    /// is retried with a larger model, so the test never passes without having killed a writer.
    /// </summary>
    [Fact]
    public void AWriterKilledWithSigkillLeavesATempThatTheNextWriteRemoves()
    {
        string output = _temp.File("out.onnx");
        foreach (int channels in new[] { 4096, 8192, 11584 })
        {
            string model = LargeModel(channels);
            string? temp = KillWhileItsTempExists(["convert", model, "-o", output]);
            if (temp is null)
            {
                File.Delete(output);
                File.Delete(model);
                continue;
            }
            Assert.True(File.Exists(temp), $"the killed writer's temp {temp} is gone");
            Assert.False(File.Exists(output));

            var run = CliInvocation.RunProcess("convert", model, "-o", output);

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.False(File.Exists(temp));
            Assert.Equal([Path.GetFileName(model), "out.onnx"], Entries());
            var written = ModelReader.Load(output).Graph.Initializers.Single().Initializer!;
            var source = ModelReader.Load(model).Graph.Initializers.Single().Initializer!;
            Assert.Equal(new long[] { channels, channels, 1, 1 }, written.Dims);
            Assert.True(source.GetRawBytes().Span.SequenceEqual(written.GetRawBytes().Span), "the rewritten weights differ from the source's");
            return;
        }
        Assert.Fail("every write of up to 512 MiB ended before it could be killed");
    }

    /// <summary>x [1,C,1,1] → 1x1 Conv with C×C float weights (4·C² bytes) → y.</summary>
    private string LargeModel(int channels)
    {
        var b = new TestModelBuilder(opset: 13, seed: 9);
        string x = b.Input("x", 1, channels, 1, 1);
        b.Output(b.Conv(x, channels, channels, [1, 1], bias: false), OnnxConvTool.Onnx.TensorProto.Types.DataType.Float, 1, channels, 1, 1);
        return b.Save(_temp.File($"large-{channels}.onnx"));
    }

    /// <summary>
    /// Starts onnxconv with <paramref name="args"/> and sends SIGKILL as soon as its temp file for <c>out.onnx</c>
    /// appears; the temp's path, or null when the process ended first.
    /// </summary>
    private string? KillWhileItsTempExists(string[] args)
    {
        using var process = Process.Start(CliInvocation.ProcessStart(null, args))!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        string pattern = $".out.onnx.{process.Id}.*.tmp";
        while (!process.HasExited)
        {
            if (Directory.GetFiles(_temp.Path, pattern).FirstOrDefault() is { } temp)
            {
                process.Kill();
                Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "the killed process did not end");
                // The write may have completed between the poll and the kill.
                return File.Exists(temp) ? temp : null;
            }
            if (deadline.Elapsed > TimeSpan.FromMinutes(2))
            {
                process.Kill();
                Assert.Fail("convert neither wrote a temp file nor ended within 2 minutes");
            }
            Thread.Sleep(1);
        }
        Assert.True(process.ExitCode == 0, $"convert failed: {stderr.Result}");
        return null;
    }

    /// <summary>The PID of a process that has exited (Linux does not reuse it before the PID space wraps).</summary>
    private static int DeadProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }
}
