using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OnnxConvTool.Verification;

/// <summary>
/// Latencies of one or two models and, for two, which one is faster: a verdict only when the 95 % interval of
/// the paired ratio MODEL2 ÷ MODEL1 lies wholly on one side of 1, with warnings when the runs spread too widely.
/// </summary>
internal sealed class BenchReport
{
    /// <summary>An interval wider than ±5 % around the ratio is too coarse for the small differences a rewrite makes.</summary>
    public const double WideInterval = 0.05;

    /// <summary>Runs whose p90 lies this far above their minimum (relative to the median) are too scattered to trust.</summary>
    public const double WideSpread = 0.5;

    public required string Engine { get; init; }
    public required int Warmup { get; init; }

    /// <summary>Intra-op threads (0: ONNX Runtime's default).</summary>
    public required int Threads { get; init; }

    public required IReadOnlyList<TrialInput> Inputs { get; init; }
    public required IReadOnlyList<LatencyStats> Models { get; init; }

    /// <summary>MODEL2 ÷ MODEL1 wall time from the paired runs (null with one model or one run).</summary>
    public PairedRatio? WallRatio { get; init; }

    /// <summary>MODEL2 ÷ MODEL1 calling-thread CPU time from the paired runs (null with one model, one run, or no thread CPU clock).</summary>
    public PairedRatio? ThreadCpuRatio { get; init; }

    /// <summary>
    /// True when the verdict uses the calling thread's CPU time: with one intra-op thread ONNX Runtime runs the whole
    /// graph on that thread, and CPU time ignores the time other processes take the core away. Otherwise wall time.
    /// </summary>
    public bool VerdictOnThreadCpu => Threads == 1 && ThreadCpuRatio is not null;

    /// <summary>"thread CPU" or "wall": the measure the verdict and the spread warnings use.</summary>
    public string Basis => VerdictOnThreadCpu ? "thread CPU" : "wall";

    /// <summary>The ratio the verdict is taken from.</summary>
    public PairedRatio? Ratio => VerdictOnThreadCpu ? ThreadCpuRatio : WallRatio;

    /// <summary>MODEL2's median wall latency over MODEL1's (null with one model).</summary>
    public double? MedianRatio => Models.Count == 2 ? Models[1].Wall.MedianMs / Models[0].Wall.MedianMs : null;

    /// <summary>MODEL2's best wall latency over MODEL1's (null with one model).</summary>
    public double? MinRatio => Models.Count == 2 ? Models[1].Wall.MinMs / Models[0].Wall.MinMs : null;

    /// <summary>"faster" or "slower" when the interval excludes 1, "no clear difference" when it contains it; null without a ratio.</summary>
    public string? Verdict => Ratio switch
    {
        null => null,
        { Upper: < 1 } => "faster",
        { Lower: > 1 } => "slower",
        _ => "no clear difference",
    };

    private (string First, string Second) Names()
    {
        string first = Path.GetFileName(Models[0].Model), second = Path.GetFileName(Models[1].Model);
        return first == second ? (Models[0].Model, Models[1].Model) : (first, second);
    }

    /// <summary>A plain sentence saying which model is faster and how sure that is (null with one model).</summary>
    public string? Conclusion
    {
        get
        {
            if (Models.Count != 2) return null;
            var (first, second) = Names();
            if (Ratio is not { } ratio) return $"no verdict: one timed run per model gives no interval for {second}/{first}";
            string interval = $"{Basis} ratio {second}/{first} {R(ratio.Ratio)} [{R(ratio.Lower)}, {R(ratio.Upper)}] (95% interval)";
            return Verdict switch
            {
                "faster" => $"{second} is faster: {interval}, {Pct(1 - ratio.Ratio)} less time",
                "slower" => $"{second} is slower: {interval}, {Pct(ratio.Ratio - 1)} more time",
                _ => $"no clear difference: {interval} contains 1",
            };
        }
    }

    /// <summary>Why the numbers may not support a conclusion: runs that scatter widely, or an interval too wide to resolve small differences.</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            var warnings = new List<string>();
            foreach (var model in Models)
            {
                var spread = VerdictOnThreadCpu ? model.ThreadCpu! : model.Wall;
                if (spread.Width > WideSpread)
                    warnings.Add($"{Path.GetFileName(model.Model)}'s runs spread widely ({Basis} p90 {Ms(spread.P90Ms)} ms vs min {Ms(spread.MinMs)} ms): the machine is busy or the model's run time varies");
            }
            if (Ratio is { } ratio && ratio.RelativeHalfWidth > WideInterval)
                warnings.Add($"the ratio's 95% interval [{R(ratio.Lower)}, {R(ratio.Upper)}] is wider than ±{Pct(WideInterval)}: too noisy to resolve small differences; use more --runs or a quieter machine");
            return warnings;
        }
    }

    private static string R(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);
    private static string Pct(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
    private static string Ms(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    private string RunsLine() =>
        $"{Warmup} warm-up runs, then {Models[0].Runs} timed runs per model{(Models.Count == 2 ? ", alternating between the models" : "")}";

    private static string InputText(TrialInput input) => $"{input.Name} {input.ElementType}{Format.Shape(input.Shape)}";

    public string RenderText()
    {
        var text = new StringBuilder();
        text.Append("bench: ").Append(Engine).Append('\n');
        text.Append("inputs: ").Append(string.Join(", ", Inputs.Select(InputText))).Append('\n');
        text.Append(RunsLine()).Append("\n\n");
        var table = new TextTable("model", "session ms", "wall min", "median", "p90", "mean", "thread CPU min", "median", "p90");
        foreach (var m in Models)
            table.Add(m.Model, Ms(m.SessionMs), Ms(m.Wall.MinMs), Ms(m.Wall.MedianMs), Ms(m.Wall.P90Ms), Ms(m.Wall.MeanMs),
                m.ThreadCpu is { } cpu ? Ms(cpu.MinMs) : "-", m.ThreadCpu is { } c2 ? Ms(c2.MedianMs) : "-", m.ThreadCpu is { } c3 ? Ms(c3.P90Ms) : "-");
        table.AppendTo(text);
        if (Models.Count == 2)
        {
            text.Append('\n');
            if (WallRatio is { } wall)
                text.Append($"ratio MODEL2/MODEL1 (geometric mean of the paired runs, 95% interval): wall {wall}")
                    .Append(ThreadCpuRatio is { } cpu ? $", thread CPU {cpu}" : "").Append('\n');
            text.Append("result: ").Append(Conclusion).Append('\n');
        }
        foreach (string warning in Warnings) text.Append("warning: ").Append(warning).Append('\n');
        foreach (var m in Models)
        {
            if (m.Profile is not { } profile) continue;
            text.Append($"\nprofile of {m.Model}: {Ms(profile.KernelMsPerRun)} ms kernel time per run over {profile.Runs} profiled runs\n");
            var ops = new TextTable("operator", "ms/run", "share", "nodes");
            foreach (var op in profile.Operators.Take(OperatorProfile.Shown)) ops.Add(op.OpType, Ms(op.MsPerRun), Pct(op.Share), op.Nodes.ToString(CultureInfo.InvariantCulture));
            ops.AppendTo(text);
        }
        return text.ToString();
    }

    public string RenderMarkdown()
    {
        var md = new StringBuilder();
        md.Append("## bench\n\n- engine: ").Append(Engine).Append('\n');
        md.Append("- inputs: ").Append(string.Join(", ", Inputs.Select(i => $"`{i.Name}` {i.ElementType}{Format.Shape(i.Shape)}"))).Append('\n');
        md.Append("- ").Append(RunsLine()).Append("\n\n");
        md.Append("| model | session ms | wall min | wall median | wall p90 | wall mean | thread CPU min | thread CPU median | thread CPU p90 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var m in Models)
        {
            string cpu = m.ThreadCpu is { } c ? $"{Ms(c.MinMs)} | {Ms(c.MedianMs)} | {Ms(c.P90Ms)}" : "- | - | -";
            md.Append($"| `{m.Model}` | {Ms(m.SessionMs)} | {Ms(m.Wall.MinMs)} | {Ms(m.Wall.MedianMs)} | {Ms(m.Wall.P90Ms)} | {Ms(m.Wall.MeanMs)} | {cpu} |\n");
        }
        if (Models.Count == 2)
        {
            md.Append('\n');
            if (WallRatio is { } wall)
                md.Append($"MODEL2/MODEL1, geometric mean of the paired runs with 95% interval: wall {wall}{(ThreadCpuRatio is { } cpu ? $", thread CPU {cpu}" : "")}.\n\n");
            md.Append($"**{Conclusion}**\n");
        }
        if (Warnings.Count > 0) md.Append('\n');
        foreach (string warning in Warnings) md.Append("- warning: ").Append(warning).Append('\n');
        foreach (var m in Models)
        {
            if (m.Profile is not { } profile) continue;
            md.Append($"\n### profile of `{m.Model}`\n\n{Ms(profile.KernelMsPerRun)} ms kernel time per run over {profile.Runs} profiled runs.\n\n");
            md.Append("| operator | ms/run | share | nodes |\n|---|---:|---:|---:|\n");
            foreach (var op in profile.Operators.Take(OperatorProfile.Shown)) md.Append($"| {op.OpType} | {Ms(op.MsPerRun)} | {Pct(op.Share)} | {op.Nodes} |\n");
        }
        return md.ToString();
    }

    public string RenderJson()
    {
        return ReportJson.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("engine", Engine);
            json.WriteNumber("threads", Threads);
            json.WriteNumber("warmup", Warmup);
            ReportJson.WriteInputs(json, Inputs);
            json.WriteStartArray("models");
            foreach (var m in Models)
            {
                json.WriteStartObject();
                json.WriteString("model", m.Model);
                json.WriteNumber("sessionMs", m.SessionMs);
                json.WriteNumber("runs", m.Runs);
                WriteSpread(json, m.Wall);
                json.WritePropertyName("threadCpu");
                if (m.ThreadCpu is { } cpu)
                {
                    json.WriteStartObject();
                    WriteSpread(json, cpu);
                    json.WriteEndObject();
                }
                else json.WriteNullValue();
                json.WritePropertyName("profile");
                if (m.Profile is { } profile)
                {
                    json.WriteStartObject();
                    json.WriteNumber("runs", profile.Runs);
                    json.WriteNumber("kernelMsPerRun", profile.KernelMsPerRun);
                    json.WriteStartArray("operators");
                    foreach (var op in profile.Operators)
                    {
                        json.WriteStartObject();
                        json.WriteString("opType", op.OpType);
                        json.WriteNumber("msPerRun", op.MsPerRun);
                        json.WriteNumber("share", op.Share);
                        json.WriteNumber("nodes", op.Nodes);
                        json.WriteEndObject();
                    }
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                else json.WriteNullValue();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            WriteNullableNumber(json, "medianRatio", MedianRatio);
            WriteNullableNumber(json, "minRatio", MinRatio);
            WriteRatio(json, "wallRatio", WallRatio);
            WriteRatio(json, "threadCpuRatio", ThreadCpuRatio);
            json.WriteString("basis", Basis);
            json.WriteString("verdict", Verdict);
            json.WriteString("conclusion", Conclusion);
            json.WriteStartArray("warnings");
            foreach (string warning in Warnings) json.WriteStringValue(warning);
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static void WriteSpread(Utf8JsonWriter json, Spread spread)
    {
        json.WriteNumber("minMs", spread.MinMs);
        json.WriteNumber("medianMs", spread.MedianMs);
        json.WriteNumber("p90Ms", spread.P90Ms);
        json.WriteNumber("meanMs", spread.MeanMs);
    }

    private static void WriteNullableNumber(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } number) json.WriteNumber(name, number);
        else json.WriteNull(name);
    }

    private static void WriteRatio(Utf8JsonWriter json, string name, PairedRatio? ratio)
    {
        json.WritePropertyName(name);
        if (ratio is null)
        {
            json.WriteNullValue();
            return;
        }
        json.WriteStartObject();
        json.WriteNumber("ratio", ratio.Ratio);
        json.WriteNumber("lower", ratio.Lower);
        json.WriteNumber("upper", ratio.Upper);
        json.WriteNumber("pairs", ratio.Pairs);
        json.WriteEndObject();
    }
}
