using System.Diagnostics;
using System.Runtime.InteropServices;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Benchmarks;

/// <summary>Options every benchmark shares, and where it finds the tools it measures.</summary>
internal sealed record BenchmarkContext(
    TextWriter Out,
    TextWriter Error,
    int Runs,
    string WorkDirectory,
    string CliPath,
    string PythonPath,
    bool KeepFiles)
{
    public const string OptionsHelp = """
        options:
          --runs N        timed runs of each contender (default 5), after one untimed warm-up run each
          --work DIR      folder for generated models and outputs (default: $TMPDIR/onnxconv-bench); generated
                          models are reused across invocations
          --cli PATH      onnxconv executable to measure (default: this repository's CLI, published into
                          DIR/publish as users get it: Release, NativeAOT for this machine's runtime identifier)
          --python PATH   python with the onnx package (default: the first of $ONNXCONV_PYTHON, python3 on PATH and
                          /usr/bin/python3 that can import onnx, as the tests pick it; on Debian, python3-onnx)
          --keep          keep outputs written by the runs (generated input models are always kept)
        """;

    public static BenchmarkContext Parse(string[] args, TextWriter stdout, TextWriter stderr)
    {
        int runs = 5;
        string work = Path.Combine(Path.GetTempPath(), "onnxconv-bench");
        string? cli = null;
        string? python = null;
        bool keep = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--runs":
                    runs = int.TryParse(Next(), out int n) && n > 0 ? n : throw new ArgumentException("--runs needs a positive number");
                    break;
                case "--work": work = Path.GetFullPath(Next()); break;
                case "--cli": cli = Path.GetFullPath(Next()); break;
                case "--python": python = Next(); break;
                case "--keep": keep = true; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        Directory.CreateDirectory(work);
        python ??= PythonOnnx.Interpreter ?? "/usr/bin/python3";
        cli ??= PublishCli(work, stderr);
        if (!File.Exists(cli)) throw new ArgumentException($"onnxconv executable not found at {cli}");
        return new BenchmarkContext(stdout, stderr, runs, work, cli, python, keep);
    }

    /// <summary>Publishes the CLI as users get it (Release, NativeAOT for this machine's runtime identifier) into WORK/publish and returns the executable's path.</summary>
    private static string PublishCli(string work, TextWriter log)
    {
        string output = Path.Combine(work, "publish");
        Publish(output, log, "Release, NativeAOT", "-r", RuntimeInformation.RuntimeIdentifier);
        return Path.Combine(output, OperatingSystem.IsWindows() ? "onnxconv.exe" : "onnxconv");
    }

    /// <summary>
    /// Runs <c>dotnet publish</c> on the CLI (Release) into <paramref name="output"/> with <paramref name="arguments"/> added,
    /// emptying the folder first so that a size read from it is this build's alone.
    /// </summary>
    public static void Publish(string output, TextWriter log, string description, params string[] arguments)
    {
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        string project = Path.Combine(SharedData.RepositoryRoot, "src", "OnnxConvTool.Cli", "OnnxConvTool.Cli.csproj");
        log.WriteLine($"publishing {project} ({description}) to {output} ...");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["publish", project, "-c", "Release", "-o", output, "--nologo", .. arguments])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new ArgumentException($"dotnet publish failed ({process.ExitCode}); pass --cli PATH to measure another build\n{stdout.Result}{stderr}");
    }

    /// <summary>Untimed, between runs: removes earlier outputs and flushes dirty pages, so every run starts alike.</summary>
    public static void Settle(params string[] outputs)
    {
        foreach (string output in outputs)
        {
            File.Delete(output);
            File.Delete(output + ".data");
        }
        if (!OperatingSystem.IsWindows()) Process.Start("sync")?.WaitForExit();
    }
}
