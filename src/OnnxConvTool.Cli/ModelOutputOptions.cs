using System.CommandLine;
using System.CommandLine.Parsing;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Cli;

/// <summary>The output path and data placement a command chose: ready for <see cref="ModelWriter.Save"/>.</summary>
public sealed record ModelTarget(string Path, SaveOptions SaveOptions);

/// <summary>
/// Options of every command that writes a model: <c>-o OUT</c>, <c>--in-place</c>, <c>--external-data</c>
/// with <c>--threshold BYTES</c>, and <c>--inline</c>. Add them with <see cref="AddTo"/>, read them with <see cref="Resolve"/>.
/// </summary>
public sealed class ModelOutputOptions
{
    public Option<string?> Output { get; } = CommonOptions.Output();

    public Option<bool> InPlace { get; } = CommonOptions.InPlace();

    public Option<bool> ExternalData { get; } = new("--external-data")
    {
        Description = "Move tensors of at least --threshold bytes to a data file next to the output (OUT.data).",
    };

    public Option<long?> Threshold { get; } = new("--threshold")
    {
        Description = $"With --external-data: the smallest tensor, in bytes, that moves to the data file (default {new SaveOptions().ExternalThreshold}).",
        HelpName = "BYTES",
    };

    public Option<bool> Inline { get; } = new("--inline")
    {
        Description = "Bring every tensor into the model file (refused past the 2 GiB protobuf limit).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Output);
        command.Options.Add(InPlace);
        command.Options.Add(ExternalData);
        command.Options.Add(Threshold);
        command.Options.Add(Inline);
        command.Validators.Add(Validate);
    }

    private void Validate(CommandResult result)
    {
        if (result.GetValue(ExternalData) && result.GetValue(Inline))
            result.AddError("--external-data and --inline contradict each other; give one of them.");
        long? threshold;
        try
        {
            threshold = result.GetValue(Threshold);
        }
        catch (InvalidOperationException)
        {
            return; // the parser reports the value it could not read (e.g. --threshold 1k)
        }
        if (threshold is not null)
        {
            if (!result.GetValue(ExternalData)) result.AddError("--threshold only applies with --external-data.");
            if (threshold < 0) result.AddError($"--threshold must be a number of bytes (0 or more), not {threshold}.");
        }
        if (result.GetValue(Output) is null && !result.GetValue(InPlace))
            result.AddError("Give the output path with -o OUT (or --in-place to overwrite the input).");
    }

    /// <summary>-o FOLDER (an existing folder) means FOLDER/&lt;input file name&gt;; any other path is the file itself.</summary>
    internal static string InFolder(string output, string inputPath) =>
        FilePaths.Status(output).Kind == FileKind.Directory ? Path.Combine(output, Path.GetFileName(inputPath)) : output;

    /// <summary>The output path and save options; refuses to write over <paramref name="inputPath"/> without --in-place.</summary>
    /// <exception cref="OnnxConvException">Usage error: the output is the input without --in-place, --in-place with another output, or not a regular file.</exception>
    public ModelTarget Resolve(ParseResult parse, string inputPath)
    {
        bool inPlace = parse.GetValue(InPlace);
        string path = parse.GetValue(Output) is { } output ? InFolder(output, inputPath) : inputPath;
        bool sameFile = FilePaths.SameFile(path, inputPath);
        if (sameFile && !inPlace)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: the output is the input model; pass --in-place to overwrite it");
        if (inPlace && !sameFile)
            throw new OnnxConvException(ExitCode.UsageError, $"{path}: --in-place overwrites the input model '{inputPath}'; drop -o or --in-place");
        ModelWriter.CheckDestination(path);
        var mode = parse.GetValue(ExternalData) ? ExternalDataMode.External
            : parse.GetValue(Inline) ? ExternalDataMode.Inline
            : ExternalDataMode.Keep;
        var options = new SaveOptions { ExternalData = mode, AllowOverwritingInput = inPlace };
        if (parse.GetValue(Threshold) is { } threshold) options = options with { ExternalThreshold = threshold };
        return new ModelTarget(path, options);
    }
}
