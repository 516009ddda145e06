using System.Text.Json;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

public sealed class AuditJsonContractTests
{
    private static readonly Lazy<JsonSchemaSubset> Schema = new(() => JsonSchemaSubset.Load("src", "OnnxConvTool", "Analysis", "audit-report.schema.json"));

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void RealModelReportsConformToTheSchema(string name)
    {
        var report = Conv1x1Audit.Run(ModelReader.Load(Shared.RealModel(name)));
        AssertConforms(AuditJson.Serialize(report));
    }

    [Fact]
    public void ReportWithKnownMacsSymbolicDimsAndRewritesConformsToTheSchema()
    {
        var b = new TestModelBuilder(seed: 2);
        string y = b.Conv(b.Input("x", 1, 4, 5, 5), 4, 8, [1, 1], group: 2);
        b.Output(y, Onnx.TensorProto.Types.DataType.Float, 1, 8, 5, 5);
        b.Output(b.Conv(b.Input("z", "N", 3, "H", 7), 3, 6, [1, 1]));
        var report = Conv1x1Audit.Run(b.ToIr(), new AuditOptions { RewriteChecks = [new NamedCheck()], FusionChecks = [new NamedCheck()] });
        string json = AuditJson.Serialize(report);

        AssertConforms(json);
        using var document = JsonDocument.Parse(json);
        var first = document.RootElement.GetProperty("conv1x1")[0];
        Assert.Equal(4 * 8 * 25 / 2, first.GetProperty("macs").GetInt64());
        Assert.Equal("conv1x1-test", first.GetProperty("rewrites")[0].GetProperty("rule").GetString());
        var second = document.RootElement.GetProperty("conv1x1")[1];
        Assert.Equal(JsonValueKind.Null, second.GetProperty("macs").ValueKind);
        Assert.Equal("H", second.GetProperty("inputSpatial")[0].GetString());
        Assert.Equal(7, second.GetProperty("inputSpatial")[1].GetInt64());
        Assert.False(second.GetProperty("rewrites")[0].GetProperty("applies").GetBoolean());
        Assert.Equal("The input is not x.", second.GetProperty("fusions")[0].GetProperty("reason").GetString());
    }

    [Fact]
    public void RewritesAreAbsentWhenNoRuleIsChecked()
    {
        var b = new TestModelBuilder(seed: 3);
        b.Output(b.Conv(b.Input("x", 1, 4, 5, 5), 4, 8, [1, 1]));
        using var document = JsonDocument.Parse(AuditJson.Serialize(Conv1x1Audit.Run(b.ToIr())));
        Assert.False(document.RootElement.GetProperty("conv1x1")[0].TryGetProperty("rewrites", out _));
        Assert.False(document.RootElement.GetProperty("conv1x1")[0].TryGetProperty("fusions", out _));
    }

    [Fact]
    public void ValidatorRejectsAReportThatBreaksTheContract()
    {
        var b = new TestModelBuilder(seed: 4);
        b.Output(b.Conv(b.Input("x", 1, 4, 5, 5), 4, 8, [1, 1]));
        string json = AuditJson.Serialize(Conv1x1Audit.Run(b.ToIr()))
            .Replace("\"weight\": \"initializer\"", "\"weight\": \"somewhere\"")
            .Replace("\"conv1x1\": 1,", "\"conv1x1\": \"one\",")
            .Replace("\"group\": 1,", "");
        using var document = JsonDocument.Parse(json);
        var errors = Schema.Value.Validate(document.RootElement);

        Assert.Contains(errors, e => e.Contains("$.conv1x1[0].weight", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("$.totals.conv1x1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'group' is missing", StringComparison.Ordinal));
    }

    [Fact]
    public void EveryRequiredFieldOfTheBriefIsInTheSchema()
    {
        string path = Path.Combine(SharedData.RepositoryRoot, "src", "OnnxConvTool", "Analysis", "audit-report.schema.json");
        using var schema = JsonDocument.Parse(File.ReadAllText(path));
        var root = schema.RootElement;
        var top = Required(root);
        var row = Required(root.GetProperty("$defs").GetProperty("conv1x1"));
        var totals = Required(root.GetProperty("$defs").GetProperty("totals"));

        Assert.Subset(top, new HashSet<string> { "model", "conv1x1", "totals" });
        Assert.Subset(row, new HashSet<string> { "node", "graph", "rank", "inChannels", "outChannels", "group", "strides", "pads", "dilations", "weight", "macs", "params", "role" });
        Assert.Subset(totals, new HashSet<string> { "conv", "conv1x1", "macs", "conv1x1Macs" });
    }

    private static HashSet<string> Required(JsonElement schema) =>
        schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()!).ToHashSet();

    private static void AssertConforms(string json)
    {
        using var document = JsonDocument.Parse(json);
        var errors = Schema.Value.Validate(document.RootElement);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    private sealed class NamedCheck : IConv1x1RewriteCheck
    {
        public string RuleId => "conv1x1-test";

        public RewriteApplicability Check(Node conv) =>
            conv.Outputs[0].IsGraphOutput && conv.Inputs[0]!.Name == "x"
                ? new RewriteApplicability(RuleId, true, null, "Test rewrite.")
                : new RewriteApplicability(RuleId, false, "The input is not x.", null);
    }
}
