namespace OnnxConvTool.Verification;

/// <summary>Kernel time of one operator type in a profiled model: per run, its share of all kernel time, and how many nodes ran it.</summary>
internal sealed record OperatorTime(string OpType, double MsPerRun, double Share, int Nodes);

/// <summary>
/// Where a model's time goes, from ONNX Runtime's profiler: kernel time summed per operator type over the
/// profiled runs, slowest first. Time outside kernels (input copies, the executor's bookkeeping) is not counted.
/// </summary>
internal sealed record OperatorProfile(int Runs, double KernelMsPerRun, IReadOnlyList<OperatorTime> Operators)
{
    /// <summary>Operator types shown in text and markdown reports (JSON lists all).</summary>
    public const int Shown = 10;

    /// <summary>
    /// The profile ONNX Runtime wrote for a session, leaving out its first <paramref name="warmupRuns"/> runs
    /// (the first run of a session allocates its buffers and is much slower than the rest).
    /// </summary>
    internal static OperatorProfile Parse(Stream profile, int warmupRuns)
    {
        var events = ProfileEvents.Read(profile);
        int runs = events.RunStartsUs.Count - warmupRuns;
        if (runs < 1) throw new InvalidDataException($"the profile holds {events.RunStartsUs.Count} runs, {warmupRuns} of them warm-up");
        double firstTimed = events.RunStartsUs[warmupRuns];
        var kernels = events.Kernels.Where(k => k.StartUs >= firstTimed).ToList();
        double totalUs = kernels.Sum(k => k.DurationUs);
        var operators = kernels.GroupBy(k => k.OpType, StringComparer.Ordinal)
            .Select(g => new OperatorTime(g.Key, g.Sum(k => k.DurationUs) / 1000 / runs, totalUs > 0 ? g.Sum(k => k.DurationUs) / totalUs : 0,
                g.Select(k => k.Node).Distinct(StringComparer.Ordinal).Count()))
            .OrderByDescending(o => o.MsPerRun).ThenBy(o => o.OpType, StringComparer.Ordinal)
            .ToList();
        return new OperatorProfile(runs, totalUs / 1000 / runs, operators);
    }
}
