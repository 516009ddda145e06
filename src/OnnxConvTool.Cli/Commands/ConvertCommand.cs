using System.CommandLine;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv convert IN -o OUT [--external-data [--threshold BYTES]] [--inline] [--in-place]</c>: load and
/// save, moving weights into or out of external data; nothing else in the model changes.
/// </summary>
public static class ConvertCommand
{
    public static Command Create(CliContext context)
    {
        var input = CommonOptions.Model("input", "Path of the ONNX model to read.");
        var output = new ModelOutputOptions();
        var command = new Command("convert", CommonOptions.Described("Load and save a model, moving weights into or out of external data files; rewrites nothing else.",
            "onnxconv convert models/resnet_bottleneck.onnx -o external.onnx --external-data --threshold 1024"))
        {
            input, CommonOptions.Quiet, CommonOptions.Verbose,
        };
        output.AddTo(command);
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string inputPath = parse.GetValue(input)!;
            var target = output.Resolve(parse, inputPath);
            SaveResult saved;
            using (var progress = ProgressDisplay.For(context, parse))
            {
                progress.Report(new WorkProgress($"loading {Path.GetFileName(inputPath)}", 0, 0));
                var model = ModelReader.Load(inputPath);
                context.Cancellation.ThrowIfCancellationRequested();
                progress.Report(new WorkProgress($"writing {Path.GetFileName(target.Path)}", 0, 0));
                saved = ModelWriter.Save(model, target.Path, target.SaveOptions, context.Cancellation);
            }
            ReportOutput.Write(context, null, Describe(target.Path, saved));
            return (int)ExitCode.Ok;
        }));
        return command;
    }

    private static string Describe(string path, SaveResult saved)
    {
        string text = $"wrote {path}: {saved.ModelBytes} bytes, {saved.InlineTensors} tensors inline";
        if (saved.DataPath is not null)
            text += $"; {Path.GetFileName(saved.DataPath)}: {saved.DataBytes} bytes, {saved.ExternalTensors} tensors";
        return text + "\n";
    }
}
