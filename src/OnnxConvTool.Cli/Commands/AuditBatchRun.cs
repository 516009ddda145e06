using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using Spectre.Console;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv audit</c> over several models: each model's report in the chosen format, in the order the models were
/// found (whatever order the workers finish in), then the summary. Output goes to stdout as each model is done, except
/// into a --report file, as one JSON document, or while progress is drawn on the terminal stdout shares.
/// </summary>
internal sealed class AuditBatchRun(CliContext context, ParseResult parse, OutputFormat format, string? reportPath)
{
    /// <summary>Version of the batch lines' contract (Schemas/audit-batch-line.schema.json); a model line is an audit report, version <see cref="AuditReport.CurrentSchemaVersion"/>.</summary>
    public const int SchemaVersion = 1;

    private readonly StringBuilder _held = new();
    private readonly List<AuditBatchItem> _items = [];

    public int Run(string[] paths, bool recursive, AuditOptions options, Action<Model, string> checkInputs, int jobs)
    {
        var models = AuditBatch.FindModels(paths, recursive);
        if (models.Count == 0)
            throw new OnnxConvException(ExitCode.InputRejected,
                $"{string.Join(", ", paths)}: no {AuditBatch.ModelExtension} model found{(recursive ? "" : " (--recursive also looks in subfolders)")}");
        ReportOutput.CheckTarget(reportPath, models);

        using (var progress = ProgressDisplay.For(context, parse))
        {
            bool stream = reportPath is null && !(progress.Enabled && context.OutIsTerminal);
            AuditBatch.Run(models, options, checkInputs, jobs, Render, item =>
            {
                _items.Add(format == OutputFormat.Json ? item : item with { Rendered = null });
                if (item.Failed) progress.WriteError($"onnxconv: {item.Error}");
                if (format == OutputFormat.Json) return;
                if (!item.Failed) Emit(item.Rendered!, stream);
                else if (format == OutputFormat.Jsonl) Emit(ErrorObject(item).ToJsonString(AuditJson.CompactOptions) + "\n", stream);
            }, progress, context.Cancellation);
        }

        string summary = format switch
        {
            OutputFormat.Jsonl => SummaryObject().ToJsonString(AuditJson.CompactOptions) + "\n",
            OutputFormat.Json => Document(),
            OutputFormat.Markdown => SummaryMarkdown(),
            _ => SummaryTable(),
        };
        _held.Append(summary);
        ReportOutput.Write(context, reportPath, _held.ToString());
        _held.Clear();

        var failures = _items.Where(i => i.Failed).ToList();
        if (failures.Count == 0) return (int)ExitCode.Ok;
        return (int)(failures.Any(f => f.ErrorCode == ExitCode.InputRejected) ? ExitCode.InputRejected : failures[0].ErrorCode);
    }

    private string Render(AuditReport report) => format switch
    {
        OutputFormat.Jsonl or OutputFormat.Json => ModelObject(report).ToJsonString(AuditJson.CompactOptions) + "\n",
        OutputFormat.Markdown => AuditFormatter.Markdown(report) + "\n",
        _ => AuditFormatter.Table(report) + "\n",
    };

    private void Emit(string text, bool stream)
    {
        if (!stream)
        {
            _held.Append(text);
            return;
        }
        context.Out.Write(text);
        context.Out.Flush();
    }

    private static JsonObject ModelObject(AuditReport report)
    {
        var line = AuditJson.ToJsonObject(report);
        line.Insert(1, "kind", "model");
        return line;
    }

    private static JsonObject ErrorObject(AuditBatchItem item) => new()
    {
        ["schemaVersion"] = SchemaVersion,
        ["kind"] = "error",
        ["model"] = item.Path,
        ["exitCode"] = (int)item.ErrorCode,
        ["error"] = item.Error,
    };

    private JsonObject SummaryObject()
    {
        var audited = Audited;
        var totals = Totals(audited);
        return new JsonObject
        {
            ["schemaVersion"] = SchemaVersion,
            ["kind"] = "summary",
            ["models"] = _items.Count,
            ["audited"] = audited.Count,
            ["failed"] = _items.Count - audited.Count,
            ["totals"] = new JsonObject
            {
                ["conv"] = totals.Conv,
                ["conv1x1"] = totals.Conv1x1,
                ["macs"] = totals.Macs,
                ["conv1x1Macs"] = totals.Conv1x1Macs,
                ["conv1x1MacShare"] = totals.Conv1x1MacShare,
                ["fold"] = totals.Fold,
                ["merge"] = totals.Merge,
            },
        };
    }

    /// <summary>--format json: one indented array of the objects --format jsonl writes one per line, the summary last.</summary>
    private string Document()
    {
        var document = new JsonArray();
        foreach (var item in _items)
            document.Add(item.Failed ? ErrorObject(item) : JsonNode.Parse(item.Rendered!));
        document.Add((JsonNode)SummaryObject());
        return document.ToJsonString(new JsonSerializerOptions(AuditJson.CompactOptions) { WriteIndented = true }) + "\n";
    }

    private List<AuditBatchCounts> Audited => _items.Where(i => !i.Failed).Select(i => i.Counts!).ToList();

    /// <summary>The batch's figures: sums, with a MAC total only when every audited model's is known.</summary>
    private static AuditBatchCounts Totals(IReadOnlyList<AuditBatchCounts> audited)
    {
        long? macs = audited.All(c => c.Macs is not null) ? audited.Sum(c => c.Macs!.Value) : null;
        long? conv1x1Macs = audited.All(c => c.Conv1x1Macs is not null) ? audited.Sum(c => c.Conv1x1Macs!.Value) : null;
        double? share = macs is > 0 && conv1x1Macs is not null ? (double)conv1x1Macs.Value / macs.Value : null;
        return new AuditBatchCounts(audited.Sum(c => c.Conv), audited.Sum(c => c.Conv1x1), macs, conv1x1Macs, share,
            audited.Sum(c => c.Fold), audited.Sum(c => c.Merge));
    }

    private static readonly string[] Headers = ["model", "status", "Conv", "1x1", "1x1 MAC share", "to fold", "in merges"];

    private List<string[]> SummaryRows()
    {
        var rows = _items.Select(i => i.Counts is { } c
            ? Cells(i.Path, "ok", c)
            : [i.Path, i.ErrorCode == ExitCode.InputRejected ? "rejected" : "failed", "", "", "", "", ""]).ToList();
        int failed = _items.Count(i => i.Failed);
        rows.Add(Cells($"total: {_items.Count} models", failed == 0 ? "ok" : $"{failed} failed", Totals(Audited)));
        return rows;
    }

    private static string[] Cells(string model, string status, AuditBatchCounts c) =>
    [
        model, status, Number(c.Conv), Number(c.Conv1x1),
        c.Conv1x1MacShare is { } share ? (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "?",
        Number(c.Fold), Number(c.Merge),
    ];

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Drawn by Spectre.Console: rounded and coloured on a terminal, ASCII without escape codes otherwise.</summary>
    private string SummaryTable()
    {
        bool terminal = context.OutIsTerminal && reportPath is null;
        var table = new Table { Border = terminal ? TableBorder.Rounded : TableBorder.Ascii };
        foreach (string header in Headers)
        {
            var column = new TableColumn(new Text(header));
            if (header is not ("model" or "status")) column.RightAligned();
            table.AddColumn(column);
        }
        foreach (var row in SummaryRows()) table.AddRow(row.Select(cell => new Text(cell)));

        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text),
            Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Standard : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = terminal && Console.WindowWidth > 0 ? Console.WindowWidth : 4096;
        console.Write(table);
        return text.ToString().ReplaceLineEndings("\n");
    }

    private string SummaryMarkdown()
    {
        var text = new StringBuilder("### summary\n\n");
        text.Append("| ").Append(string.Join(" | ", Headers)).Append(" |\n");
        text.Append("|---|---|").Append(string.Concat(Enumerable.Repeat("---:|", Headers.Length - 2))).Append('\n');
        foreach (var row in SummaryRows())
            text.Append("| ").Append(string.Join(" | ", row.Select(c => c.Replace("|", "\\|")))).Append(" |\n");
        return text.ToString();
    }
}
