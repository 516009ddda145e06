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

    public static readonly Option<bool> Quiet = new("--quiet", "-q")
    {
        Description = "Show no progress on stderr (progress is shown only when stderr is a terminal, for work over about a second).",
        Recursive = true,
    };

    /// <summary><c>--format</c> offering exactly <paramref name="allowed"/> (the first is the default); see <see cref="ReportFormats"/>.</summary>
    public static Option<OutputFormat> Format(IReadOnlyList<OutputFormat> allowed)
    {
        var option = Choice<OutputFormat>("--format", allowed, "Report format", "-f");
        option.DefaultValueFactory = _ => allowed[0];
        return option;
    }

    /// <summary>
    /// An option taking one of <paramref name="choices"/>, written in lower case; any other value is a usage error
    /// that lists them (the parser's own message would name the .NET type).
    /// </summary>
    public static Option<T> Choice<T>(string name, IReadOnlyList<T> choices, string description, params string[] aliases)
    {
        string[] names = choices.Select(ChoiceName).ToArray();
        var option = new Option<T>(name, aliases)
        {
            Description = $"{description}: {string.Join(", ", names)}.",
            HelpName = string.Join('|', names),
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                int index = Array.FindIndex(names, n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase));
                if (index >= 0) return choices[index];
                result.AddError($"{name} {text}: not one of {string.Join(", ", names)}{Suggestions.DidYouMean(text, names)}");
                return default!;
            },
        };
        option.CompletionSources.Clear();
        option.CompletionSources.Add(names);
        return option;
    }

    private static string ChoiceName<T>(T value) => value!.ToString()!.ToLowerInvariant();

    /// <summary>A command's description for --help followed by one example that runs from the repository's folder.</summary>
    public static string Described(string what, string example) => $"{what}\n\nExample:\n  {example}";

    public static Option<string?> Report() => new("--report")
    {
        Description = "Write the report to this file instead of stdout.",
    };

    /// <summary>Where a command writes the model it produces.</summary>
    public static Option<string?> Output() => new("--output", "-o")
    {
        Description = "Path of the model to write; an existing folder gets the input's file name in it.",
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

/// <summary>Every report format of any command; which command takes which is in <see cref="ReportFormats"/>.</summary>
public enum OutputFormat
{
    Table,
    Text,
    Json,
    Markdown,
    Html,
    /// <summary>JSON Lines: one compact JSON object per line (batch audit).</summary>
    Jsonl,
}

/// <summary>
/// The report formats each command accepts, the first being its default: the one place to add a format to a command
/// (the option, its help and its error message follow).
/// </summary>
public static class ReportFormats
{
    public static readonly OutputFormat[] Inspect = [OutputFormat.Text, OutputFormat.Json];
    public static readonly OutputFormat[] Audit = [OutputFormat.Table, OutputFormat.Json, OutputFormat.Markdown, OutputFormat.Html, OutputFormat.Jsonl];
    public static readonly OutputFormat[] Verify = [OutputFormat.Text, OutputFormat.Json, OutputFormat.Markdown];
    public static readonly OutputFormat[] Rewrite = [OutputFormat.Text, OutputFormat.Json, OutputFormat.Markdown];
    public static readonly OutputFormat[] Optimize = [OutputFormat.Text, OutputFormat.Json, OutputFormat.Markdown, OutputFormat.Html];
    public static readonly OutputFormat[] Bench = [OutputFormat.Text, OutputFormat.Json, OutputFormat.Markdown];
}
