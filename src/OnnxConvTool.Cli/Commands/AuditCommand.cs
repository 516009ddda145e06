using System.CommandLine;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Rules;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Cli.Commands;

/// <summary><c>onnxconv audit MODEL</c>: every 1x1 convolution, what it costs and what it does.</summary>
public static class AuditCommand
{
    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var inputs = new VerifyCliOptions();
        var format = CommonOptions.Format(ReportFormats.Audit);
        var report = CommonOptions.Report();
        var noRank = new Option<bool>("--no-rank")
        {
            Description = "Skip each weight's numerical rank (the costly part of an audit, roughly 0.3 s per 1000×1000 weight).",
        };
        var command = new Command("audit", CommonOptions.Described("List every Conv with a 1x1 kernel (all graphs and subgraphs): geometry, MACs, weight source, role, weight rank, and which rewrites and fusions apply.",
            "onnxconv audit models/resnet_bottleneck.onnx --format markdown"))
        {
            model, format, report, noRank, CommonOptions.Verbose,
        };
        inputs.AddShapeAndValueTo(command);
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string path = parse.GetValue(model)!;
            ReportOutput.CheckTarget(parse.GetValue(report), path);
            var loaded = ModelReader.Load(path);
            var overrides = ShapeOverrides.Parse(parse.GetValue(inputs.Shape) ?? []);
            ShapeOverrides.Validate(loaded, overrides);
            var values = inputs.Values(parse);
            foreach (string name in values.Keys)
                if (loaded.Graph.Inputs.All(i => i.Name != name))
                    throw new OnnxConvException(ExitCode.UsageError, $"--value names '{name}', but {path} has no input of that name (its inputs: {string.Join(", ", loaded.Graph.Inputs.Where(i => !i.IsInitializer).Select(i => $"'{i.Name}'"))})");
            var audit = Conv1x1Audit.Run(loaded, new AuditOptions
            {
                ShapeOverrides = overrides,
                InputValues = values,
                ComputeWeightRank = !parse.GetValue(noRank),
                RewriteChecks = Conv1x1Checks.Rewrites(),
                FusionChecks = Conv1x1Checks.Fusions(),
            }, path);
            string text = parse.GetValue(format) switch
            {
                OutputFormat.Json => AuditJson.Serialize(audit),
                OutputFormat.Markdown => AuditFormatter.Markdown(audit),
                OutputFormat.Html => AuditHtml.Render(audit),
                _ => AuditFormatter.Table(audit),
            };
            ReportOutput.Write(context, parse.GetValue(report), text);
            return (int)ExitCode.Ok;
        }));
        return command;
    }
}
