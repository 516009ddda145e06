using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OnnxConvTool.Verification;

/// <summary>Latencies of one or two models and, for two, which one is faster according to the numbers.</summary>
public sealed class BenchReport
{
    /// <summary>Median ratios within this distance of 1 are reported as no clear difference.</summary>
    public const double NoiseBand = 0.02;

    public required string Engine { get; init; }
    public required int Warmup { get; init; }
    public required IReadOnlyList<TrialInput> Inputs { get; init; }
    public required IReadOnlyList<LatencyStats> Models { get; init; }

    /// <summary>MODEL2's median latency over MODEL1's (null with one model).</summary>
    public double? MedianRatio => Models.Count == 2 ? Models[1].MedianMs / Models[0].MedianMs : null;

    /// <summary>MODEL2's best latency over MODEL1's (null with one model).</summary>
    public double? MinRatio => Models.Count == 2 ? Models[1].MinMs / Models[0].MinMs : null;

    /// <summary>A plain sentence saying which model is faster, derived from the medians (null with one model).</summary>
    public string? Conclusion
    {
        get
        {
            if (MedianRatio is not { } ratio || MinRatio is not { } minRatio) return null;
            string first = Path.GetFileName(Models[0].Model), second = Path.GetFileName(Models[1].Model);
            if (first == second) (first, second) = (Models[0].Model, Models[1].Model);
            if (Math.Abs(ratio - 1) <= NoiseBand)
                return $"no clear difference: {second}'s median latency is within {Pct(NoiseBand)} of {first}'s ({R(ratio)}×)";
            bool faster = ratio < 1;
            string sentence = faster
                ? $"{second} is faster: its median latency is {R(ratio)}× {first}'s ({Pct(1 - ratio)} less)"
                : $"{second} is slower: its median latency is {R(ratio)}× {first}'s ({Pct(ratio - 1)} more)";
            if (faster != minRatio < 1)
                sentence += $"; the best runs point the other way ({R(minRatio)}×), so treat the difference as noise";
            return sentence;
        }
    }

    private static string R(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);
    private static string Pct(double fraction) => (fraction * 100).ToString("0", CultureInfo.InvariantCulture) + "%";
    private static string Ms(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    public string RenderText()
    {
        var text = new StringBuilder();
        text.Append("bench: ").Append(Engine).Append('\n');
        text.Append("inputs: ").Append(string.Join(", ", Inputs.Select(i => $"{i.Name} {i.ElementType}{Format.Shape(i.Shape)}"))).Append('\n');
        text.Append($"{Warmup} warm-up runs, then {Models[0].Runs} timed runs per model, alternating between models\n\n");
        var table = new TextTable("model", "session ms", "min ms", "median ms", "p90 ms", "mean ms");
        foreach (var m in Models) table.Add(m.Model, Ms(m.SessionMs), Ms(m.MinMs), Ms(m.MedianMs), Ms(m.P90Ms), Ms(m.MeanMs));
        table.AppendTo(text);
        if (MedianRatio is { } ratio)
        {
            text.Append($"\nratio MODEL2/MODEL1: median {R(ratio)}, min {R(MinRatio!.Value)}\n");
            text.Append("result: ").Append(Conclusion).Append('\n');
        }
        return text.ToString();
    }

    public string RenderMarkdown()
    {
        var md = new StringBuilder();
        md.Append("## bench\n\n- engine: ").Append(Engine).Append('\n');
        md.Append("- inputs: ").Append(string.Join(", ", Inputs.Select(i => $"`{i.Name}` {i.ElementType}{Format.Shape(i.Shape)}"))).Append('\n');
        md.Append($"- {Warmup} warm-up runs, then {Models[0].Runs} timed runs per model, alternating\n\n");
        md.Append("| model | session ms | min ms | median ms | p90 ms | mean ms |\n|---|---:|---:|---:|---:|---:|\n");
        foreach (var m in Models) md.Append($"| `{m.Model}` | {Ms(m.SessionMs)} | {Ms(m.MinMs)} | {Ms(m.MedianMs)} | {Ms(m.P90Ms)} | {Ms(m.MeanMs)} |\n");
        if (MedianRatio is { } ratio)
            md.Append($"\nMODEL2/MODEL1: median {R(ratio)}, min {R(MinRatio!.Value)}. **{Conclusion}**\n");
        return md.ToString();
    }

    public string RenderJson()
    {
        return ReportJson.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("engine", Engine);
            json.WriteNumber("warmup", Warmup);
            ReportJson.WriteInputs(json, Inputs);
            json.WriteStartArray("models");
            foreach (var m in Models)
            {
                json.WriteStartObject();
                json.WriteString("model", m.Model);
                json.WriteNumber("sessionMs", m.SessionMs);
                json.WriteNumber("runs", m.Runs);
                json.WriteNumber("minMs", m.MinMs);
                json.WriteNumber("medianMs", m.MedianMs);
                json.WriteNumber("p90Ms", m.P90Ms);
                json.WriteNumber("meanMs", m.MeanMs);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (MedianRatio is { } ratio)
            {
                json.WriteNumber("medianRatio", ratio);
                json.WriteNumber("minRatio", MinRatio!.Value);
                json.WriteString("conclusion", Conclusion);
            }
            else
            {
                json.WriteNull("medianRatio");
                json.WriteNull("minRatio");
                json.WriteNull("conclusion");
            }
            json.WriteEndObject();
        });
    }
}
