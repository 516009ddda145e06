using System.CommandLine;
using System.Text.RegularExpressions;

namespace OnnxConvTool.Cli;

/// <summary>
/// Turns the parser's errors into the one line a usage error prints: an unknown option or command with the closest
/// known names, and a value of the wrong kind in words instead of the .NET type it was to become.
/// </summary>
internal static partial class UsageErrors
{
    public static string Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        string where = CommandPath(parse);
        if (parse.UnmatchedTokens.Count > 0)
        {
            string token = parse.UnmatchedTokens[0];
            if (token.StartsWith('-'))
                return $"unknown option '{token}' for {where}{Suggestions.DidYouMean(token, OptionNames(parse))}";
            if (command.Subcommands.Count > 0)
            {
                var names = command.Subcommands.Select(c => c.Name).ToArray();
                string hint = Suggestions.DidYouMean(token, names);
                return $"unknown command '{token}'" + (hint.Length > 0 ? hint : $"; commands: {string.Join(", ", names)}");
            }
            return $"unexpected argument '{token}' for {where}";
        }
        string message = parse.Errors[0].Message;
        if (command.Subcommands.Count > 0 && parse.Errors.Any(e => e.SymbolResult is null || e.Message.StartsWith("Required command", StringComparison.Ordinal)))
            return $"give a command: {string.Join(", ", command.Subcommands.Select(c => c.Name))}";
        return Reword(message);
    }

    /// <summary>The parser's "Cannot parse argument 'x' for option '--o' as expected type 'System.Int32'" in words.</summary>
    internal static string Reword(string message)
    {
        var match = CannotParse().Match(message);
        if (!match.Success) return message.ReplaceLineEndings(" ");
        string type = match.Groups["type"].Value;
        string kind = type.Contains("Int", StringComparison.Ordinal) ? "a whole number"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : "a valid value";
        return $"{match.Groups["symbol"].Value} {match.Groups["value"].Value}: expected {kind}";
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, result.Command is RootCommand ? "onnxconv" : result.Command.Name);
        return string.Join(' ', names);
    }

    private static IEnumerable<string> OptionNames(ParseResult parse)
    {
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            foreach (var option in result.Command.Options)
                if (result == parse.CommandResult || option.Recursive)
                    foreach (string name in option.Aliases.Prepend(option.Name)) yield return name;
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for \w+ '(?<symbol>[^']*)' as expected type '(?<type>[^']*)'", RegexOptions.Singleline)]
    private static partial Regex CannotParse();
}
