using System.Globalization;
using System.Text;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Analysis;

/// <summary>Renders an <see cref="AuditReport"/> as an aligned text table or a GitHub markdown table, with totals.</summary>
public static class AuditFormatter
{
    internal static readonly string[] BaseHeaders =
        ["node", "graph", "conv", "C→M", "group", "strides", "pads", "input", "output", "MACs", "share", "params", "weight", "rank", "role"];

    private const string RewritesHeader = "rewrites";

    private const string FusionsHeader = "fusions";

    /// <summary>The columns: the base ones, plus which rewrite and fold rules apply when they were checked.</summary>
    private static string[] Headers(AuditReport report) =>
    [
        .. BaseHeaders,
        .. report.Conv1x1.Any(r => r.Rewrites is { Count: > 0 }) ? [RewritesHeader] : Array.Empty<string>(),
        .. report.Conv1x1.Any(r => r.Fusions is { Count: > 0 }) ? [FusionsHeader] : Array.Empty<string>(),
    ];

    /// <summary>Columns whose numbers read better right-aligned.</summary>
    internal static readonly HashSet<string> RightAligned = ["group", "MACs", "share", "params", "rank"];

    public static string Table(AuditReport report)
    {
        var text = new StringBuilder();
        text.Append(Title(report)).Append("\n\n");
        if (report.Conv1x1.Count > 0)
        {
            var headers = Headers(report);
            var rows = report.Conv1x1.Select(r => Cells(r, headers)).ToList();
            var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
            AppendAligned(text, headers, headers, widths);
            AppendAligned(text, headers, widths.Select(w => new string('-', w)).ToArray(), widths);
            foreach (var row in rows) AppendAligned(text, headers, row, widths);
            text.Append('\n');
        }
        foreach (var line in TotalLines(report)) text.Append(line).Append('\n');
        return text.ToString();
    }

    public static string Markdown(AuditReport report)
    {
        var text = new StringBuilder();
        text.Append("### ").Append(EscapeMarkdown(Title(report))).Append("\n\n");
        if (report.Conv1x1.Count > 0)
        {
            var headers = Headers(report);
            text.Append("| ").Append(string.Join(" | ", headers)).Append(" |\n");
            text.Append('|').Append(string.Join("|", headers.Select(h => RightAligned.Contains(h) ? "---:" : "---"))).Append("|\n");
            foreach (var row in report.Conv1x1)
                text.Append("| ").Append(string.Join(" | ", Cells(row, headers).Select(EscapeMarkdown))).Append(" |\n");
            text.Append('\n');
        }
        foreach (var line in TotalLines(report)) text.Append("- ").Append(EscapeMarkdown(line)).Append('\n');
        return text.ToString();
    }

    internal static string Title(AuditReport report) =>
        $"1x1 convolutions in {Path.GetFileName(report.Model)}: {report.Totals.Conv1x1} of {report.Totals.Conv} Conv (opset {report.Opset})";

    private static string[] Cells(Conv1x1Row row, string[] headers) =>
    [
        .. BaseCells(row),
        .. headers.Contains(RewritesHeader) ? [Applying(row.Rewrites, RewritePrefix)] : Array.Empty<string>(),
        .. headers.Contains(FusionsHeader) ? [Applying(row.Fusions)] : Array.Empty<string>(),
    ];

    /// <summary>Rewrite rule ids start with it; the column shows the forms (matmul, gemm), as <c>rewrite --to</c> names them.</summary>
    private const string RewritePrefix = "conv1x1-to-";

    /// <summary>The rules that apply to this conv (ids without <paramref name="prefix"/>), or "-".</summary>
    private static string Applying(IReadOnlyList<RewriteApplicability>? checks, string prefix = "") =>
        checks?.Where(f => f.Applies).Select(f => f.Rule.StartsWith(prefix, StringComparison.Ordinal) ? f.Rule[prefix.Length..] : f.Rule).ToArray()
            is { Length: > 0 } applying ? string.Join(",", applying) : "-";

    internal static string[] BaseCells(Conv1x1Row row) =>
    [
        row.Node,
        row.Graph,
        row.Kind,
        $"{Number(row.InChannels)}→{Number(row.OutChannels)}",
        row.Group.ToString(CultureInfo.InvariantCulture) + (row.Depthwise ? " dw" : ""),
        string.Join("x", row.Strides),
        row.AutoPad is "NOTSET" or "" ? (row.Pads.All(p => p == 0) ? "0" : string.Join(",", row.Pads)) : row.AutoPad,
        Spatial(row.InputSpatial),
        Spatial(row.OutputSpatial),
        row.Macs is { } macs ? Humanize.Count(macs) : "?",
        row.MacShare is { } share ? Percent(share) : "?",
        row.Params is { } p ? Humanize.Count(p) : "?",
        Conv1x1Audit.WeightSourceName(row.Weight),
        row.WeightRank is { } rank ? $"{rank}/{row.FullRank}" + (row.RankDeficient == true ? " deficient" : "") : "-",
        RoleCell(row),
    ];

    private static string RoleCell(Conv1x1Row row)
    {
        string name = Conv1x1Audit.RoleName(row.Role);
        if (row.ChannelRatio is not { } ratio) return name;
        return row.Role switch
        {
            Conv1x1Role.Reduction => $"{name} {Ratio(1 / ratio)}:1",
            Conv1x1Role.Expansion => $"{name} 1:{Ratio(ratio)}",
            Conv1x1Role.Scaling when row.Depthwise => $"{name} (depthwise)",
            _ => name,
        };
    }

    internal static IEnumerable<string> TotalLines(AuditReport report)
    {
        var t = report.Totals;
        yield return $"{t.Conv} Conv ({t.Conv1x1} with a 1x1 kernel), {t.ConvTranspose} ConvTranspose, {t.MatMul} MatMul, {t.Gemm} Gemm"
            + (t.ConvKernelUnknown > 0 ? $"; {t.ConvKernelUnknown} Conv with a kernel of unknown size" : "");
        if (t.Macs is { } macs)
            yield return $"MACs: {Humanize.Count(macs)} in Conv/ConvTranspose/MatMul/Gemm, {Humanize.Count(t.Conv1x1Macs ?? 0)} in 1x1 convolutions"
                + (t.Conv1x1MacShare is { } share ? $" ({Percent(share)})" : "");
        else
            yield return $"MACs: unknown for {t.MacOpsUnknown} of {t.Conv + t.ConvTranspose + t.MatMul + t.Gemm} ops (dynamic or symbolic dims); fix input dims with --shape NAME=d0,d1,..."
                + (t.Conv1x1Macs is { } known ? $"; 1x1 convolutions: {Humanize.Count(known)}" : "");
        if (t.Conv1x1Params is { } parameters) yield return $"parameters in 1x1 convolutions: {Humanize.Count(parameters)}";
        var roles = t.Roles.Where(r => r.Value > 0).Select(r => $"{r.Value} {r.Key}").ToList();
        if (roles.Count > 0) yield return "roles: " + string.Join(", ", roles);
        var deficient = report.Conv1x1.Where(r => r.RankDeficient == true).ToList();
        if (deficient.Count > 0)
            yield return $"rank-deficient weights: {deficient.Count} (" + string.Join(", ", deficient.Select(r => $"{r.Node}: rank {r.WeightRank} of {r.FullRank}")) + ")";
        if (report.UnsupportedShapeOps.Count > 0)
            yield return "shape inference does not cover " + string.Join(", ", report.UnsupportedShapeOps) + ": values computed after them have unknown shapes";
        if (report.AssumedBatchOne.Count > 0)
            yield return "batch taken as 1 for " + string.Join(", ", report.AssumedBatchOne) + " (MACs per example; --shape overrides)";
        if (report.BranchesNotTaken.Count > 0)
            yield return "If branches never taken (condition known), left out: " + string.Join(", ", report.BranchesNotTaken);
        if (report.ShapeOverrides.Count > 0)
            yield return "input dims fixed with --shape: " + string.Join(", ", report.ShapeOverrides.Select(o => $"{o.Key}=[{string.Join(",", o.Value)}]"));
    }

    private static void AppendAligned(StringBuilder text, string[] headers, IReadOnlyList<string> cells, int[] widths)
    {
        var line = new StringBuilder();
        for (int i = 0; i < cells.Count; i++)
        {
            if (i > 0) line.Append("  ");
            line.Append(RightAligned.Contains(headers[i]) ? cells[i].PadLeft(widths[i]) : cells[i].PadRight(widths[i]));
        }
        text.Append(line.ToString().TrimEnd()).Append('\n');
    }

    private static string Spatial(IReadOnlyList<Dim>? dims) => dims is null ? "?" : string.Join("x", dims);

    private static string Number(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "?";

    private static string Percent(double share) =>
        share is > 0 and < 0.0001 ? "<0.01%" : (share * 100).ToString(share >= 0.1 ? "0.0" : "0.00", CultureInfo.InvariantCulture) + "%";

    private static string Ratio(double ratio) => ratio.ToString("0.##", CultureInfo.InvariantCulture);

    private static string EscapeMarkdown(string cell) => cell.Replace("|", "\\|");
}
