using System.Diagnostics;
using Google.Protobuf;
using System.Text.Json.Nodes;
using OnnxConvTool.Cli;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The CLI behaves the same on every command, through the real onnxconv process: --format lists and refusals,
/// "did you mean" hints, no .NET type names in messages, -o FOLDER, --shape checks, audit --value, the rewrites and
/// fusions columns, verify against test data, shell completion and the examples in --help.
/// </summary>
public sealed class ConsistentCliTests : IDisposable
{
    private static readonly string Bottleneck = Path.Combine(SharedData.RepositoryRoot, "models", "resnet_bottleneck.onnx");

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Each command with the arguments it needs to get as far as reading its options.</summary>
    private string[] CommandLine(string command) => command switch
    {
        "inspect" or "audit" => [command, Bottleneck],
        "verify" => [command, Bottleneck, Bottleneck],
        "rewrite" => [command, Bottleneck, "--to", "matmul", "-o", _temp.File("out.onnx")],
        "optimize" => [command, Bottleneck, "-o", _temp.File("out.onnx")],
        "bench" => [command, Bottleneck, "--runs", "2", "--warmup", "0"],
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    };

    public static TheoryData<string> ReportingCommands() => new() { "inspect", "audit", "verify", "rewrite", "optimize", "bench" };

    private static OutputFormat[] FormatsOf(string command) => command switch
    {
        "inspect" => ReportFormats.Inspect,
        "audit" => ReportFormats.Audit,
        "verify" => ReportFormats.Verify,
        "rewrite" => ReportFormats.Rewrite,
        "optimize" => ReportFormats.Optimize,
        _ => ReportFormats.Bench,
    };

    private static string Lower(OutputFormat format) => format.ToString().ToLowerInvariant();

    /// <summary>A usage error: exit 2, one line on stderr, nothing on stdout, no .NET type or stack trace, nothing written.</summary>
    private void AssertUsageError(CliInvocation run, string expected)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.Contains(expected, line);
        Assert.Empty(run.Stdout);
        Assert.DoesNotContain("System.", run.Stderr);
        Assert.DoesNotContain("Exception", run.Stderr);
        Assert.DoesNotContain(".tmp", run.Stderr);
        Assert.Empty(Directory.GetFileSystemEntries(_temp.Path));
    }

    [Theory]
    [MemberData(nameof(ReportingCommands))]
    public void HelpListsOnlyTheFormatsTheCommandTakesInLowerCase(string command)
    {
        var run = CliInvocation.RunProcess(command, "--help");

        Assert.Equal(0, run.ExitCode);
        string formats = string.Join('|', FormatsOf(command).Select(Lower));
        Assert.Contains($"--format <{formats}>", run.Stdout);
        Assert.Contains($"[default: {Lower(FormatsOf(command)[0])}]", run.Stdout);
        foreach (var other in Enum.GetValues<OutputFormat>().Except(FormatsOf(command)))
            Assert.DoesNotContain($"|{Lower(other)}", run.Stdout.Split('\n').Single(l => l.Contains("--format <", StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(ReportingCommands))]
    public void AnUnknownFormatIsAUsageErrorThatListsTheCommandsFormats(string command)
    {
        var run = CliInvocation.RunProcess([.. CommandLine(command), "--format", "yaml"]);

        AssertUsageError(run, $"onnxconv: --format yaml: not one of {string.Join(", ", FormatsOf(command).Select(Lower))}");
    }

    [Fact]
    public void AFormatAnotherCommandTakesIsRefusedToo()
    {
        var run = CliInvocation.RunProcess("inspect", Bottleneck, "--format", "markdown");

        AssertUsageError(run, "--format markdown: not one of text, json");
    }

    [Theory]
    [InlineData(new[] { "audit", "MODEL", "--formt", "json" }, "unknown option '--formt' for onnxconv audit; did you mean '--format'?")]
    [InlineData(new[] { "audti", "MODEL" }, "unknown command 'audti'; did you mean 'audit'?")]
    [InlineData(new[] { "optimize", "MODEL", "-o", "OUT", "--explian" }, "did you mean '--explain'?")]
    [InlineData(new[] { "rewrite", "MODEL", "-o", "OUT", "--to", "matmull" }, "--to matmull: not one of matmul, gemm, conv; did you mean 'matmul'?")]
    [InlineData(new[] { "bench", "MODEL", "--opt", "extnded" }, "--opt extnded: not one of none, basic, extended, all; did you mean 'extended'?")]
    [InlineData(new[] { "completion", "bsh" }, "completion bsh: not one of bash, zsh, pwsh; did you mean 'bash'")]
    [InlineData(new[] { "optimize", "MODEL", "-o", "OUT", "--rules", "fuse-bn-into-cnv" }, "--rules names unknown rule fuse-bn-into-cnv; did you mean 'fuse-bn-into-conv'?")]
    [InlineData(new[] { "optimize", "MODEL", "-o", "OUT", "--skip", "merge-conv-chian" }, "--skip names unknown rule merge-conv-chian; did you mean 'merge-conv-chain'?")]
    [InlineData(new[] { "rewrite", "MODEL", "-o", "OUT", "--to", "matmul", "--only", "conv33" }, "--only/--exclude name no candidate node: conv33; did you mean 'conv3'")]
    [InlineData(new[] { "rewrite", "MODEL", "-o", "OUT", "--to", "matmul", "--exclude", "downsample.1" }, "did you mean 'downsample.0'?")]
    public void AMisspelledNameGetsTheClosestKnownOne(string[] args, string expected)
    {
        var run = CliInvocation.RunProcess(args.Select(a => a switch { "MODEL" => Bottleneck, "OUT" => _temp.File("out.onnx"), _ => a }).ToArray());

        AssertUsageError(run, expected);
    }

    [Theory]
    [InlineData(new[] { "verify", "MODEL", "MODEL", "--trials", "three" }, "--trials three: expected a whole number")]
    [InlineData(new[] { "verify", "MODEL", "MODEL", "--rtol", "tiny" }, "--rtol tiny: expected a number")]
    [InlineData(new[] { "bench", "MODEL", "--runs", "1e9x" }, "--runs 1e9x: expected a whole number")]
    [InlineData(new[] { "convert", "MODEL", "-o", "OUT", "--external-data", "--threshold", "1k" }, "--threshold 1k: expected a whole number")]
    [InlineData(new[] { "rewrite", "MODEL", "-o", "OUT", "--to", "matmul", "--seed", "x" }, "--seed x: expected a whole number")]
    [InlineData(new[] { "audit" }, "Required argument 'model' missing")]
    [InlineData(new string[0], "give a command: inspect, audit, convert, verify, rewrite, optimize, bench, completion")]
    public void AValueOfTheWrongKindIsNamedInWordsNotAsADotNetType(string[] args, string expected)
    {
        var run = CliInvocation.RunProcess(args.Select(a => a switch { "MODEL" => Bottleneck, "OUT" => _temp.File("out.onnx"), _ => a }).ToArray());

        AssertUsageError(run, expected);
    }

    public static TheoryData<string[]> WritingCommands() => new()
    {
        new[] { "convert" },
        new[] { "rewrite", "--to", "matmul", "--no-verify" },
        new[] { "optimize", "--no-verify" },
    };

    [Theory]
    [MemberData(nameof(WritingCommands))]
    public void OutputToAnExistingFolderWritesTheInputsNameInIt(string[] command)
    {
        string folder = Directory.CreateDirectory(_temp.File("out")).FullName;
        var run = CliInvocation.RunProcess([command[0], Bottleneck, "-o", folder, .. command[1..]]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal([Path.Combine(folder, "resnet_bottleneck.onnx")], Directory.GetFiles(folder));
        Assert.Contains($"wrote {Path.Combine(folder, "resnet_bottleneck.onnx")}", run.Stdout);
    }

    [Theory]
    [MemberData(nameof(WritingCommands))]
    public void OutputToTheInputsOwnFolderIsRefusedLikeTheInputItself(string[] command)
    {
        string input = _temp.File("model.onnx");
        File.Copy(Bottleneck, input);
        byte[] before = File.ReadAllBytes(input);
        var run = CliInvocation.RunProcess([command[0], input, "-o", _temp.Path, .. command[1..]]);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"onnxconv: {input}: the output is the input model; pass --in-place to overwrite it", Assert.Single(run.StderrLines));
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.Equal([input], Directory.GetFileSystemEntries(_temp.Path));
    }

    public static TheoryData<string[]> ShapeCommands() => new()
    {
        new[] { "audit" },
        new[] { "verify", "MODEL" },
        new[] { "rewrite", "--to", "matmul", "-o", "OUT" },
        new[] { "rewrite", "--to", "matmul", "-o", "OUT", "--no-verify" },
        new[] { "optimize", "-o", "OUT" },
        new[] { "optimize", "-o", "OUT", "--no-verify" },
        new[] { "bench", "--runs", "1" },
    };

    [Theory]
    [MemberData(nameof(ShapeCommands))]
    public void AShapeThatContradictsAFixedDimIsAUsageErrorOnEveryCommand(string[] command) =>
        AssertUsageError(RunWithShape(command, "input=1,64,56,56"), $"--shape input: axis 1 is fixed to 128 in {Bottleneck}, not 64");

    [Theory]
    [MemberData(nameof(ShapeCommands))]
    public void AShapeWithTheWrongRankIsAUsageErrorOnEveryCommand(string[] command) =>
        AssertUsageError(RunWithShape(command, "input=1,128,56"), "--shape gives 3 dims for input 'input'");

    /// <summary>Runs <paramref name="command"/> on the bottleneck model with <c>--shape <paramref name="shape"/></c>.</summary>
    private CliInvocation RunWithShape(string[] command, string shape) =>
        CliInvocation.RunProcess([command[0], Bottleneck, .. command[1..].Select(a => a switch { "MODEL" => Bottleneck, "OUT" => _temp.File("out.onnx"), _ => a }), "--shape", shape]);

    /// <summary>y = If(mode == 1) then conv_a(x) else conv_b(x), both 1x1 convolutions.</summary>
    private string ModelWithAnIfOnAnInput()
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 4, 3, 3);
        b.Input("mode", DataType.Int64);
        string one = b.Initializer(TestModelBuilder.Int64Tensor("one", [], [1]));
        b.Node("Equal", ["mode", one], ["is_one"]);
        GraphProto Branch(string name, long outChannels)
        {
            var g = new GraphProto { Name = name };
            g.Initializer.Add(b.RandomTensor($"{name}_w", [outChannels, 4, 1, 1]));
            var conv = new NodeProto { OpType = "Conv", Name = $"{name}_conv" };
            conv.Input.AddRange(["x", $"{name}_w"]);
            conv.Output.Add($"{name}_y");
            g.Node.Add(conv);
            var flatten = new NodeProto { OpType = "ReduceSum", Name = $"{name}_sum" };
            flatten.Input.Add($"{name}_y");
            flatten.Output.Add($"{name}_s");
            flatten.Attribute.Add(Attr.Int("keepdims", 0));
            g.Node.Add(flatten);
            g.Output.Add(TestModelBuilder.ValueInfo($"{name}_s", DataType.Float, []));
            return g;
        }
        b.Node("If", ["is_one"], ["y"], Attr.Graph("then_branch", Branch("then", 8)), Attr.Graph("else_branch", Branch("else", 2)));
        b.Output("y", DataType.Float);
        return b.Save(_temp.File("if.onnx"));
    }

    [Fact]
    public void AuditValuePicksTheLiveBranchOfAnIf()
    {
        string model = ModelWithAnIfOnAnInput();

        var both = JsonNode.Parse(CliInvocation.RunProcess("audit", model, "--format", "json").Stdout)!;
        var thenOnly = CliInvocation.RunProcess("audit", model, "--format", "json", "--value", "mode=1");
        var elseOnly = CliInvocation.RunProcess("audit", model, "--format", "json", "--value", "mode=7");
        var text = CliInvocation.RunProcess("audit", model, "--value", "mode=1");

        Assert.Equal(["then_conv", "else_conv"], both["conv1x1"]!.AsArray().Select(r => (string)r!["node"]!));
        Assert.Empty(both["branchesNotTaken"]!.AsArray());
        Assert.True(thenOnly.ExitCode == 0, thenOnly.ToString());
        var then = JsonNode.Parse(thenOnly.Stdout)!;
        Assert.Equal(["then_conv"], then["conv1x1"]!.AsArray().Select(r => (string)r!["node"]!));
        Assert.Equal(1, (int)then["totals"]!["conv"]!);
        Assert.Single(then["branchesNotTaken"]!.AsArray());
        Assert.Equal(["else_conv"], JsonNode.Parse(elseOnly.Stdout)!["conv1x1"]!.AsArray().Select(r => (string)r!["node"]!));
        Assert.Contains("If branches never taken (condition known), left out:", text.Stdout);
    }

    [Fact]
    public void AuditValueNamingNoInputIsAUsageError()
    {
        string model = ModelWithAnIfOnAnInput();
        var run = CliInvocation.RunProcess("audit", model, "--value", "mood=1");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"onnxconv: --value names 'mood', but {model} has no input of that name (its inputs: 'x', 'mode')", Assert.Single(run.StderrLines));
    }

    [Theory]
    [InlineData("table")]
    [InlineData("markdown")]
    public void TextAndMarkdownAuditsShowWhichRewritesAndFusionsApply(string format)
    {
        var run = CliInvocation.RunProcess("audit", Bottleneck, "--format", format, "--no-rank");

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.Split('\n');
        string header = lines.First(l => l.Contains("node", StringComparison.Ordinal) && l.Contains("role", StringComparison.Ordinal));
        Assert.Contains("rewrites", header);
        Assert.Contains("fusions", header);
        string conv1 = lines.First(l => l.TrimStart('|', ' ').StartsWith("conv1 ", StringComparison.Ordinal));
        Assert.Contains(" matmul,gemm ", conv1);
        Assert.Contains("fuse-bn-into-conv", conv1);
    }

    /// <summary>y = x + 1 with an ONNX test-data folder whose stored output is x + <paramref name="storedOffset"/>.</summary>
    private (string Model, string Folder) AddOneWithTestData(float storedOffset)
    {
        var b = new TestModelBuilder(opset: 13);
        b.Input("x", 1, 4);
        string one = b.Initializer(TestModelBuilder.TensorOf("one", [1], [1.0]));
        b.Node("Add", ["x", one], ["y"]);
        b.Output("y", DataType.Float, 1, 4);
        string model = b.Save(_temp.File("add_one.onnx"));
        string set = Directory.CreateDirectory(_temp.File("case/test_data_set_0")).FullName;
        double[] x = [0.5, -1, 2, 3.25];
        File.WriteAllBytes(Path.Combine(set, "input_0.pb"), TestModelBuilder.TensorOf("x", [1, 4], x).ToByteArray());
        File.WriteAllBytes(Path.Combine(set, "output_0.pb"), TestModelBuilder.TensorOf("y", [1, 4], x.Select(v => v + storedOffset).ToArray()).ToByteArray());
        return (model, _temp.File("case"));
    }

    [Fact]
    public void VerifyOneModelAgainstItsStoredOutputs()
    {
        var (model, folder) = AddOneWithTestData(1);
        var pass = CliInvocation.RunProcess("verify", model, "--test-data", folder, "--format", "json");

        Assert.True(pass.ExitCode == 0, pass.ToString());
        Assert.True((bool)JsonNode.Parse(pass.Stdout)!["equivalent"]!);
    }

    [Fact]
    public void VerifyOneModelFindsAStoredOutputItDoesNotReproduce()
    {
        var (model, folder) = AddOneWithTestData(2);
        var fail = CliInvocation.RunProcess("verify", model, "--test-data", folder);

        Assert.True(fail.ExitCode == 1, fail.ToString());
    }

    [SkippableFact]
    public void VerifyOneModelAgainstAnOnnxBackendTestCase()
    {
        Shared.RequireRoot();
        string? testCase = SharedData.BackendTestCases().FirstOrDefault(d => Path.GetFileName(d) == "test_Conv1d");
        Skip.If(testCase is null, "test_Conv1d is not among the ONNX backend tests");
        var run = CliInvocation.RunProcess("verify", Path.Combine(testCase!, "model.onnx"), "--test-data", testCase!);

        Assert.True(run.ExitCode == 0, run.ToString());
    }

    [Fact]
    public void VerifyOneModelWithoutTestDataSaysWhatItNeeds()
    {
        var run = CliInvocation.RunProcess("verify", Bottleneck);

        AssertUsageError(run, "verify needs a candidate model to compare with, or --test-data DIR");
    }

    [Fact]
    public void AFailedWritesMessageNamesTheFileNotItsTempFile()
    {
        string destination = _temp.File("out.onnx");
        string temp = OnnxConvTool.Ir.TempFiles.PathBeside(destination);

        Assert.Equal($"Access to the path '{destination}' is denied.", OnnxConvTool.Ir.TempFiles.Scrub($"Access to the path '{temp}' is denied."));
        Assert.Equal("No space left on device : 'out.onnx'", OnnxConvTool.Ir.TempFiles.Scrub($"No space left on device : '{Path.GetFileName(temp)}'"));
    }

    /// <summary>What bash completes for <paramref name="line"/> with onnxconv's completion script sourced.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string[] BashCompletions(string line) =>
        RunShellWithCli("/bin/bash", ["-c"], """
            source <(onnxconv completion bash)
            COMP_LINE="$LINE"; COMP_POINT=${#COMP_LINE}
            read -r -a COMP_WORDS <<< "$COMP_LINE"
            [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            _onnxconv_complete
            printf '%s\n' "${COMPREPLY[@]}"
            """, line).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Runs <paramref name="script"/> in <paramref name="shell"/> with <paramref name="line"/> in $LINE and an <c>onnxconv</c>
    /// first on PATH that runs this build's CLI, as the completion scripts expect; returns stdout.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string RunShellWithCli(string shell, string[] options, string script, string line)
    {
        using var bin = new TempDirectory();
        string wrapper = bin.File("onnxconv");
        File.WriteAllText(wrapper, $"#!/bin/sh\nexec {CliInvocation.ShellCommand()} \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var start = new ProcessStartInfo(shell) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string option in options) start.ArgumentList.Add(option);
        start.ArgumentList.Add(script);
        start.Environment["PATH"] = bin.Path + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        start.Environment["LINE"] = line;
        var run = CliInvocation.RunProcess(start, TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 0, $"{shell} exited with {run.ExitCode}: {run.Stderr}");
        return run.Stdout;
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void BashCompletesACommand() => Assert.Equal(["audit"], BashCompletions("onnxconv au"));

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void BashCompletesAnOptionAndItsValues()
    {
        Assert.Contains("--format", BashCompletions("onnxconv audit model.onnx --fo"));
        Assert.Equal(["markdown"], BashCompletions("onnxconv audit model.onnx --format m"));
        Assert.Equal(ReportFormats.Audit.Select(Lower).Order(StringComparer.Ordinal), BashCompletions("onnxconv audit model.onnx --format ").Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// The command line zsh's own completion system makes of <paramref name="line"/> and a Tab, with onnxconv's completion
    /// script sourced after <c>compinit</c>: an interactive zsh in a pseudo-terminal (zsh/zpty) types the line, presses Tab,
    /// then prints the edited line between markers.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string ZshCompletedLine(string line)
    {
        string zsh = RequiredShell("/usr/bin/zsh", "install Debian's zsh (apt-get install zsh)");
        string output = RunShellWithCli(zsh, ["-f", "-c"], """
            zmodload zsh/zpty || exit 3
            zpty shell "zsh -f -i"
            zpty -w shell 'PS1="> "; bindkey -e; autoload -U compinit; compinit -u; source <(onnxconv completion zsh); print COMPLETION-READY'
            zpty -r -m shell setup '*COMPLETION-READY*' || exit 4
            zpty -w -n shell "$LINE"$'\t'
            sleep 4
            zpty -w -n shell $'\C-aprint -r -- "<""<" \C-e ">"">"\n'
            output=""
            for attempt in {1..100}; do
              zpty -r -t shell chunk && output+=$chunk
              [[ $output == *'<< '*' >>'* ]] && break
              sleep 0.1
            done
            zpty -d shell
            print -r -- "$output"
            """, line);
        var printed = System.Text.RegularExpressions.Regex.Match(output.Replace("\r", ""), @"^<< (.*) >>$", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(printed.Success, $"no completed line in zsh's output:\n{output}");
        return printed.Groups[1].Value.Trim();
    }

    /// <summary><paramref name="path"/> when it exists; else the test is skipped, or fails under CI=true.</summary>
    private static string RequiredShell(string path, string howToInstall)
    {
        if (File.Exists(path)) return path;
        string reason = $"{path} is missing: {howToInstall} to test its completion";
        if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException("CI=true but " + reason);
        Skip.If(true, reason);
        return path;
    }

    /// <summary>
    /// What PowerShell's own completion (<c>TabExpansion2</c>) offers for <paramref name="line"/> with onnxconv's completer
    /// registered as its script says. PowerShell: $ONNXCONV_PWSH (.ci/run installs the PowerShell dotnet tool), else /usr/bin/pwsh.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string[] PowerShellCompletions(string line)
    {
        string pwsh = RequiredShell(Environment.GetEnvironmentVariable("ONNXCONV_PWSH") is { Length: > 0 } path ? path : "/usr/bin/pwsh",
            "install PowerShell (dotnet tool install PowerShell --tool-path DIR, then ONNXCONV_PWSH=DIR/pwsh)");
        return RunShellWithCli(pwsh, ["-NoProfile", "-NonInteractive", "-Command"], """
            onnxconv completion pwsh | Out-String | Invoke-Expression
            (TabExpansion2 -inputScript $env:LINE -cursorColumn $env:LINE.Length).CompletionMatches | ForEach-Object CompletionText
            """, line).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void PowerShellCompletesACommandAndAnOptionValue()
    {
        Assert.Equal(["audit"], PowerShellCompletions("onnxconv au"));
        Assert.Equal(["audit"], PowerShellCompletions("cd /tmp; onnxconv au"));
        Assert.Equal(["markdown"], PowerShellCompletions("onnxconv audit model.onnx --format m"));
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void ZshCompletesACommand() => Assert.Equal("onnxconv audit", ZshCompletedLine("onnxconv au"));

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void ZshCompletesAnOptionValue() =>
        Assert.Equal("onnxconv audit model.onnx --format markdown", ZshCompletedLine("onnxconv audit model.onnx --format m"));

    [Theory]
    [InlineData("bash", "complete -o default -F _onnxconv_complete onnxconv")]
    [InlineData("zsh", "compdef _onnxconv onnxconv")]
    [InlineData("pwsh", "Register-ArgumentCompleter -Native -CommandName onnxconv")]
    public void CompletionPrintsAScriptForEachShell(string shell, string expected)
    {
        var run = CliInvocation.RunProcess("completion", shell);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains(expected, run.Stdout);
        Assert.Contains("[suggest:", run.Stdout);
    }

    [Fact]
    public void EveryCommandsHelpHasAnExampleThatRuns()
    {
        using var workspace = new TempDirectory();
        string cwd = Directory.CreateDirectory(Path.Combine(workspace.Path, "repo")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(cwd, "models"), Path.Combine(SharedData.RepositoryRoot, "models"));
        // In this order the examples feed each other: rewrite writes the matmul.onnx that verify and bench read.
        string[] commands = ["inspect", "audit", "convert", "rewrite", "verify", "optimize", "bench", "completion"];
        Assert.Equal(commands.Order(), OnnxConvCli.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null, default)).Subcommands.Select(c => c.Name).Order());
        foreach (string command in commands)
        {
            var help = CliInvocation.RunProcess(command, "--help");
            var lines = help.Stdout.Split('\n').Select(l => l.Trim()).ToList();
            int at = lines.IndexOf("Example:");
            Assert.True(at >= 0, $"{command} --help has no example:\n{help.Stdout}");
            string example = lines[at + 1];
            string invocation = example[example.IndexOf("onnxconv ", StringComparison.Ordinal)..].TrimEnd(')');
            var run = CliInvocation.RunProcessIn(cwd, invocation.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]);
            Assert.True(run.ExitCode == 0, $"{example}\n{run}");
            Assert.NotEmpty(run.Stdout);
        }
    }
}
