using System.CommandLine;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Rules;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Cli.Commands;

/// <summary>
/// <c>onnxconv audit MODEL</c>: every 1x1 convolution, what it costs and what it does. Given a folder or several
/// models (<c>audit DIR [--recursive]</c>, <c>audit A.onnx B.onnx</c>), it audits them in parallel and ends with a
/// summary; a model that cannot be audited is reported on stderr and skipped, and the exit code is then 3.
/// </summary>
public static class AuditCommand
{
    public static Command Create(CliContext context)
    {
        var models = new Argument<string[]>("model")
        {
            Description = "Path of the ONNX model; several models or folders audit every one (a folder: its *.onnx files).",
            Arity = ArgumentArity.OneOrMore,
        };
        var inputs = new VerifyCliOptions();
        var format = CommonOptions.Format(ReportFormats.Audit);
        var report = CommonOptions.Report();
        var noRank = new Option<bool>("--no-rank")
        {
            Description = "Skip each weight's numerical rank, the costly part of an audit: about 2 s of CPU per 2048×2048 weight on a 2-core x86-64 (AMD EPYC), weights ranked one per core.",
        };
        var recursive = new Option<bool>("--recursive", "-r")
        {
            Description = "With a folder: audit the .onnx files of its subfolders too.",
        };
        var jobs = new Option<int>("--jobs", "-j")
        {
            Description = "Models audited at once (default: one per core; more than the cores is not used).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        jobs.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError($"--jobs must be at least 1 (got {result.GetValueOrDefault<int>()}).");
        });
        var command = new Command("audit", CommonOptions.Described("List every Conv with a 1x1 kernel (all graphs and subgraphs): geometry, MACs, weight source, role, weight rank, and which rewrites and fusions apply. Several models or a folder: audit each, then a summary.",
            "onnxconv audit models/resnet_bottleneck.onnx --format markdown"))
        {
            models, format, report, noRank, recursive, jobs, CommonOptions.Quiet, CommonOptions.Verbose,
        };
        // The models take any number of paths, so the parser hands a misspelled option to them: name it as what it is.
        models.Validators.Add(result =>
        {
            foreach (string path in result.GetValueOrDefault<string[]>() ?? [])
                if (path.StartsWith('-') && !Path.Exists(path))
                {
                    var names = result.Parent is System.CommandLine.Parsing.CommandResult owner
                        ? owner.Command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)) : [];
                    result.AddError($"unknown option '{path}' for onnxconv audit{Suggestions.DidYouMean(path, names)}");
                    return;
                }
        });
        inputs.AddShapeAndValueTo(command);
        command.SetAction(parse => context.Execute(parse, () =>
        {
            string[] paths = parse.GetValue(models)!;
            var chosenFormat = parse.GetValue(format);
            var overrides = ShapeOverrides.Parse(parse.GetValue(inputs.Shape) ?? []);
            var values = inputs.Values(parse);
            var options = new AuditOptions
            {
                ShapeOverrides = overrides,
                InputValues = values,
                ComputeWeightRank = !parse.GetValue(noRank),
                RewriteChecks = Conv1x1Checks.Rewrites(),
                FusionChecks = Conv1x1Checks.Fusions(),
            };
            void CheckInputs(Model loaded, string path)
            {
                ShapeOverrides.Validate(loaded, overrides);
                foreach (string name in values.Keys)
                    if (loaded.Graph.Inputs.All(i => i.Name != name))
                        throw new OnnxConvException(ExitCode.UsageError, $"--value names '{name}', but {path} has no input of that name (its inputs: {string.Join(", ", loaded.Graph.Inputs.Where(i => !i.IsInitializer).Select(i => $"'{i.Name}'"))})");
            }

            if (parse.GetValue(recursive) && !paths.Any(Directory.Exists))
                throw new OnnxConvException(ExitCode.UsageError, $"{paths[0]}: --recursive applies to folders, and no path given is one");
            if (paths.Length > 1 || Directory.Exists(paths[0]) || chosenFormat == OutputFormat.Jsonl)
            {
                if (chosenFormat == OutputFormat.Html)
                    throw new OnnxConvException(ExitCode.UsageError, $"{paths[0]}: --format html renders one model; give one model file, or another format for several");
                var batch = new AuditBatchRun(context, parse, chosenFormat, parse.GetValue(report));
                return batch.Run(paths, parse.GetValue(recursive), options, CheckInputs, Math.Min(parse.GetValue(jobs), Environment.ProcessorCount));
            }

            string single = paths[0];
            ReportOutput.CheckTarget(parse.GetValue(report), single);
            AuditReport audit;
            using (var progress = ProgressDisplay.For(context, parse))
            {
                progress.Report(new WorkProgress($"loading {Path.GetFileName(single)}", 0, 0));
                var loaded = ModelReader.Load(single);
                CheckInputs(loaded, single);
                audit = Conv1x1Audit.Run(loaded, options with { Progress = progress }, single);
            }
            string text = chosenFormat switch
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
