using System.Globalization;
using System.Text;

namespace OnnxConvTool.Analysis;

/// <summary>
/// Renders an <see cref="AuditReport"/> as one self-contained HTML page: the totals, a bar chart (SVG) of every
/// Conv/ConvTranspose/MatMul/Gemm's MACs in graph order with the 1x1 convolutions coloured by role, and a sortable
/// table of the 1x1 convolutions with the rewrites and fusions that apply to each, or why not.
/// </summary>
public static class AuditHtml
{
    /// <summary>Role colours, also used by the legend; readable on white and distinct for the common colour deficiencies.</summary>
    private static readonly IReadOnlyDictionary<Conv1x1Role, string> RoleColors = new Dictionary<Conv1x1Role, string>
    {
        [Conv1x1Role.Reduction] = "#0969da",
        [Conv1x1Role.Expansion] = "#d1242f",
        [Conv1x1Role.Mixing] = "#8250df",
        [Conv1x1Role.Scaling] = "#1a7f37",
        [Conv1x1Role.ProjectionHead] = "#bc4c00",
        [Conv1x1Role.Unknown] = "#4d2d00",
    };

    private const string OtherLayerColor = "#afb8c1";
    private const string UnknownMacsColor = "#eaeef2";

    /// <summary>A layer of unknown MACs gets a short outlined stub: present and hoverable, but claiming no size.</summary>
    private const double UnknownMacsHeight = 8;

    public static string Render(AuditReport report)
    {
        var page = new HtmlPage(AuditFormatter.Title(report));
        page.Heading(1, AuditFormatter.Title(report));
        page.Facts([("model", report.Model), ("opset", report.Opset.ToString(CultureInfo.InvariantCulture))]);
        page.List(AuditFormatter.TotalLines(report));
        page.Heading(2, $"MACs per layer, in graph order ({report.Layers.Count} Conv, ConvTranspose, MatMul and Gemm)");
        if (report.Layers.Count > 0) page.Markup(Chart(report)).Markup(Legend(report));
        else page.Paragraph("The model has no Conv, ConvTranspose, MatMul or Gemm.");
        page.Heading(2, $"1x1 convolutions ({report.Conv1x1.Count})");
        if (report.Conv1x1.Count > 0) page.Table(Table(report));
        else page.Paragraph("The model has no Conv with a 1x1 kernel.");
        return page.Render();
    }

    /// <summary>The id of a 1x1 convolution's table row, which its chart bar links to.</summary>
    private static string RowId(int index) => $"conv1x1-{index + 1}";

    private static string Chart(AuditReport report)
    {
        var layers = report.Layers;
        int n = layers.Count;
        // About 900 px of bars, each 2 to 30 px wide with a quarter of its step as gap; a long model scrolls sideways.
        double step = Math.Clamp(Math.Floor(900.0 / n), 3, 40), gap = Math.Max(1, Math.Floor(step / 4)), barWidth = step - gap;
        const double left = 64, right = 12, top = 12, plotHeight = 220, bottom = 28;
        double plotWidth = Math.Max(n * (barWidth + gap) + gap, 480);
        double width = left + plotWidth + right, height = top + plotHeight + bottom;
        long max = Math.Max(1, layers.Max(l => l.Macs ?? 0));
        // Four gridlines when the largest count allows distinct labels; none when no count is known.
        int ticks = layers.Any(l => l.Macs > 0) ? (max >= 4 ? 4 : 1) : 0;

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<div class=\"chart scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:0}\" height=\"{height:0}\" viewBox=\"0 0 {width:0} {height:0}\" role=\"img\" aria-label=\"MACs of each of {n} layers in graph order\">\n");
        for (int tick = 1; tick <= ticks; tick++)
        {
            double y = top + plotHeight - plotHeight * tick / ticks;
            string label = Humanize.Count((long)Math.Round(max / (double)ticks * tick));
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{left + plotWidth}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" stroke=\"#d0d7de\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{label}</text>\n");
        }
        int labelEvery = Math.Max(1, (int)Math.Ceiling(n / 20.0 / 5) * 5);
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"12\" y=\"{top + plotHeight / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 12 {top + plotHeight / 2})\">MACs</text>\n");
        svg.Append("<g class=\"bars\">\n");
        for (int i = 0; i < n; i++)
        {
            var layer = layers[i];
            var row = layer.Conv1x1Index is { } k ? report.Conv1x1[k] : null;
            double x = left + gap + i * (barWidth + gap);
            double barHeight = layer.Macs is { } macs ? Math.Max(macs > 0 ? 1 : 0, plotHeight * macs / max) : UnknownMacsHeight;
            string fill = layer.Macs is null ? UnknownMacsColor : row is not null ? RoleColors[row.Role] : OtherLayerColor;
            string role = row is not null ? Conv1x1Audit.RoleName(row.Role) : "none";
            if (row is not null) svg.Append("<a href=\"#").Append(RowId(layer.Conv1x1Index!.Value)).Append("\">");
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect class=\"bar\" data-op=\"{HtmlPage.Escape(layer.OpType)}\" data-role=\"{role}\" x=\"{x:0.##}\" y=\"{top + plotHeight - barHeight:0.##}\" width=\"{barWidth}\" height=\"{barHeight:0.##}\" fill=\"{fill}\"");
            if (layer.Macs is null) svg.Append(" stroke=\"#8c959f\" stroke-dasharray=\"2 2\"");
            svg.Append("><title>").Append(HtmlPage.Escape(BarTitle(i, layer, row, report.Totals.Macs))).Append("</title></rect>");
            if (row is not null) svg.Append("</a>");
            svg.Append('\n');
            if ((i + 1) % labelEvery == 0 || (i == 0 && n < labelEvery))
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + barWidth / 2:0.##}\" y=\"{top + plotHeight + 14}\" text-anchor=\"middle\">{i + 1}</text>\n");
        }
        svg.Append("</g>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{left + plotWidth}\" y1=\"{top + plotHeight}\" y2=\"{top + plotHeight}\" stroke=\"#57606a\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{top + plotHeight + 4}\" text-anchor=\"end\">0</text>\n");
        if (ticks == 0)
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + 8}\" y=\"{top + plotHeight / 2}\">MACs unknown for every layer: fix the input dims with --shape</text>\n");
        svg.Append("</svg></div>");
        return svg.ToString();
    }

    private static string BarTitle(int index, LayerCost layer, Conv1x1Row? row, long? totalMacs)
    {
        string where = layer.Graph == "main" ? "" : $" in {layer.Graph}";
        string kind = row is not null ? $"1x1 {layer.OpType}, {Conv1x1Audit.RoleName(row.Role)}" : layer.OpType;
        string macs = layer.Macs is { } m
            ? m.ToString("N0", CultureInfo.InvariantCulture) + " MACs" + (totalMacs is > 0 ? $" ({(double)m / totalMacs.Value:P1})" : "")
            : "MACs unknown (a dim is dynamic or symbolic)";
        return $"#{index + 1} {layer.Node}{where}: {kind}: {macs}";
    }

    private static string Legend(AuditReport report)
    {
        var html = new StringBuilder("<ul class=\"legend\">");
        var roles = report.Conv1x1.Select(r => r.Role).ToHashSet();
        foreach (var (role, color) in RoleColors.Where(p => roles.Contains(p.Key)))
            html.Append(LegendItem(color, $"1x1 Conv: {Conv1x1Audit.RoleName(role)}"));
        if (report.Layers.Any(l => l.Conv1x1Index is null && l.Macs is not null)) html.Append(LegendItem(OtherLayerColor, "other layers"));
        if (report.Layers.Any(l => l.Macs is null)) html.Append(LegendItem(UnknownMacsColor, "MACs unknown (fix input dims with --shape)"));
        return html.Append("</ul>").ToString();
    }

    private static string LegendItem(string color, string text) =>
        $"<li><span class=\"swatch\" style=\"background:{color};outline:1px solid #8c959f\"></span>{HtmlPage.Escape(text)}</li>";

    private static HtmlTable Table(AuditReport report)
    {
        var columns = new List<HtmlColumn> { new("#", Numeric: true) };
        columns.AddRange(AuditFormatter.BaseHeaders.Select(h => new HtmlColumn(h, AuditFormatter.RightAligned.Contains(h))));
        columns.Add(new HtmlColumn("rewrites"));
        columns.Add(new HtmlColumn("fusions"));
        int role = Array.IndexOf(AuditFormatter.BaseHeaders, "role") + 1, node = Array.IndexOf(AuditFormatter.BaseHeaders, "node") + 1;
        int input = Array.IndexOf(AuditFormatter.BaseHeaders, "input") + 1, output = Array.IndexOf(AuditFormatter.BaseHeaders, "output") + 1;

        var rows = new List<HtmlRow>();
        for (int i = 0; i < report.Conv1x1.Count; i++)
        {
            var row = report.Conv1x1[i];
            var text = AuditFormatter.BaseCells(row);
            var cells = new List<HtmlCell> { new((i + 1).ToString(CultureInfo.InvariantCulture), i + 1) };
            for (int c = 0; c < text.Length; c++)
            {
                string header = AuditFormatter.BaseHeaders[c];
                cells.Add(new HtmlCell(text[c], header switch
                {
                    "group" => row.Group,
                    "MACs" => row.Macs,
                    "share" => row.MacShare,
                    "params" => row.Params,
                    "rank" => row.WeightRank,
                    _ => null,
                }));
            }
            cells[node] = cells[node] with { Html = "<code>" + HtmlPage.Escape(row.Node) + "</code>" };
            foreach (int spatial in new[] { input, output })
                cells[spatial] = cells[spatial] with { Html = HtmlPage.Escape(text[spatial - 1]).Replace("x", "x<wbr>", StringComparison.Ordinal) };
            cells[role] = cells[role] with
            {
                Html = $"<span class=\"swatch\" style=\"background:{RoleColors[row.Role]}\"></span>{HtmlPage.Escape(text[role - 1])}"
                    + $"<br><small>{HtmlPage.Escape(row.RoleDetail)}</small>",
            };
            cells.Add(RulesCell(row.Rewrites));
            cells.Add(RulesCell(row.Fusions));
            rows.Add(new HtmlRow(cells, RowId(i)));
        }
        return new HtmlTable(columns, rows, "conv1x1");
    }

    /// <summary>The rules that apply, and in a disclosure every rule with what it would do or why it does not apply.</summary>
    private static HtmlCell RulesCell(IReadOnlyList<RewriteApplicability>? checks)
    {
        if (checks is null) return new HtmlCell("not checked");
        if (checks.Count == 0) return new HtmlCell("no rules");
        var applying = checks.Where(c => c.Applies).Select(c => c.Rule).ToArray();
        string summary = applying.Length > 0 ? string.Join(", ", applying) : $"none of {checks.Count}";
        var html = new StringBuilder("<details><summary>").Append(HtmlPage.Escape(summary)).Append("</summary><ul>");
        foreach (var check in checks)
        {
            html.Append(check.Applies ? "<li class=\"applies\">" : "<li class=\"refused\">")
                .Append("<b>").Append(HtmlPage.Escape(check.Rule)).Append("</b>: ")
                .Append(HtmlPage.Escape((check.Applies ? check.Plan : check.Reason) ?? (check.Applies ? "applies" : "does not apply")))
                .Append("</li>");
        }
        html.Append("</ul></details>");
        return new HtmlCell(summary, applying.Length, html.ToString());
    }
}
