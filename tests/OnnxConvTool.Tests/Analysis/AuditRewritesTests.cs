using System.Text.Json;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Analysis;

/// <summary>
/// The audit's per-conv <c>rewrites</c> field must predict exactly what <c>onnxconv rewrite</c> then does:
/// the same nodes rewritten, with the same description, and the same reason where a rule does not apply.
/// </summary>
public sealed class AuditRewritesTests
{
    public static TheoryData<string, string> ModelsAndTargets()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in new[] { "matmul", "gemm" })
        {
            foreach (string name in SharedData.RealModelNames) data.Add("shared:" + name, target);
            foreach (string sample in new[] { "mnist_1x1.onnx", "squeezenet_fire.onnx", "resnet_bottleneck.onnx" }) data.Add("models:" + sample, target);
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(ModelsAndTargets))]
    public void AuditPredictsWhatRewriteDoes(string model, string target)
    {
        string path = model.StartsWith("shared:", StringComparison.Ordinal)
            ? Shared.RealModel(model["shared:".Length..])
            : Path.Combine(SharedData.RepositoryRoot, "models", model["models:".Length..]);
        using var temp = new TempDirectory();

        var audit = CliInvocation.Run("audit", path, "--format", "json", "--no-rank");
        Assert.True(audit.ExitCode == 0, audit.ToString());
        var rewrite = CliInvocation.Run("rewrite", path, "-o", temp.File("out.onnx"), "--to", target, "--no-verify", "--format", "json");
        Assert.True(rewrite.ExitCode == 0, rewrite.ToString());

        string rule = $"conv1x1-to-{target}";
        var predicted = new Dictionary<(string Graph, string Node), (bool Applies, string Text)>();
        using (var auditJson = JsonDocument.Parse(audit.Stdout))
        {
            foreach (var row in auditJson.RootElement.GetProperty("conv1x1").EnumerateArray())
            {
                var check = row.GetProperty("rewrites").EnumerateArray().Single(r => r.GetProperty("rule").GetString() == rule);
                bool applies = check.GetProperty("applies").GetBoolean();
                string text = (applies ? check.GetProperty("plan") : check.GetProperty("reason")).GetString()!;
                predicted[(row.GetProperty("graph").GetString()!, row.GetProperty("node").GetString()!)] = (applies, text);
            }
        }
        Assert.NotEmpty(predicted);

        using var rewriteJson = JsonDocument.Parse(rewrite.Stdout);
        int compared = 0;
        foreach (var candidate in rewriteJson.RootElement.GetProperty("candidates").EnumerateArray())
        {
            var key = (candidate.GetProperty("graph").GetString()!, candidate.GetProperty("node").GetString()!);
            if (!predicted.TryGetValue(key, out var expected)) continue;
            bool applied = candidate.GetProperty("applies").GetBoolean();
            string text = (applied ? candidate.GetProperty("done") : candidate.GetProperty("reason")).GetString()!;
            Assert.Equal((expected.Applies, expected.Text), (applied, text));
            compared++;
        }
        Assert.Equal(predicted.Count, compared);
    }

    [Fact]
    public void AuditGivesTheReasonARuleDoesNotApply()
    {
        var b = new TestModelBuilder(opset: 13, seed: 5);
        string x = b.Input("x", 1, 4, 12, 12);
        b.Output(b.Conv(x, 4, 6, [1, 1], attributes: [Attr.String("auto_pad", "SAME_UPPER"), Attr.Ints("strides", 3, 3)]), OnnxConvTool.Onnx.TensorProto.Types.DataType.Float, 1, 6, 4, 4);
        using var temp = new TempDirectory();
        string path = b.Save(temp.File("same3.onnx"));

        var audit = CliInvocation.Run("audit", path, "--format", "json");
        Assert.True(audit.ExitCode == 0, audit.ToString());
        using var json = JsonDocument.Parse(audit.Stdout);
        var checks = json.RootElement.GetProperty("conv1x1")[0].GetProperty("rewrites").EnumerateArray().ToArray();
        Assert.Equal(["conv1x1-to-matmul", "conv1x1-to-gemm"], checks.Select(c => c.GetProperty("rule").GetString()));
        var matmul = checks[0];
        Assert.False(matmul.GetProperty("applies").GetBoolean());
        Assert.Contains("SAME", matmul.GetProperty("reason").GetString());
        Assert.Equal(JsonValueKind.Null, matmul.GetProperty("plan").ValueKind);
    }
}
