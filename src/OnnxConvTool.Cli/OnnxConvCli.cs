using System.CommandLine;
using System.CommandLine.Help;
using System.Text.RegularExpressions;
using OnnxConvTool.Cli.Commands;

namespace OnnxConvTool.Cli;

/// <summary>Builds the <c>onnxconv</c> command tree and runs it with the shared exit-code scheme.</summary>
public static partial class OnnxConvCli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        using var interrupts = new Interrupts();
        var context = new CliContext(stdout, stderr, interrupts.Token)
        {
            OutIsTerminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected,
            ErrorIsTerminal = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected,
        };
        var root = BuildRoot(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not { ClearsParseErrors: true })
        {
            stderr.WriteLine($"onnxconv: {UsageErrors.Describe(parse)}");
            return (int)ExitCode.UsageError;
        }
        if (parse.Action is HelpAction) return WriteHelp(parse, stdout, stderr);
        return interrupts.Run(() => parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }), stderr);
    }

    public static RootCommand BuildRoot(CliContext context)
    {
        var root = new RootCommand("onnxconv: find, audit, rewrite and verify 1x1 convolutions in ONNX models.");
        root.Subcommands.Add(InspectCommand.Create(context));
        root.Subcommands.Add(AuditCommand.Create(context));
        root.Subcommands.Add(ConvertCommand.Create(context));
        root.Subcommands.Add(VerifyCommand.Create(context));
        root.Subcommands.Add(RewriteCommand.Create(context));
        root.Subcommands.Add(OptimizeCommand.Create(context));
        root.Subcommands.Add(BenchCommand.Create(context));
        root.Subcommands.Add(CompletionCommand.Create(context));
        return root;
    }

    /// <summary>
    /// Help with each choice's default as it is typed (<c>[default: text]</c>), not as the enum member's name the
    /// parser prints; numbers and paths are left as they are.
    /// </summary>
    private static int WriteHelp(ParseResult parse, TextWriter stdout, TextWriter stderr)
    {
        var help = new StringWriter();
        int code = parse.Invoke(new InvocationConfiguration { Output = help, Error = stderr });
        stdout.Write(ChoiceDefault().Replace(help.ToString(), m => $"[default: {m.Groups[1].Value.ToLowerInvariant()}]"));
        return code;
    }

    [GeneratedRegex(@"\[default: ([A-Z][A-Za-z]*)\]")]
    private static partial Regex ChoiceDefault();
}
