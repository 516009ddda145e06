using System.Text.Json;
using OnnxConvTool.Tests.Cli;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

public sealed class AuditCliTests
{
    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void InspectAndAuditSucceedOnEveryRealModelInEveryFormat(string name)
    {
        string path = Shared.RealModel(name);
        var census = ProtoConvCensus.Take(path);

        var (code, text, error) = Run("inspect", path);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains($"1x1 convolutions: {census.Conv1x1.Count} of {census.ConvCount} Conv", text);

        (code, text, _) = Run("inspect", path, "--format", "json");
        Assert.Equal(0, code);
        using (var inspect = JsonDocument.Parse(text))
            Assert.Equal(census.ConvCount, inspect.RootElement.GetProperty("conv1x1").GetProperty("conv").GetInt32());

        (code, text, _) = Run("audit", path, "--format", "json");
        Assert.Equal(0, code);
        using (var audit = JsonDocument.Parse(text))
            Assert.Equal(census.Conv1x1.Count, audit.RootElement.GetProperty("conv1x1").GetArrayLength());

        (code, text, _) = Run("audit", path);
        Assert.Equal(0, code);
        Assert.Equal(census.Conv1x1.Count, text.Split('\n').Count(l => census.Conv1x1.Any(c => l.StartsWith(c.Node + " ", StringComparison.Ordinal))));

        (code, text, _) = Run("audit", path, "--format", "markdown");
        Assert.Equal(0, code);
        Assert.Equal(census.Conv1x1.Count + 2, text.Split('\n').Count(l => l.StartsWith('|')));

        (code, text, _) = Run("audit", path, "--format", "html");
        Assert.Equal(0, code);
        Assert.Equal(census.Conv1x1.Count, text.Split("<tr id=\"conv1x1-").Length - 1);
    }

    [Fact]
    public void TableColumnsAreAligned()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(seed: 1);
        string a = b.Conv(b.Input("x", 1, 3, 8, 8), 3, 128, [1, 1]);
        b.Output(b.Conv(a, 128, 5, [1, 1]));
        var (code, text, _) = Run("audit", b.Save(temp.File("m.onnx")));

        Assert.Equal(0, code);
        var lines = text.Split('\n');
        int header = Array.FindIndex(lines, l => l.StartsWith("node ", StringComparison.Ordinal));
        var table = lines.Skip(header).TakeWhile(l => l.Length > 0).ToList();
        Assert.Equal(4, table.Count);
        int roleColumn = table[0].IndexOf("role", StringComparison.Ordinal);
        Assert.All(table.Skip(2), l => Assert.NotEqual(' ', l[roleColumn]));
        Assert.All(table.Skip(2), l => Assert.Equal(' ', l[roleColumn - 1]));
    }

    [Fact]
    public void ShapeOptionIsRecordedInTheReport()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(seed: 2);
        b.Output(b.Conv(b.Input("x", "N", 3, "H", "W"), 3, 8, [1, 1]));
        var (code, text, _) = Run("audit", b.Save(temp.File("m.onnx")), "--shape", "x=2,3,16,S", "--format", "json");

        Assert.Equal(0, code);
        using var document = JsonDocument.Parse(text);
        var dims = document.RootElement.GetProperty("shapeOverrides").GetProperty("x");
        Assert.Equal("[2,3,16,\"S\"]", dims.GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""));
    }

    [Fact]
    public void NoRankLeavesWeightRanksOut()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(seed: 5);
        b.Output(b.Conv(b.Input("x", 1, 3, 4, 4), 3, 8, [1, 1]));
        string model = b.Save(temp.File("m.onnx"));

        using var ranked = JsonDocument.Parse(Run("audit", model, "--format", "json").Out);
        using var unranked = JsonDocument.Parse(Run("audit", model, "--format", "json", "--no-rank").Out);
        Assert.Equal(3, ranked.RootElement.GetProperty("conv1x1")[0].GetProperty("weightRank").GetInt32());
        Assert.Equal(JsonValueKind.Null, unranked.RootElement.GetProperty("conv1x1")[0].GetProperty("weightRank").ValueKind);
        Assert.Equal(JsonValueKind.Null, unranked.RootElement.GetProperty("conv1x1")[0].GetProperty("rankDeficient").ValueKind);
    }

    [Theory]
    [InlineData("y=1,3,8,8", "has no input of that name")]
    [InlineData("x=1,3,8", "gives 3 dims for input 'x'")]
    [InlineData("x=1,3,-8,8", "dim '-8' is neither a non-negative integer nor a symbol name")]
    [InlineData("1,3,8,8", "is not NAME=d0,d1,...")]
    public void BadShapeOptionIsAUsageError(string shape, string message)
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(seed: 3);
        b.Output(b.Conv(b.Input("x", "N", 3, "H", "W"), 3, 8, [1, 1]));
        var (code, text, error) = Run("audit", b.Save(temp.File("m.onnx")), "--shape", shape);

        Assert.Equal(2, code);
        Assert.Equal("", text);
        Assert.Contains(message, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void ReportOptionWritesTheFileAndNothingToStdout()
    {
        using var temp = new TempDirectory();
        var b = new TestModelBuilder(seed: 4);
        b.Output(b.Conv(b.Input("x", 1, 3, 4, 4), 3, 8, [1, 1]));
        string report = temp.File("audit.md");
        var (code, text, _) = Run("audit", b.Save(temp.File("m.onnx")), "--format", "markdown", "--report", report);

        Assert.Equal(0, code);
        Assert.Equal("", text);
        Assert.StartsWith("### 1x1 convolutions in m.onnx: 1 of 1 Conv", File.ReadAllText(report));
    }

    [Fact]
    public void MissingModelIsRejectedWithExitCode3()
    {
        using var temp = new TempDirectory();
        var (code, text, error) = Run("audit", temp.File("absent.onnx"));
        Assert.Equal(3, code);
        Assert.Equal("", text);
        Assert.Contains("absent.onnx", error);
    }

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var run = CliInvocation.Run(args);
        return (run.ExitCode, run.Stdout, run.Stderr);
    }
}
