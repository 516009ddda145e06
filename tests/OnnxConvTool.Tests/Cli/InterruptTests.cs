using System.Diagnostics;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

/// <summary>SIGINT (Ctrl+C) stops a command with exit code 130 and leaves no output behind.</summary>
public sealed class InterruptTests
{
    [Theory]
    [InlineData("bench")]
    [InlineData("rewrite")]
    public async Task InterruptExitsWith130AndWritesNothing(string command)
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(opset: 13, seed: 3);
        string x = b.Input("x", 1, 64, 96, 96);
        string y = b.Conv(x, 64, 64, [1, 1]);
        for (int i = 0; i < 3; i++) y = b.Conv(y, 64, 64, [3, 3], attributes: [Attr.Ints("pads", 1, 1, 1, 1)]);
        b.Output(y, OnnxConvTool.Onnx.TensorProto.Types.DataType.Float, 1, 64, 96, 96);
        string model = b.Save(temp.File("slow.onnx"));
        string output = temp.File("out.onnx");
        string[] args = command == "bench"
            ? ["bench", model, "--runs", "1000000"]
            : ["rewrite", model, "-o", output, "--to", "matmul", "--trials", "1000000"];

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "onnxconv.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        await Task.Delay(TimeSpan.FromSeconds(3));
        if (process.HasExited) Assert.Fail($"the command ended before it could be interrupted: {await stderr}");
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString()])) await kill.WaitForExitAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        bool exited = true;
        try { await process.WaitForExitAsync(deadline.Token); }
        catch (OperationCanceledException) { exited = false; process.Kill(entireProcessTree: true); }

        Assert.True(exited, "the command did not stop within 30 s of SIGINT");
        Assert.Equal(130, process.ExitCode);
        Assert.Contains("interrupted", await stderr);
        await stdout;
        Assert.False(File.Exists(output));
        Assert.Equal([model], Directory.GetFiles(temp.Path));
    }
}
