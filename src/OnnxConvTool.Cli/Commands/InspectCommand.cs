using System.CommandLine;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Cli.Commands;

/// <summary><c>onnxconv inspect MODEL</c>: what the model is, at a glance.</summary>
public static class InspectCommand
{
    public static Command Create(CliContext context)
    {
        var model = CommonOptions.Model();
        var format = CommonOptions.Format(OutputFormat.Text, OutputFormat.Json);
        var report = CommonOptions.Report();
        var command = new Command("inspect", "Show producer, IR version, opsets, inputs, outputs, op counts, parameters and a 1x1 summary.")
        {
            model, format, report, CommonOptions.Verbose,
        };
        command.SetAction(parse => context.Execute(parse, () =>
        {
            var loaded = ModelReader.Load(parse.GetValue(model)!);
            var text = $"producer: {loaded.Producer}\nir_version: {loaded.IrVersion}\nopset: {loaded.OnnxOpset}\nnodes: {loaded.AllNodes().Count()}\n";
            ReportOutput.Write(context, parse.GetValue(report), text);
            return (int)ExitCode.Ok;
        }));
        return command;
    }
}
