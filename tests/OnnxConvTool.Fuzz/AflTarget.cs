using OnnxConvTool.TestKit;
using SharpFuzz;

namespace OnnxConvTool.Fuzz;

/// <summary>
/// The afl-fuzz target. Out of process, so a stack overflow or a crash of the runtime is a finding instead of
/// the end of the campaign; every exception that <see cref="FuzzPipeline"/> lets escape is reported as a crash.
/// </summary>
internal static class AflTarget
{
    /// <summary>Where the inputs are written to be loaded: $ONNXCONV_FUZZ_SCRATCH (fuzz.sh sets it to its work folder) or the temp folder.</summary>
    private static readonly Lazy<string> Scratch = new(() =>
    {
        string root = Environment.GetEnvironmentVariable("ONNXCONV_FUZZ_SCRATCH") is { Length: > 0 } configured ? configured : Path.GetTempPath();
        // the child process that runs the target has its own id, so each process gets its own folder
        string folder = Path.Combine(root, $"scratch-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        return folder;
    });

    public static int Run()
    {
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            FuzzPipeline.Run(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), Scratch.Value);
        });
        return 0;
    }
}
