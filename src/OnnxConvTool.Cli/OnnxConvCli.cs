using System.CommandLine;
using System.CommandLine.Help;
using System.Text.RegularExpressions;
using OnnxConvTool.Cli.Commands;

namespace OnnxConvTool.Cli;

/// <summary>Builds the <c>onnxconv</c> command tree and runs it with the shared exit-code scheme.</summary>
public static partial class OnnxConvCli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, out _);

    /// <summary>
    /// Runs as the <c>onnxconv</c> process on the console. After a signal made it abandon a command that is still
    /// running, the process ends at once (<see cref="ProcessExit.Immediately"/>): the runtime's normal shutdown would
    /// unload ONNX Runtime under an abandoned native call, such as a session build, and crash.
    /// </summary>
    public static int RunAsProcess(string[] args)
    {
        int code = Run(args, Console.Out, Console.Error, out bool abandoned);
        if (abandoned) ProcessExit.Immediately(code);
        return code;
    }

    private static int Run(string[] args, TextWriter stdout, TextWriter stderr, out bool abandonedCommand)
    {
        abandonedCommand = false;
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
        int code = interrupts.Run(() => parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }), stderr);
        abandonedCommand = interrupts.AbandonedCommand;
        return code;
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
