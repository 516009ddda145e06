using System.CommandLine;
using System.Globalization;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Cli.Commands;

/// <summary><c>onnxconv audit MODEL</c>: every 1x1 convolution, what it costs and what it does.</summary>
public static class AuditCommand
{
    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var shape = CommonOptions.Shape();
        var format = CommonOptions.Format(OutputFormat.Table, OutputFormat.Json, OutputFormat.Markdown);
        var report = CommonOptions.Report();
        var noRank = new Option<bool>("--no-rank")
        {
            Description = "Skip each weight's numerical rank (the costly part: about 0.25 s per 1000×1000 weight).",
        };
        var command = new Command("audit", "List every Conv with a 1x1 kernel (all graphs and subgraphs): geometry, MACs, weight source, role and weight rank.")
        {
            model, shape, format, report, noRank, CommonOptions.Verbose,
        };
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string path = parse.GetValue(model)!;
            var loaded = ModelReader.Load(path);
            var overrides = ParseShapes(parse.GetValue(shape) ?? [], loaded);
            var audit = Conv1x1Audit.Run(loaded, new AuditOptions { ShapeOverrides = overrides, ComputeWeightRank = !parse.GetValue(noRank) }, path);
            string text = parse.GetValue(format) switch
            {
                OutputFormat.Json => AuditJson.Serialize(audit),
                OutputFormat.Markdown => AuditFormatter.Markdown(audit),
                _ => AuditFormatter.Table(audit),
            };
            ReportOutput.Write(context, parse.GetValue(report), text);
            return (int)ExitCode.Ok;
        }));
        return command;
    }

    /// <summary><c>NAME=d0,d1,...</c>, each dim a non-negative number or a symbol name; the input must exist.</summary>
    private static Dictionary<string, IReadOnlyList<Dim>> ParseShapes(IEnumerable<string> specs, Model model)
    {
        var result = new Dictionary<string, IReadOnlyList<Dim>>(StringComparer.Ordinal);
        foreach (string spec in specs)
        {
            int eq = spec.LastIndexOf('=');
            if (eq <= 0) throw Usage($"--shape '{spec}' is not NAME=d0,d1,...");
            string name = spec[..eq];
            var input = model.Graph.Inputs.FirstOrDefault(i => i.Name == name && !i.IsInitializer)
                ?? throw Usage($"--shape: the model has no input '{name}' (inputs: {string.Join(", ", model.Graph.Inputs.Where(i => !i.IsInitializer).Select(i => i.Name))})");
            string body = spec[(eq + 1)..];
            var dims = body.Length == 0 ? [] : body.Split(',').Select(d => ParseDim(d.Trim(), spec)).ToArray();
            if (TensorShape.FromType(input.Type).Rank is { } rank && rank != dims.Length)
                throw Usage($"--shape '{spec}' gives {dims.Length} dims but input '{name}' has rank {rank}");
            if (!result.TryAdd(name, dims)) throw Usage($"--shape gives input '{name}' twice");
        }
        return result;
    }

    private static Dim ParseDim(string text, string spec)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return Dim.Known(value);
        if (text.Length > 0 && (char.IsLetter(text[0]) || text[0] == '_') && text.All(c => char.IsLetterOrDigit(c) || c is '_' or '.' or ':'))
            return Dim.Symbolic(text);
        throw Usage($"--shape '{spec}': '{text}' is neither a size nor a symbol name");
    }

    private static OnnxConvException Usage(string message) => new(ExitCode.UsageError, message);
}
