using System.CommandLine;

namespace OnnxConvTool.Cli;

/// <summary>Options several commands share, so their names and meaning stay the same everywhere.</summary>
public static class CommonOptions
{
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Print stack traces and extra diagnostics on stderr.",
        Recursive = true,
    };

    public static Option<OutputFormat> Format(params OutputFormat[] allowed)
    {
        var option = new Option<OutputFormat>("--format", "-f")
        {
            Description = $"Report format: {string.Join(", ", allowed.Select(a => a.ToString().ToLowerInvariant()))}.",
            DefaultValueFactory = _ => allowed[0],
        };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<OutputFormat>();
            if (!allowed.Contains(value)) result.AddError($"--format {value.ToString().ToLowerInvariant()} is not available for this command.");
        });
        return option;
    }

    public static Option<string?> Report() => new("--report")
    {
        Description = "Write the report to this file instead of stdout.",
    };

    public static Option<string[]> Shape() => new("--shape")
    {
        Description = "Fix an input's dims, e.g. --shape x=1,3,224,224 (repeatable; use a name for a symbolic dim).",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Where a command writes the model it produces.</summary>
    public static Option<string?> Output() => new("--output", "-o")
    {
        Description = "Path of the model to write.",
        HelpName = "OUT",
    };

    /// <summary>Permission to write over the input model; never the default.</summary>
    public static Option<bool> InPlace() => new("--in-place")
    {
        Description = "Overwrite the input model (and write its data file next to it); -o may then be omitted.",
    };

    public static Argument<string> Model(string name = "model", string description = "Path of the ONNX model.") => new(name)
    {
        Description = description,
    };
}

public enum OutputFormat
{
    Table,
    Text,
    Json,
    Markdown,
    Html,
}
