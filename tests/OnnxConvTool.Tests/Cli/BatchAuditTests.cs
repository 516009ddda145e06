using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Analysis;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// <c>onnxconv audit DIR [--recursive]</c> and <c>audit A B</c> through the real CLI process: a folder with good models,
/// a file that is no model and a subfolder; every model reported in path order, the bad one skipped with its reason.
/// </summary>
public sealed class BatchAuditTests : IDisposable
{
    private static readonly Lazy<JsonSchemaSubset> LineSchema = new(() => JsonSchemaSubset.Load("src", "OnnxConvTool.Cli", "Schemas", "audit-batch-line.schema.json"));
    private static readonly Lazy<JsonSchemaSubset> ReportSchema = new(() => JsonSchemaSubset.Load("src", "OnnxConvTool", "Analysis", "audit-report.schema.json"));

    private readonly TempDirectory _temp = new();
    private readonly string _folder;
    private readonly string _resnet;
    private readonly string _mnist;
    private readonly string _bad;
    private readonly string _nested;

    public BatchAuditTests()
    {
        _folder = Directory.CreateDirectory(_temp.File("models")).FullName;
        _resnet = SampleModels.ResNetBottleneck().Save(Path.Combine(_folder, "b-resnet.onnx"));
        _mnist = SampleModels.Mnist1x1().Save(Path.Combine(_folder, "c-mnist.onnx"));
        _bad = Path.Combine(_folder, "a-bad.onnx");
        File.WriteAllText(_bad, "this is not a protobuf\n");
        File.WriteAllText(Path.Combine(_folder, "notes.txt"), "not a model");
        string sub = Directory.CreateDirectory(Path.Combine(_folder, "sub")).FullName;
        _nested = SampleModels.NinMlpconv().Save(Path.Combine(sub, "nin.onnx"));
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>Each stdout line parsed, after checking it against the line schema (and a model line against the audit report's).</summary>
    private static List<JsonObject> Lines(CliInvocation run)
    {
        var lines = new List<JsonObject>();
        foreach (string line in run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var document = JsonDocument.Parse(line);
            Assert.Empty(LineSchema.Value.Validate(document.RootElement));
            if (document.RootElement.GetProperty("kind").GetString() == "model") Assert.Empty(ReportSchema.Value.Validate(document.RootElement));
            lines.Add(JsonNode.Parse(line)!.AsObject());
        }
        return lines;
    }

    [Fact]
    public void FolderJsonlHasOneSchemaLineSummaryPerModelInPathOrderAndSkipsTheBadOneWithExit3()
    {
        var run = CliInvocation.RunProcess("audit", _folder, "--format", "jsonl", "--no-rank");

        Assert.True(run.ExitCode == (int)ExitCode.InputRejected, run.ToString());
        var lines = Lines(run);
        Assert.Equal(["error", "model", "model", "summary"], lines.Select(l => (string)l["kind"]!));
        Assert.All(lines, l => Assert.Equal(1, (int)l["schemaVersion"]!));
        Assert.Equal([_bad, _resnet, _mnist], lines.Take(3).Select(l => (string)l["model"]!));
        Assert.Equal(3, (int)lines[0]["exitCode"]!);
        Assert.StartsWith($"{_bad}: ", (string)lines[0]["error"]!);
        string stderr = Assert.Single(run.StderrLines);
        Assert.StartsWith($"onnxconv: {_bad}: ", stderr);

        var summary = lines[^1];
        Assert.Equal((3, 2, 1), ((int)summary["models"]!, (int)summary["audited"]!, (int)summary["failed"]!));
        var totals = summary["totals"]!;
        Assert.Equal(3 + 2, (int)totals["conv1x1"]!);
        Assert.Equal(4 + 3, (int)totals["conv"]!);
        Assert.Equal(3, (int)totals["fold"]!); // each 1x1 conv of the bottleneck has its own BatchNormalization
        long macs = lines.Skip(1).Take(2).Sum(l => (long)l["totals"]!["macs"]!);
        Assert.Equal(macs, (long)totals["macs"]!);
    }

    [Fact]
    public void RecursiveAlsoAuditsSubfolders()
    {
        var run = CliInvocation.RunProcess("audit", _folder, "--recursive", "--format", "jsonl", "--no-rank");

        Assert.Equal((int)ExitCode.InputRejected, run.ExitCode);
        var lines = Lines(run);
        Assert.Equal([_bad, _resnet, _mnist, _nested], lines.SkipLast(1).Select(l => (string)l["model"]!));
        Assert.Equal(4, (int)lines[^1]["models"]!);
        Assert.Null(lines[^1]["totals"]!["macs"]); // the nested model's MACs are symbolic
    }

    [Fact]
    public void ParallelAuditGivesTheSameLinesAsSerialAndAsSingleModelAudits()
    {
        var parallel = CliInvocation.RunProcess("audit", _folder, "-r", "--format", "jsonl", "--jobs", "2");
        var serial = CliInvocation.RunProcess("audit", _folder, "-r", "--format", "jsonl", "--jobs", "1");

        Assert.Equal(serial.Stdout, parallel.Stdout);
        Assert.Equal(serial.ExitCode, parallel.ExitCode);
        foreach (var line in Lines(parallel).Where(l => (string)l["kind"]! == "model"))
        {
            var single = CliInvocation.RunProcess("audit", (string)line["model"]!, "--format", "json");
            Assert.Equal(0, single.ExitCode);
            line.Remove("kind");
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(single.Stdout), line), $"{line["model"]}: the batch line differs from the single audit");
        }
    }

    [Fact]
    public void SeveralFilesGiveEachTableThenAPlainSummaryTable()
    {
        var run = CliInvocation.RunProcess("audit", _mnist, _resnet, "--no-rank");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(run.Stderr);
        Assert.DoesNotContain('\u001b', run.Stdout);
        var single = CliInvocation.RunProcess("audit", _mnist, "--no-rank");
        Assert.StartsWith(single.Stdout + "\n" + CliInvocation.RunProcess("audit", _resnet, "--no-rank").Stdout, run.Stdout);
        string[] summary = run.Stdout.Split('\n').SkipWhile(l => !l.StartsWith("+")).ToArray();
        Assert.Contains(summary, l => l.Contains(_mnist) && l.Contains(" ok ") && l.Contains("1.4%"));
        Assert.Contains(summary, l => l.Contains("total: 2 models") && l.Contains(" ok "));
    }

    [Fact]
    public void JsonFormatIsOneArrayOfTheLines()
    {
        var jsonl = CliInvocation.RunProcess("audit", _folder, "--format", "jsonl", "--no-rank");
        var json = CliInvocation.RunProcess("audit", _folder, "--format", "json", "--no-rank");

        Assert.Equal(jsonl.ExitCode, json.ExitCode);
        var array = JsonNode.Parse(json.Stdout)!.AsArray();
        Assert.Equal(Lines(jsonl).Count, array.Count);
        foreach (var (line, element) in Lines(jsonl).Zip(array)) Assert.True(JsonNode.DeepEquals(line, element));
    }

    [Fact]
    public void TableSummaryMarksTheRejectedModel()
    {
        var run = CliInvocation.RunProcess("audit", _folder, "--no-rank");

        Assert.Equal((int)ExitCode.InputRejected, run.ExitCode);
        Assert.Contains(run.Stdout.Split('\n'), l => l.Contains(_bad) && l.Contains("rejected"));
        Assert.Contains(run.Stdout.Split('\n'), l => l.Contains("total: 3 models") && l.Contains("1 failed"));
        Assert.StartsWith($"onnxconv: {_bad}: ", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void AFolderWithoutModelsIsRejectedAndRecursiveWithoutAFolderOrHtmlForSeveralIsAUsageError()
    {
        string empty = Directory.CreateDirectory(_temp.File("empty")).FullName;
        var none = CliInvocation.RunProcess("audit", empty);
        Assert.Equal((int)ExitCode.InputRejected, none.ExitCode);
        Assert.StartsWith($"onnxconv: {empty}: no .onnx model found", Assert.Single(none.StderrLines));

        var recursive = CliInvocation.RunProcess("audit", _mnist, "--recursive");
        Assert.Equal((int)ExitCode.UsageError, recursive.ExitCode);
        Assert.Contains("--recursive", Assert.Single(recursive.StderrLines));

        var html = CliInvocation.RunProcess("audit", _mnist, _resnet, "--format", "html");
        Assert.Equal((int)ExitCode.UsageError, html.ExitCode);
        Assert.Contains("--format html renders one model", Assert.Single(html.StderrLines));
        Assert.Empty(html.Stdout);
    }
}
