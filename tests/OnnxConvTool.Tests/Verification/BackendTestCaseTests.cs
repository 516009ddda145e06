using Google.Protobuf;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Verification;

/// <summary>
/// Every ONNX backend test case in ../shared: <c>verify MODEL MODEL --test-data CASE</c> runs the stored
/// inputs and checks ONNX Runtime's outputs against the stored reference outputs. No case is skipped.
/// ONNX Runtime 1.31 has no kernels for BatchNormalization-6 and Gemm-6 (its CPU kernels start at opset 7),
/// so on those cases verify must exit 6 naming the missing kernel; the test then upgrades the case to
/// opset 7 — dropping BatchNormalization's <c>is_test</c> and Gemm's <c>broadcast</c>, which opset 7
/// removed without changing what the single node computes — and requires the stored outputs to match.
/// </summary>
public sealed class BackendTestCaseTests
{
    private static readonly Dictionary<string, int> FirstVersionWithAnOrtKernel = new()
    {
        ["BatchNormalization"] = 7,
        ["Gemm"] = 7,
    };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string folder in SharedData.BackendTestCases()) data.Add(Path.GetFileName(folder));
        if (data.Count == 0) data.Add("(../shared is missing)");
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void StoredOutputsAreReproduced(string name)
    {
        string folder = Shared.BackendTestCase(name);
        string model = Path.Combine(folder, "model.onnx");
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(model));
        long opset = proto.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version;
        var missing = proto.Graph.Node.Where(n => FirstVersionWithAnOrtKernel.TryGetValue(n.OpType, out int first) && opset < first).ToList();

        var result = CliInvocation.Run("verify", model, model, "--test-data", folder);
        if (missing.Count == 0)
        {
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("result: equivalent", result.Stdout);
            Assert.Contains("reference vs stored", result.Stdout);
            return;
        }

        Assert.True(result.ExitCode == 6, result.ToString());
        Assert.Contains($"Could not find an implementation for {missing[0].OpType}({opset})", result.Stderr);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));

        using var temp = new TempDirectory();
        string upgraded = temp.File("model.onnx");
        File.WriteAllBytes(upgraded, UpgradeToOpset7(proto).ToByteArray());
        var rerun = CliInvocation.Run("verify", upgraded, upgraded, "--test-data", folder);
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Contains("reference vs stored", rerun.Stdout);
    }

    private static ModelProto UpgradeToOpset7(ModelProto proto)
    {
        var upgraded = proto.Clone();
        upgraded.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version = 7;
        foreach (var node in upgraded.Graph.Node)
        {
            string[] removed = node.OpType switch
            {
                "BatchNormalization" => ["is_test", "consumed_inputs"],
                "Gemm" => ["broadcast"],
                _ => [],
            };
            foreach (var attribute in node.Attribute.Where(a => removed.Contains(a.Name)).ToList()) node.Attribute.Remove(attribute);
        }
        Assert.All(upgraded.Graph.Node, n => Assert.Contains(n.OpType, new[] { "BatchNormalization", "Gemm" }));
        return upgraded;
    }
}
