using System.Globalization;
using System.Net;
using System.Text;

namespace OnnxConvTool.Analysis;

/// <summary>
/// A self-contained HTML report: inline CSS, inline SVG, one inline script that makes tables sortable, and a content
/// security policy that forbids every fetch, so the page never touches the network. Every model-provided string goes
/// through <see cref="Escape"/>; without JavaScript the tables read as plain tables in graph order.
/// </summary>
public sealed class HtmlPage(string title)
{
    private readonly StringBuilder _body = new();

    /// <summary>Text as HTML text or attribute value: &amp;, &lt;, &gt;, both quotes escaped.</summary>
    public static string Escape(string text) => WebUtility.HtmlEncode(text);

    public HtmlPage Heading(int level, string text)
    {
        _body.Append($"<h{level}>").Append(Escape(text)).Append($"</h{level}>\n");
        return this;
    }

    public HtmlPage Paragraph(string text)
    {
        _body.Append("<p>").Append(Escape(text)).Append("</p>\n");
        return this;
    }

    public HtmlPage Preformatted(string text)
    {
        _body.Append("<pre>").Append(Escape(text)).Append("</pre>\n");
        return this;
    }

    /// <summary>Label–value pairs as a definition list.</summary>
    public HtmlPage Facts(IEnumerable<(string Label, string Value)> facts)
    {
        _body.Append("<dl class=\"facts\">\n");
        foreach (var (label, value) in facts)
            _body.Append("<dt>").Append(Escape(label)).Append("</dt><dd>").Append(Escape(value)).Append("</dd>\n");
        _body.Append("</dl>\n");
        return this;
    }

    public HtmlPage List(IEnumerable<string> items)
    {
        _body.Append("<ul>\n");
        foreach (var item in items) _body.Append("<li>").Append(Escape(item)).Append("</li>\n");
        _body.Append("</ul>\n");
        return this;
    }

    /// <summary>Markup built by the caller from escaped parts (an SVG chart, a legend).</summary>
    public HtmlPage Markup(string html)
    {
        _body.Append(html).Append('\n');
        return this;
    }

    /// <summary>A table whose headers sort it when clicked (with JavaScript); numeric columns sort by each cell's key.</summary>
    public HtmlPage Table(HtmlTable table)
    {
        _body.Append("<div class=\"scroll\"><table class=\"sortable\"");
        if (table.Id is { } id) _body.Append(" id=\"").Append(Escape(id)).Append('"');
        _body.Append(">\n<thead><tr>");
        foreach (var column in table.Columns)
            _body.Append(column.Numeric ? "<th class=\"num\" scope=\"col\">" : "<th scope=\"col\">").Append(Escape(column.Header)).Append("</th>");
        _body.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in table.Rows)
        {
            _body.Append("<tr");
            if (row.Id is { } rowId) _body.Append(" id=\"").Append(Escape(rowId)).Append('"');
            if (row.Class is { } rowClass) _body.Append(" class=\"").Append(Escape(rowClass)).Append('"');
            _body.Append('>');
            for (int i = 0; i < row.Cells.Count; i++)
            {
                var cell = row.Cells[i];
                _body.Append("<td");
                if (i < table.Columns.Count && table.Columns[i].Numeric) _body.Append(" class=\"num\"");
                if (cell.SortKey is { } key) _body.Append(" data-sort=\"").Append(key.ToString("R", CultureInfo.InvariantCulture)).Append('"');
                bool prose = i < table.Columns.Count && table.Columns[i].Prose;
                _body.Append('>').Append(prose ? "<div class=\"prose\">" : "").Append(cell.Html ?? Escape(cell.Text)).Append(prose ? "</div>" : "").Append("</td>");
            }
            _body.Append("</tr>\n");
        }
        _body.Append("</tbody>\n</table></div>\n");
        return this;
    }

    public string Render() =>
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        + "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        + "<title>" + Escape(title) + "</title>\n<style>\n" + Style + "</style>\n</head>\n<body>\n<main>\n"
        + _body + "</main>\n<script>\n" + SortScript + "</script>\n</body>\n</html>\n";

    private const string Style = """
        :root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --stripe: #f6f8fa; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #fff; }
        main { padding: 16px 24px; max-width: 1600px; }
        h1 { font-size: 20px; margin: 0 0 12px; word-break: break-all; }
        h2 { font-size: 16px; margin: 24px 0 8px; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; word-break: break-all; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; font-size: 13px; width: max-content; }
        th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
        th { background: #eaeef2; position: sticky; top: 0; white-space: nowrap; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tbody tr:nth-child(even) { background: var(--stripe); }
        tbody tr:target { outline: 2px solid #0969da; }
        table.js-sortable th { cursor: pointer; user-select: none; }
        table.js-sortable th::after { content: " \2195"; color: #8c959f; }
        table.js-sortable th[aria-sort="ascending"]::after { content: " \25B2"; color: #1f2328; }
        table.js-sortable th[aria-sort="descending"]::after { content: " \25BC"; color: #1f2328; }
        td code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
        .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: baseline; }
        ul.legend { list-style: none; padding: 0; margin: 4px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
        div.prose { max-width: 40em; }
        details summary { cursor: pointer; }
        details ul { margin: 4px 0 0; padding-left: 18px; max-width: 36em; }
        li.applies { color: #1a7f37; }
        li.refused { color: var(--muted); }
        .chart svg { display: block; }
        .chart rect.bar:hover, .chart a:focus rect.bar { stroke: #1f2328; stroke-width: 1; }
        .chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
        tr.changed td { font-weight: 600; }
        pre { background: var(--stripe); padding: 8px; overflow-x: auto; }

        """;

    // Sorts by each cell's data-sort (numeric columns) or its text; cells without a number sort last either way, and
    // ties keep graph order. Headers become keyboard-operable buttons only here, so without JavaScript nothing suggests sorting.
    private const string SortScript = """
        (function () {
          'use strict';
          function key(cell, numeric) {
            if (!numeric) return cell.textContent.trim().toLowerCase();
            var v = parseFloat(cell.getAttribute('data-sort'));
            return isNaN(v) ? null : v;
          }
          Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
            var body = table.tBodies[0];
            Array.prototype.forEach.call(body.rows, function (row, i) { row.setAttribute('data-order', i); });
            var headers = table.tHead.rows[0].cells;
            table.classList.add('js-sortable');
            Array.prototype.forEach.call(headers, function (th, column) {
              th.tabIndex = 0;
              th.setAttribute('role', 'button');
              function sort() {
                var ascending = th.getAttribute('aria-sort') !== 'ascending';
                var numeric = th.classList.contains('num');
                var rows = Array.prototype.slice.call(body.rows).map(function (row) {
                  return { row: row, key: key(row.cells[column], numeric), order: +row.getAttribute('data-order') };
                });
                rows.sort(function (a, b) {
                  if (a.key === null || b.key === null) {
                    if (a.key !== b.key) return a.key === null ? 1 : -1;
                  } else if (a.key !== b.key) {
                    var c = numeric ? a.key - b.key : (a.key < b.key ? -1 : 1);
                    return ascending ? c : -c;
                  }
                  return a.order - b.order;
                });
                rows.forEach(function (r) { body.appendChild(r.row); });
                Array.prototype.forEach.call(headers, function (h) { h.removeAttribute('aria-sort'); });
                th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
              }
              th.addEventListener('click', sort);
              th.addEventListener('keydown', function (e) {
                if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); }
              });
            });
          });
        }());

        """;
}

/// <summary>
/// A column of an <see cref="HtmlTable"/>; a numeric one is right-aligned and sorts by its cells' keys; a prose one
/// (sentences: reasons, results) wraps its text instead of widening the table.
/// </summary>
public sealed record HtmlColumn(string Header, bool Numeric = false, bool Prose = false);

/// <summary>A cell: its text (escaped when rendered), or markup the caller built from escaped parts; a number to sort by.</summary>
public sealed record HtmlCell(string Text, double? SortKey = null, string? Html = null)
{
    public static implicit operator HtmlCell(string text) => new(text);
}

public sealed record HtmlRow(IReadOnlyList<HtmlCell> Cells, string? Id = null, string? Class = null);

public sealed record HtmlTable(IReadOnlyList<HtmlColumn> Columns, IReadOnlyList<HtmlRow> Rows, string? Id = null);
