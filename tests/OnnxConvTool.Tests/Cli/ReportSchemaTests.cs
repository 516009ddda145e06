using System.Text.Json.Nodes;
using Json.Schema;
using OnnxConvTool.Cli;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// Every command's --format json report, from the real onnxconv process, starts with schemaVersion and is valid
/// against the schema shipped inside onnxconv (<see cref="JsonReports.Schema"/>).
/// </summary>
public sealed class ReportSchemaTests : IDisposable
{
    private static readonly string Bottleneck = Path.Combine(SharedData.RepositoryRoot, "models", "resnet_bottleneck.onnx");

    private static readonly Dictionary<string, JsonSchema> Schemas = new[] { "inspect", "audit", "verify", "rewrite", "optimize", "bench" }
        .ToDictionary(c => c, c => JsonSchema.FromText(JsonReports.Schema(c)));

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static EvaluationResults Evaluate(string command, JsonNode report) =>
        Schemas[command].Evaluate(report, new EvaluationOptions { OutputFormat = Json.Schema.OutputFormat.List });

    private static void AssertValid(string command, CliInvocation run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        var report = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("schemaVersion", report.AsObject().First().Key);
        Assert.Equal(JsonReports.SchemaVersion, (int)report["schemaVersion"]!);
        var result = Evaluate(command, report);
        Assert.True(result.IsValid, string.Join("\n", result.Details.Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Value}"))));
    }

    [Fact]
    public void Inspect() => AssertValid("inspect", CliInvocation.RunProcess("inspect", Bottleneck, "--format", "json"));

    [Fact]
    public void Audit() => AssertValid("audit", CliInvocation.RunProcess("audit", Bottleneck, "--format", "json"));

    [Fact]
    public void RewriteVerifyAndBench()
    {
        string output = _temp.File("matmul.onnx");
        AssertValid("rewrite", CliInvocation.RunProcess("rewrite", Bottleneck, "--to", "matmul", "-o", output, "--format", "json"));
        AssertValid("rewrite", CliInvocation.RunProcess("rewrite", Bottleneck, "--to", "gemm", "-o", _temp.File("gemm.onnx"), "--no-verify", "--format", "json"));
        AssertValid("verify", CliInvocation.RunProcess("verify", Bottleneck, output, "--localize", "--format", "json"));
        AssertValid("bench", CliInvocation.RunProcess("bench", Bottleneck, output, "--runs", "3", "--warmup", "1", "--format", "json"));
    }

    [Fact]
    public void Optimize()
    {
        AssertValid("optimize", CliInvocation.RunProcess("optimize", Bottleneck, "-o", _temp.File("a.onnx"), "--explain", "--to", "gemm", "--format", "json"));
        AssertValid("optimize", CliInvocation.RunProcess("optimize", Bottleneck, "-o", _temp.File("b.onnx"), "--no-verify", "--format", "json"));
    }

    [Fact]
    public void TheSchemasRejectAReportWithoutItsVersionOrWithAFieldOfTheWrongType()
    {
        var report = JsonNode.Parse(CliInvocation.RunProcess("inspect", Bottleneck, "--format", "json").Stdout)!.AsObject();
        Assert.True(Evaluate("inspect", report).IsValid);

        var unversioned = report.DeepClone().AsObject();
        unversioned.Remove("schemaVersion");
        Assert.False(Evaluate("inspect", unversioned).IsValid);

        var wrongType = report.DeepClone().AsObject();
        wrongType["nodes"] = "twelve";
        Assert.False(Evaluate("inspect", wrongType).IsValid);
    }

    [Fact]
    public void EveryReportingCommandHasASchema()
    {
        var root = OnnxConvCli.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null, default));
        var withJson = root.Subcommands.Where(c => c.Options.Any(o => o.Name == "--format")).Select(c => c.Name).Order();
        Assert.Equal(Schemas.Keys.Order(), withJson);
    }
}
