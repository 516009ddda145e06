using System.Text;
using System.Text.Json;

namespace OnnxConvTool.Verification;

public sealed partial class VerificationReport
{
    private string ToleranceText => "|a-b| <= atol + rtol*max(|a|, " + Format.Number(TensorComparer.ScaleFloor) + "*rms(a)); " + (Rtol is null && Atol is null
        ? "by element type (float32 rtol 1e-4 atol 1e-5; float16 1e-2/1e-3; bfloat16 2e-2/1e-2; float64 1e-10/1e-12); integers and bool exact"
        : $"rtol {(Rtol is { } r ? Format.Number(r) : "default")}, atol {(Atol is { } a ? Format.Number(a) : "default")}; integers and bool exact");

    /// <summary>The report as the text of <c>onnxconv verify</c>.</summary>
    public string RenderText()
    {
        var text = new StringBuilder();
        text.Append("verify: ").Append(Reference).Append(" vs ").Append(Candidate).Append('\n');
        text.Append("engine: ").Append(Engine).Append('\n');
        text.Append("tolerance: ").Append(ToleranceText).Append('\n');
        foreach (var trial in Trials)
        {
            text.Append('\n').Append(TrialHeading(trial)).Append('\n');
            var inputs = new TextTable("  input", "type", "shape", "data");
            foreach (var input in trial.Inputs) inputs.Add("  " + input.Name, input.ElementType, Format.Shape(input.Shape), input.Source);
            inputs.AppendTo(text);
            foreach (string fallback in trial.Fallbacks) text.Append("  fallback: ").Append(fallback).Append('\n');
            if (trial.CandidateFailure is not null) text.Append("  candidate failed: ").Append(trial.CandidateFailure).Append('\n');
            AppendComparisons(text, "  output", trial.Outputs);
            if (trial.PreActivations.Count > 0) AppendComparisons(text, "  activation input", trial.PreActivations);
            if (trial.StoredOutputs.Count > 0) AppendComparisons(text, "  reference vs stored", trial.StoredOutputs);
        }
        if (Localization is { } localization) text.Append('\n').Append("localize: ").Append(LocalizationText(localization)).Append('\n');
        if (Coverage is { } coverage) text.Append('\n').Append("coverage: ").Append(CoverageLine(coverage)).Append('\n');
        if (Notes.Count > 0 || Problems.Count > 1) text.Append('\n');
        foreach (string note in Notes) text.Append("note: ").Append(note).Append('\n');
        if (Problems.Count > 1)
            foreach (string problem in Problems) text.Append("problem: ").Append(problem).Append('\n');
        text.Append('\n').Append("result: ").Append(Summary).Append('\n');
        return text.ToString();
    }

    private static string TrialHeading(TrialResult trial)
    {
        string dims = trial.FreeDims.Count > 0 ? "; free dims " + string.Join(", ", trial.FreeDims.Select(d => $"{d.Key}={d.Value}")) : "";
        return $"trial {trial.Number} ({trial.Source}{dims})";
    }

    private static void AppendComparisons(StringBuilder text, string heading, IReadOnlyList<OutputComparison> comparisons)
    {
        var table = new TextTable(heading, "type", "shape", "max abs", "max rel", "mean abs", "outside", "nan/inf", "atol needed", "verdict");
        foreach (var c in comparisons)
        {
            string name = "  " + c.Name + (c.CandidateName is { } other ? $" -> {other}" : "");
            if (c.Problem is not null)
            {
                table.Add(name, c.ReferenceType, Format.Shape(c.ReferenceShape), "", "", "", "", "", "", c.Problem);
                continue;
            }
            table.Add(name, c.ReferenceType, Format.Shape(c.ReferenceShape), Format.Number(c.MaxAbsError), Format.Number(c.MaxRelError),
                Format.Number(c.MeanAbsError), $"{c.Mismatches}/{c.Elements}", c.NanInfMismatches.ToString(),
                c.SmallestPassingAtol is { } atol ? Format.Number(atol) : "none", c.Passed ? "ok" : "DIFFERENT");
        }
        table.AppendTo(text);
    }

    private static string CoverageLine(CoverageResult coverage) =>
        $"{coverage.Ran} of {Plural(coverage.Tracked, "rewritten node")} ran in at least one trial"
        + (coverage.NeverRan.Count > 0 ? $"; never ran: {string.Join(", ", coverage.NeverRan)}" : "");

    private static string LocalizationText(LocalizationResult result)
    {
        if (result.Failure is not null) return $"could not localize (trial {result.Trial}): {result.Failure}";
        if (result.FirstDivergence is not { } first)
            return $"{Plural(result.Compared, "shared intermediate")} compared on trial {result.Trial}; none diverges";
        string where = first.CandidateName is { } other ? $"'{first.Name}' (candidate '{other}')" : $"'{first.Name}'";
        return $"first divergence at {where}{(result.Producer is { } p ? $", produced by {p}" : "")}: {TrialComparison.DescribeMismatch(first)}; "
            + $"{result.Diverged} of {Plural(result.Compared, "shared intermediate")} diverge on trial {result.Trial}";
    }

    /// <summary>The report as the markdown of <c>onnxconv verify --format markdown</c>.</summary>
    public string RenderMarkdown()
    {
        var md = new StringBuilder();
        md.Append("## verify: `").Append(Reference).Append("` vs `").Append(Candidate).Append("`\n\n");
        md.Append("**").Append(Summary).Append("**\n\n");
        md.Append("- engine: ").Append(Engine).Append('\n');
        md.Append("- tolerance: ").Append(ToleranceText).Append('\n');
        foreach (string note in Notes) md.Append("- note: ").Append(note).Append('\n');
        foreach (string problem in Problems) md.Append("- problem: ").Append(problem).Append('\n');
        if (Localization is { } localization) md.Append("- localize: ").Append(LocalizationText(localization)).Append('\n');
        if (Coverage is { } coverage) md.Append("- coverage: ").Append(CoverageLine(coverage)).Append('\n');
        foreach (var trial in Trials)
        {
            md.Append("\n### ").Append(TrialHeading(trial)).Append("\n\n");
            md.Append("| input | type | shape | data |\n|---|---|---|---|\n");
            foreach (var input in trial.Inputs)
                md.Append($"| `{input.Name}` | {input.ElementType} | {Format.Shape(input.Shape)} | {input.Source} |\n");
            foreach (string fallback in trial.Fallbacks) md.Append("\nfallback: ").Append(fallback).Append('\n');
            if (trial.CandidateFailure is not null) md.Append("\ncandidate failed: ").Append(trial.CandidateFailure).Append('\n');
            AppendMarkdownComparisons(md, "output", trial.Outputs);
            if (trial.PreActivations.Count > 0) AppendMarkdownComparisons(md, "activation input", trial.PreActivations);
            if (trial.StoredOutputs.Count > 0) AppendMarkdownComparisons(md, "reference vs stored", trial.StoredOutputs);
        }
        return md.ToString();
    }

    private static void AppendMarkdownComparisons(StringBuilder md, string heading, IReadOnlyList<OutputComparison> comparisons)
    {
        md.Append($"\n| {heading} | type | shape | max abs | max rel | mean abs | outside | nan/inf | atol needed | verdict |\n");
        md.Append("|---|---|---|---:|---:|---:|---:|---:|---:|---|\n");
        foreach (var c in comparisons)
        {
            string name = $"`{c.Name}`" + (c.CandidateName is { } other ? $" → `{other}`" : "");
            md.Append(c.Problem is not null
                ? $"| {name} | {c.ReferenceType} | {Format.Shape(c.ReferenceShape)} | | | | | | | {c.Problem} |\n"
                : $"| {name} | {c.ReferenceType} | {Format.Shape(c.ReferenceShape)} | {Format.Number(c.MaxAbsError)} | {Format.Number(c.MaxRelError)} | "
                  + $"{Format.Number(c.MeanAbsError)} | {c.Mismatches}/{c.Elements} | {c.NanInfMismatches} | {(c.SmallestPassingAtol is { } a ? Format.Number(a) : "none")} | {(c.Passed ? "ok" : "**different**")} |\n");
        }
    }

    /// <summary>The report as JSON (documented in the README); non-finite numbers are written as null.</summary>
    public string RenderJson()
    {
        return ReportJson.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("reference", Reference);
            json.WriteString("candidate", Candidate);
            json.WriteString("verdict", Verdict);
            json.WriteBoolean("equivalent", Equivalent);
            json.WriteNumber("exitCode", (int)ExitCode);
            json.WriteString("summary", Summary);
            json.WriteString("engine", Engine);
            json.WriteNumber("seed", Seed);
            WriteNullableNumber(json, "rtol", Rtol);
            WriteNullableNumber(json, "atol", Atol);
            json.WriteNumber("comparedElements", ComparedElements);
            WriteStrings(json, "problems", Problems);
            WriteStrings(json, "notes", Notes);
            json.WriteStartArray("trials");
            foreach (var trial in Trials)
            {
                json.WriteStartObject();
                json.WriteNumber("trial", trial.Number);
                json.WriteString("source", trial.Source);
                json.WriteStartObject("freeDims");
                foreach (var (key, value) in trial.FreeDims) json.WriteNumber(key, value);
                json.WriteEndObject();
                WriteStrings(json, "fallbacks", trial.Fallbacks);
                ReportJson.WriteInputs(json, trial.Inputs);
                WriteComparisons(json, "outputs", trial.Outputs);
                WriteComparisons(json, "preActivations", trial.PreActivations);
                WriteComparisons(json, "storedOutputs", trial.StoredOutputs);
                if (trial.CandidateFailure is null) json.WriteNull("candidateFailure");
                else json.WriteString("candidateFailure", trial.CandidateFailure);
                json.WriteBoolean("passed", trial.Passed);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            WriteCoverage(json, Coverage);
            if (Localization is not { } localization)
            {
                json.WriteNull("localize");
            }
            else
            {
                json.WriteStartObject("localize");
                json.WriteNumber("trial", localization.Trial);
                json.WriteNumber("compared", localization.Compared);
                json.WriteNumber("diverged", localization.Diverged);
                if (localization.FirstDivergence is { } first)
                {
                    json.WritePropertyName("firstDivergence");
                    WriteComparison(json, first);
                }
                else
                {
                    json.WriteNull("firstDivergence");
                }
                WriteNullableString(json, "producer", localization.Producer);
                WriteNullableString(json, "failure", localization.Failure);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        });
    }

    private static void WriteCoverage(Utf8JsonWriter json, CoverageResult? coverage)
    {
        if (coverage is null)
        {
            json.WriteNull("coverage");
            return;
        }
        json.WriteStartObject("coverage");
        json.WriteNumber("tracked", coverage.Tracked);
        json.WriteNumber("ran", coverage.Ran);
        WriteStrings(json, "neverRan", coverage.NeverRan);
        json.WriteEndObject();
    }

    private static void WriteComparisons(Utf8JsonWriter json, string name, IReadOnlyList<OutputComparison> comparisons)
    {
        json.WriteStartArray(name);
        foreach (var c in comparisons) WriteComparison(json, c);
        json.WriteEndArray();
    }

    private static void WriteComparison(Utf8JsonWriter json, OutputComparison c)
    {
        json.WriteStartObject();
        json.WriteString("name", c.Name);
        WriteNullableString(json, "candidateName", c.CandidateName);
        WriteNullableString(json, "role", c.Role);
        json.WriteString("type", c.ReferenceType);
        WriteNullableString(json, "candidateType", c.CandidateType);
        WriteShape(json, "shape", c.ReferenceShape);
        if (c.CandidateShape is null) json.WriteNull("candidateShape");
        else WriteShape(json, "candidateShape", c.CandidateShape);
        json.WriteNumber("elements", c.Elements);
        json.WriteNumber("finiteElements", c.FiniteElements);
        WriteNullableNumber(json, "rtol", c.Rtol);
        WriteNullableNumber(json, "atol", c.Atol);
        json.WriteNumber("scale", c.Scale);
        json.WriteNumber("propagatedAtol", c.PropagatedAtol);
        json.WriteBoolean("exact", c.Exact);
        bool compared = c.Problem is null;
        WriteNullableNumber(json, "maxAbsError", compared ? c.MaxAbsError : null);
        WriteNullableNumber(json, "maxRelError", compared ? c.MaxRelError : null);
        WriteNullableNumber(json, "meanAbsError", compared ? c.MeanAbsError : null);
        if (compared) json.WriteNumber("mismatches", c.Mismatches);
        else json.WriteNull("mismatches");
        if (compared) json.WriteNumber("nanInfMismatches", c.NanInfMismatches);
        else json.WriteNull("nanInfMismatches");
        WriteNullableNumber(json, "smallestPassingAtol", c.SmallestPassingAtol);
        json.WriteBoolean("passed", c.Passed);
        WriteNullableString(json, "problem", c.Problem);
        json.WriteEndObject();
    }

    private static void WriteShape(Utf8JsonWriter json, string name, IReadOnlyList<long> shape)
    {
        json.WriteStartArray(name);
        foreach (long d in shape) json.WriteNumberValue(d);
        json.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values) json.WriteStringValue(value);
        json.WriteEndArray();
    }

    private static void WriteNullableNumber(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v)) json.WriteNumber(name, v);
        else json.WriteNull(name);
    }

    private static void WriteNullableString(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) json.WriteNull(name);
        else json.WriteString(name, value);
    }
}

/// <summary>Left-aligned text columns padded to their widest cell.</summary>
internal sealed class TextTable(params string[] headings)
{
    private readonly List<string[]> _rows = [headings];

    public void Add(params string[] cells) => _rows.Add(cells);

    public void AppendTo(StringBuilder text)
    {
        int columns = _rows.Max(r => r.Length);
        var widths = new int[columns];
        foreach (var row in _rows)
            for (int i = 0; i < row.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        foreach (var row in _rows)
        {
            var line = new StringBuilder();
            for (int i = 0; i < row.Length; i++)
            {
                line.Append(row[i]);
                if (i < row.Length - 1) line.Append(' ', widths[i] - row[i].Length + 2);
            }
            text.Append(line.ToString().TrimEnd()).Append('\n');
        }
    }
}
