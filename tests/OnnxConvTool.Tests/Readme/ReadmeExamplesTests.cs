using System.Text;
using System.Text.RegularExpressions;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Readme;

/// <summary>
/// Keeps README.md honest: every <c>```console</c> block is a transcript of <c>$ onnxconv …</c> commands and
/// their output, run here as real processes from a scratch copy of the repository layout. A line <c>...</c>
/// in the expected output stands for any number of lines; <c>; echo $?</c> appends the exit code.
/// </summary>
public sealed partial class ReadmeExamplesTests
{
    public static TheoryData<int> ExampleIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < ReadmeExample.All.Count; i++) data.Add(i);
        return data;
    }

    [Fact]
    public void ReadmeHasConsoleExamples() => Assert.True(ReadmeExample.All.Count >= 5, $"only {ReadmeExample.All.Count} console examples found in README.md");

    [SkippableTheory]
    [MemberData(nameof(ExampleIndexes))]
    public void ExampleOutputIsWhatTheToolPrints(int index)
    {
        var example = ReadmeExample.All[index];
        if (example.Command.Contains("../shared", StringComparison.Ordinal)) Shared.RequireRoot();
        using var workspace = new TempDirectory();
        string cwd = Path.Combine(workspace.Path, "repo");
        Directory.CreateDirectory(cwd);
        Directory.CreateSymbolicLink(Path.Combine(cwd, "models"), Path.Combine(SharedData.RepositoryRoot, "models"));
        if (SharedData.Root is not null) Directory.CreateSymbolicLink(Path.Combine(workspace.Path, "shared"), SharedData.Root);
        foreach (var setup in example.Setup) Run(setup, cwd);

        string actual = Run(example.Command, cwd);
        AssertMatches(example, actual);
    }

    private static string Run(string commandLine, string cwd)
    {
        bool echoExitCode = commandLine.EndsWith("; echo $?", StringComparison.Ordinal);
        string command = echoExitCode ? commandLine[..^"; echo $?".Length] : commandLine;
        var args = SplitArguments(command);
        Assert.Equal("onnxconv", args[0]);
        var result = CliInvocation.RunProcessIn(cwd, args[1..]);
        var output = new StringBuilder(result.Stdout).Append(result.Stderr);
        if (echoExitCode) output.Append(result.ExitCode).Append('\n');
        return output.ToString();
    }

    private static void AssertMatches(ReadmeExample example, string actual)
    {
        var expected = example.Output;
        var lines = actual.Replace("\r\n", "\n").TrimEnd('\n').Split('\n');
        int at = 0;
        for (int e = 0; e < expected.Count; e++)
        {
            if (expected[e].Trim() == "...")
            {
                if (e == expected.Count - 1) return;
                string next = expected[e + 1];
                while (at < lines.Length && lines[at].TrimEnd() != next.TrimEnd()) at++;
                continue;
            }
            Assert.True(at < lines.Length, $"README example `{example.Command}`: output ended before expected line {e + 1}: '{expected[e]}'\nactual output:\n{actual}");
            Assert.True(lines[at].TrimEnd() == expected[e].TrimEnd(),
                $"README example `{example.Command}`, expected line {e + 1}:\n  README: '{expected[e]}'\n  actual: '{lines[at]}'\nactual output:\n{actual}");
            at++;
        }
        Assert.True(at == lines.Length, $"README example `{example.Command}`: the tool printed more lines than the README shows:\n{string.Join('\n', lines[at..])}");
    }

    internal static string[] SplitArguments(string command)
    {
        var args = new List<string>();
        foreach (Match m in ArgumentPattern().Matches(command))
            args.Add(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);
        return args.ToArray();
    }

    [GeneratedRegex("""'([^']*)'|(\S+)""")]
    private static partial Regex ArgumentPattern();
}

/// <summary>One <c>$ onnxconv …</c> command from a README console block, with the commands before it in the block and its expected output.</summary>
public sealed record ReadmeExample(string Command, IReadOnlyList<string> Setup, IReadOnlyList<string> Output)
{
    public static IReadOnlyList<ReadmeExample> All { get; } = Parse(File.ReadAllLines(Path.Combine(SharedData.RepositoryRoot, "README.md")));

    public override string ToString() => Command;

    internal static List<ReadmeExample> Parse(IEnumerable<string> readme)
    {
        var examples = new List<ReadmeExample>();
        bool inConsole = false;
        var setup = new List<string>();
        string? command = null;
        var output = new List<string>();
        void Flush()
        {
            if (command is not null) examples.Add(new ReadmeExample(command, setup.ToArray(), output.ToArray()));
            if (command is not null) setup.Add(command);
            command = null;
            output = [];
        }
        foreach (string line in readme)
        {
            if (!inConsole)
            {
                if (line.Trim() == "```console") { inConsole = true; setup = []; }
                continue;
            }
            if (line.Trim() == "```")
            {
                Flush();
                inConsole = false;
                continue;
            }
            if (line.StartsWith("$ ", StringComparison.Ordinal))
            {
                Flush();
                command = line[2..].Trim();
                continue;
            }
            output.Add(line);
        }
        return examples;
    }
}
