using System.CommandLine;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Cli.Commands;

/// <summary><c>onnxconv inspect MODEL</c>: what the model is, at a glance.</summary>
public static class InspectCommand
{
    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var format = CommonOptions.Format(ReportFormats.Inspect);
        var report = CommonOptions.Report();
        var command = new Command("inspect", CommonOptions.Described("Show producer, IR version, opsets, inputs, outputs, op counts, parameters and a 1x1 summary.",
            "onnxconv inspect models/mobilenetv2_block.onnx --format json"))
        {
            model, format, report, CommonOptions.Quiet, CommonOptions.Verbose,
        };
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string path = parse.GetValue(model)!;
            ReportOutput.CheckTarget(parse.GetValue(report), path);
            ModelInspection inspection;
            using (var progress = ProgressDisplay.For(context, parse))
            {
                progress.Report(new WorkProgress($"loading {Path.GetFileName(path)}", 0, 0));
                inspection = ModelInspection.Of(ModelReader.Load(path), path);
            }
            string text = parse.GetValue(format) == OutputFormat.Json ? JsonReports.Versioned(AuditJson.Serialize(inspection)) : inspection.ToText();
            ReportOutput.Write(context, parse.GetValue(report), text);
            return (int)ExitCode.Ok;
        }));
        return command;
    }
}
