using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxConvTool.Analysis;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// What <c>optimize</c> did: per rule how often it applied and the largest deviation of what it folded, what the
/// clean-up removed, the conversion, op counts, MACs and parameters before and after, the verdict; with
/// <c>--explain</c>, every candidate that was not fused and why.
/// </summary>
internal sealed record OptimizeSummary(
    string Input,
    string Output,
    IReadOnlyList<string> RulesRun,
    RewriteTarget? Convert,
    PipelineResult Run,
    bool VerificationSkipped,
    bool Explain)
{
    private sealed record RuleLine(string Id, int Applied, double? DeviationUlps);

    private sealed record OpChange(string Op, int Before, int After);

    private IEnumerable<CandidateOutcome> FoldOutcomes =>
        Run.Transform.Stages.Where(s => s.Name != RuleCatalog.ConvertSet && s.Rewrite is not null).SelectMany(s => s.Rewrite!.Outcomes);

    private RewriteResult? ConvertResult => Run.Transform.Stages.FirstOrDefault(s => s.Name == RuleCatalog.ConvertSet)?.Rewrite;

    private IReadOnlyList<RuleLine> Rules
    {
        get
        {
            var applied = FoldOutcomes.Where(o => o.Status == CandidateStatus.Applied).ToLookup(o => o.RuleId, StringComparer.Ordinal);
            return RulesRun.Select(id => new RuleLine(id, applied[id].Count(), applied[id].Max(o => o.DeviationUlps))).ToArray();
        }
    }

    /// <summary>The largest deviation any applied rule reported, or null when none reported one.</summary>
    private double? Deviation => FoldOutcomes.Where(o => o.Status == CandidateStatus.Applied).Max(o => o.DeviationUlps);

    private IReadOnlyDictionary<string, int> Removed =>
        Run.Transform.Stages.Where(s => s.Passes is not null).SelectMany(s => s.Passes!.RemovedByPass)
            .GroupBy(p => p.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(p => p.Value), StringComparer.Ordinal);

    /// <summary>Every applied merge with its sentence (what it made, MACs and parameters before and after).</summary>
    private IReadOnlyList<CandidateOutcome> Merges =>
        Run.Transform.Stages.Where(s => s.Name == RuleCatalog.MergeSet && s.Rewrite is not null).SelectMany(s => s.Rewrite!.Outcomes)
            .Where(o => o.Status == CandidateStatus.Applied).ToArray();

    private IReadOnlyList<CandidateOutcome> NotFused => FoldOutcomes.Where(o => o.Status != CandidateStatus.Applied).ToArray();

    /// <summary>Every op type of the model before or after, by name, with its counts.</summary>
    private IReadOnlyList<OpChange> OpCounts
    {
        get
        {
            var before = Run.Before!.OpTypes;
            var after = Run.After!.OpTypes;
            return before.Keys.Concat(after.Keys).Distinct(StringComparer.Ordinal)
                .Select(op => new OpChange(op, before.GetValueOrDefault(op), after.GetValueOrDefault(op)))
                .OrderBy(c => c.Op, StringComparer.Ordinal).ToArray();
        }
    }

    private IReadOnlyList<OpChange> OpChanges => OpCounts.Where(c => c.Before != c.After).ToArray();

    private string VerificationLine => Run.Verification is not null ? Run.Verification.Summary
        : VerificationSkipped ? "skipped (--no-verify)"
        : "not needed: nothing changed";

    private static string Ulps(double? ulps) => ulps is { } u ? u.ToString("0.##", CultureInfo.InvariantCulture) + " ULP" : "n/a";

    private static string Count(long? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "?";

    private string ConvertLine
    {
        get
        {
            var result = ConvertResult!;
            int kept = result.Outcomes.Count(o => o.Status != CandidateStatus.Applied);
            return $"--to {Convert.ToString()!.ToLowerInvariant()}: {result.AppliedCount} rewritten, {kept} kept";
        }
    }

    public string RenderText()
    {
        var text = new StringBuilder();
        text.Append("optimize: ").Append(Input).Append('\n');
        text.Append(RulesRun.Count == 0 ? "rules: none\n" : "rules:\n");
        foreach (var rule in Rules)
            text.Append($"  {rule.Id,-24} applied {rule.Applied,4}   max deviation {Ulps(rule.DeviationUlps)}\n");
        if (Merges.Count > 0) text.Append("merges:\n");
        foreach (var o in Merges) text.Append($"  {o.RuleId} {Where(o)}: {o.Detail}\n");
        text.Append("clean-up: ").Append(string.Join(", ", Removed.Select(p => $"{p.Key} {p.Value}"))).Append('\n');
        if (ConvertResult is not null) text.Append(ConvertLine).Append('\n');
        var before = Run.Before!;
        var after = Run.After!;
        text.Append($"nodes: {before.Nodes} -> {after.Nodes}\n");
        foreach (var change in OpChanges) text.Append($"  {change.Op,-24} {change.Before,6} -> {change.After}\n");
        text.Append($"MACs: {Count(before.Conv1x1.Macs)} -> {Count(after.Conv1x1.Macs)}")
            .Append(before.Conv1x1.Macs is null || after.Conv1x1.Macs is null ? " (input dims are free: fix them with --shape)\n" : "\n");
        text.Append($"parameters: {Count(before.Parameters.Elements)} -> {Count(after.Parameters.Elements)}\n");
        text.Append("float64 deviation of folded values: ").Append(Ulps(Deviation)).Append('\n');
        if (Explain)
        {
            text.Append($"not fused: {NotFused.Count}\n");
            foreach (var o in NotFused) text.Append($"  {o.RuleId} {Where(o)}: {o.Detail}\n");
        }
        text.Append("verification: ").Append(VerificationLine).Append('\n');
        text.Append(Run.Written ? $"wrote {Output}\n" : "nothing written\n");
        text.Append($"time: optimize {Run.TransformTime.TotalSeconds:F2} s, verify {Run.VerifyTime.TotalSeconds:F2} s\n");
        if (Run.Verification is { Equivalent: false }) text.Append('\n').Append(Run.Verification.RenderText());
        return text.ToString();
    }

    public string RenderMarkdown()
    {
        var text = new StringBuilder();
        text.Append($"## optimize: `{Input}`\n\n| rule | applied | max deviation |\n|---|---:|---:|\n");
        foreach (var rule in Rules) text.Append($"| {rule.Id} | {rule.Applied} | {Ulps(rule.DeviationUlps)} |\n");
        if (Merges.Count > 0)
        {
            text.Append("\n| merge | node | result |\n|---|---|---|\n");
            foreach (var o in Merges) text.Append($"| {o.RuleId} | `{Where(o)}` | {o.Detail.Replace("|", "\\|")} |\n");
        }
        text.Append("\n- clean-up: ").Append(string.Join(", ", Removed.Select(p => $"{p.Key} {p.Value}"))).Append('\n');
        if (ConvertResult is not null) text.Append("- ").Append(ConvertLine).Append('\n');
        var before = Run.Before!;
        var after = Run.After!;
        text.Append($"\n| | before | after |\n|---|---:|---:|\n| nodes | {before.Nodes} | {after.Nodes} |\n");
        foreach (var change in OpChanges) text.Append($"| {change.Op} | {change.Before} | {change.After} |\n");
        text.Append($"| MACs | {Count(before.Conv1x1.Macs)} | {Count(after.Conv1x1.Macs)} |\n");
        text.Append($"| parameters | {Count(before.Parameters.Elements)} | {Count(after.Parameters.Elements)} |\n");
        text.Append($"\nfloat64 deviation of folded values: {Ulps(Deviation)}\n");
        if (Explain)
        {
            text.Append($"\n### not fused ({NotFused.Count})\n\n| rule | graph | node | reason |\n|---|---|---|---|\n");
            foreach (var o in NotFused) text.Append($"| {o.RuleId} | {o.GraphPath} | `{o.NodeName}` | {o.Detail.Replace("|", "\\|")} |\n");
        }
        text.Append($"\nverification: {VerificationLine}\n\n{(Run.Written ? $"wrote `{Output}`" : "nothing written")}\n");
        return text.ToString();
    }

    /// <summary>One self-contained page: the run, before/after figures and op counts, the per-rule table, merges, and with --explain what was not fused.</summary>
    public string RenderHtml()
    {
        var before = Run.Before!;
        var after = Run.After!;
        var page = new HtmlPage($"optimize: {Input}");
        page.Heading(1, $"optimize: {Input}");
        var facts = new List<(string, string)>
        {
            ("input", Input),
            ("output", Run.Written ? $"{Output} (written)" : $"{Output} (nothing written)"),
            ("verification", VerificationLine),
        };
        if (ConvertResult is not null) facts.Add(("conversion", ConvertLine));
        facts.Add(("clean-up removed", Removed.Count > 0 ? string.Join(", ", Removed.Select(p => $"{p.Key} {p.Value}")) : "nothing"));
        facts.Add(("float64 deviation of folded values", Ulps(Deviation)));
        facts.Add(("time", $"optimize {Run.TransformTime.TotalSeconds:F2} s, verify {Run.VerifyTime.TotalSeconds:F2} s"));
        page.Facts(facts);

        page.Heading(2, "Before and after");
        var figures = new List<HtmlRow>
        {
            BeforeAfterRow("nodes", before.Nodes, after.Nodes),
            BeforeAfterRow("MACs", before.Conv1x1.Macs, after.Conv1x1.Macs),
            BeforeAfterRow("parameters", before.Parameters.Elements, after.Parameters.Elements),
        };
        page.Table(new HtmlTable([new("figure"), new("before", true), new("after", true), new("change", true)], figures, "figures"));
        if (before.Conv1x1.Macs is null || after.Conv1x1.Macs is null) page.Paragraph("MACs are unknown while input dims are free: fix them with --shape.");

        page.Heading(2, "Op counts");
        var ops = OpCounts.Select(c => BeforeAfterRow(c.Op, c.Before, c.After)).ToArray();
        page.Table(new HtmlTable([new("op"), new("before", true), new("after", true), new("change", true)], ops, "ops"));

        page.Heading(2, "Rules");
        if (Rules.Count == 0) page.Paragraph("No rules ran.");
        else
            page.Table(new HtmlTable([new("rule"), new("applied", true), new("max deviation", true)],
                Rules.Select(r => new HtmlRow([r.Id, new HtmlCell(r.Applied.ToString(CultureInfo.InvariantCulture), r.Applied), new HtmlCell(Ulps(r.DeviationUlps), r.DeviationUlps)])).ToArray(),
                "rules"));
        if (Merges.Count > 0)
        {
            page.Heading(2, $"Merges ({Merges.Count})");
            page.Table(new HtmlTable([new("rule"), new("graph"), new("node"), new("result", Prose: true)],
                Merges.Select(o => new HtmlRow([o.RuleId, o.GraphPath, NodeCell(o.NodeName), o.Detail])).ToArray(), "merges"));
        }
        if (Explain)
        {
            page.Heading(2, $"Not fused ({NotFused.Count})");
            page.Table(new HtmlTable([new("rule"), new("graph"), new("node"), new("op"), new("reason", Prose: true)],
                NotFused.Select(o => new HtmlRow([o.RuleId, o.GraphPath, NodeCell(o.NodeName), o.OpType, o.Detail])).ToArray(), "not-fused"));
        }
        if (Run.Verification is { Equivalent: false }) page.Heading(2, "Verification").Preformatted(Run.Verification.RenderText());
        return page.Render();
    }

    private static HtmlCell NodeCell(string name) => new(name, Html: "<code>" + HtmlPage.Escape(name) + "</code>");

    private static HtmlRow BeforeAfterRow(string label, long? before, long? after)
    {
        long? change = before is { } b && after is { } a ? a - b : null;
        string changeText = change switch
        {
            null => "?",
            0 => "",
            > 0 => "+" + Count(change),
            _ => Count(change),
        };
        return new HtmlRow([label, new HtmlCell(Count(before), before), new HtmlCell(Count(after), after), new HtmlCell(changeText, change)],
            Class: change is not 0 ? "changed" : null);
    }

    public string RenderJson()
    {
        var rules = new JsonArray();
        foreach (var rule in Rules)
            rules.Add((JsonNode)new JsonObject { ["id"] = rule.Id, ["applied"] = rule.Applied, ["maxDeviationUlps"] = rule.DeviationUlps });
        var merges = new JsonArray();
        foreach (var o in Merges)
            merges.Add((JsonNode)new JsonObject { ["rule"] = o.RuleId, ["graph"] = o.GraphPath, ["node"] = o.NodeName, ["result"] = o.Detail, ["maxDeviationUlps"] = o.DeviationUlps });
        var ops = new JsonObject();
        foreach (var change in OpChanges) ops[change.Op] = new JsonObject { ["before"] = change.Before, ["after"] = change.After };
        var before = Run.Before!;
        var after = Run.After!;
        var root = new JsonObject
        {
            ["input"] = Input,
            ["output"] = Output,
            ["rules"] = rules,
            ["merges"] = merges,
            ["removed"] = new JsonObject(Removed.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["convert"] = ConvertResult is { } convert
                ? new JsonObject { ["to"] = Convert.ToString()!.ToLowerInvariant(), ["applied"] = convert.AppliedCount, ["kept"] = convert.Outcomes.Count - convert.AppliedCount }
                : null,
            ["nodes"] = new JsonObject { ["before"] = before.Nodes, ["after"] = after.Nodes },
            ["opsChanged"] = ops,
            ["macs"] = new JsonObject { ["before"] = before.Conv1x1.Macs, ["after"] = after.Conv1x1.Macs },
            ["parameters"] = new JsonObject { ["before"] = before.Parameters.Elements, ["after"] = after.Parameters.Elements },
            ["maxDeviationUlps"] = Deviation,
            ["createdNodes"] = Run.Transform.CreatedNodes.Count,
            ["written"] = Run.Written,
            ["verification"] = Run.Verification is not null ? JsonNode.Parse(Run.Verification.RenderJson())
                : new JsonObject { ["skipped"] = true, ["why"] = VerificationLine },
            ["seconds"] = new JsonObject { ["optimize"] = Math.Round(Run.TransformTime.TotalSeconds, 3), ["verify"] = Math.Round(Run.VerifyTime.TotalSeconds, 3) },
        };
        if (Explain)
        {
            var notFused = new JsonArray();
            foreach (var o in NotFused)
                notFused.Add((JsonNode)new JsonObject { ["rule"] = o.RuleId, ["graph"] = o.GraphPath, ["node"] = o.NodeName, ["op"] = o.OpType, ["reason"] = o.Detail });
            root["notFused"] = notFused;
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string Where(CandidateOutcome o) => (o.GraphPath == "main" ? "" : o.GraphPath + " ") + o.NodeName;
}
