namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Entry point of the benchmark harness: <c>dotnet run -c Release --project tests/OnnxConvTool.Benchmarks -- NAME [options]</c>.
/// Each benchmark is one subcommand; add another by adding a line to <see cref="Benchmarks"/>.
/// Exit code 0 when every target of the chosen benchmark is met, 1 when one is missed, 2 for bad arguments.
/// </summary>
internal static class BenchmarkHost
{
    private static readonly Dictionary<string, (string Description, Func<BenchmarkContext, int> Run)> Benchmarks = new(StringComparer.Ordinal)
    {
        ["convert"] = ("onnxconv convert vs python3 onnx.save(onnx.load()) on a 0.5 GB model of 32 chained 2048→2048 1x1 convs", ConvertBenchmark.Run),
        ["verify"] = (VerifyBenchmark.Description, VerifyBenchmark.Run),
        ["audit"] = (AuditBenchmark.Description, AuditBenchmark.Run),
        ["batch-audit"] = (BatchAuditBenchmark.Description, BatchAuditBenchmark.Run),
        ["rewrite"] = (RewriteBenchmark.Description, RewriteBenchmark.Run),
        ["startup"] = (StartupBenchmark.Description, StartupBenchmark.Run),
        ["scaling"] = (ScalingBenchmark.Description, ScalingBenchmark.Run),
        ["optimize"] = (OptimizeBenchmark.Description, OptimizeBenchmark.Run),
        ["audit-rank"] = (AuditRankBenchmark.Description, AuditRankBenchmark.Run),
        ["audit-memory"] = (MemoryBenchmark.AuditDescription, MemoryBenchmark.RunAudit),
        ["pipeline-memory"] = (MemoryBenchmark.PipelineDescription, MemoryBenchmark.RunPipeline),
        ["fold-latency"] = (LatencyCases.SharedDescription,
            context => LatencyComparison.Run(context, $"fold latency: {LatencyCases.SharedDescription}", LatencyCases.SharedModels())),
        ["merge"] = (LatencyCases.BuilderDescription,
            context => LatencyComparison.Run(context, $"merge benchmark: {LatencyCases.BuilderDescription}", LatencyCases.MergeBenchmark(context.WorkDirectory))),
        ["merge-profile"] = (MergeProfileBenchmark.Description, MergeProfileBenchmark.Run),
        ["runtime-cost"] = (RuntimeCostBenchmark.Description, RuntimeCostBenchmark.Run),
    };

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" || !Benchmarks.TryGetValue(args[0], out var benchmark))
        {
            if (args.Length > 0 && args[0] is not ("-h" or "--help")) stderr.WriteLine($"unknown benchmark '{args[0]}'");
            stderr.WriteLine("usage: dotnet run -c Release --project tests/OnnxConvTool.Benchmarks -- NAME [options]");
            stderr.WriteLine();
            foreach (var (name, (description, _)) in Benchmarks) stderr.WriteLine($"  {name,-10} {description}");
            stderr.WriteLine();
            stderr.WriteLine(BenchmarkContext.OptionsHelp);
            return args.Length == 0 || args[0] is "-h" or "--help" ? 0 : 2;
        }
        BenchmarkContext context;
        try
        {
            context = BenchmarkContext.Parse(args[1..], stdout, stderr);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine(e.Message);
            stderr.WriteLine(BenchmarkContext.OptionsHelp);
            return 2;
        }
        return benchmark.Run(context);
    }
}
