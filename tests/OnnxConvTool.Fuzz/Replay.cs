using OnnxConvTool.TestKit;

namespace OnnxConvTool.Fuzz;

/// <summary>
/// Runs files through <see cref="FuzzPipeline"/> outside afl-fuzz, to confirm and triage its findings: prints one
/// line per file (outcome, or the escaping exception) and exits 1 when any file crashed or ran longer than
/// <see cref="HangLimit"/>.
/// </summary>
internal static class Replay
{
    /// <summary>Generous against afl-fuzz's timeout, so a slow, loaded machine does not turn into a finding.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    public static int Run(IEnumerable<string> paths)
    {
        var files = paths.SelectMany<string, string>(p => Directory.Exists(p)
                ? Directory.EnumerateFiles(p).Where(f => !Path.GetFileName(f).StartsWith('.') && Path.GetFileName(f) != "README.txt").Order(StringComparer.Ordinal)
                : [p])
            .ToList();
        int findings = 0;
        foreach (string file in files)
        {
            var run = Task.Run(() => FuzzPipeline.RunFile(file));
            try
            {
                if (!run.Wait(HangLimit))
                {
                    findings++;
                    Console.WriteLine($"HANG   {file}: still running after {HangLimit.TotalSeconds:F0} s");
                    continue;
                }
                Console.WriteLine($"{run.Result.Outcome.ToString().ToLowerInvariant(),-9} {file}: {run.Result.Detail}");
            }
            catch (AggregateException e)
            {
                findings++;
                var cause = e.InnerException ?? e;
                Console.WriteLine($"CRASH  {file}: {cause.GetType().Name}: {cause.Message.ReplaceLineEndings(" ")}");
                Console.WriteLine(cause.StackTrace);
            }
        }
        Console.WriteLine($"replayed {files.Count} files: {findings} crashes or hangs");
        // a hung pipeline thread would keep the process alive
        Environment.Exit(findings == 0 ? 0 : 1);
        return 0;
    }
}
