using System.Text.RegularExpressions;
using OnnxConvTool.Ir;
using OnnxConvTool.Samples;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Readme;

/// <summary>
/// The README's "Use it from C#" section: its code blocks are exactly the steps of tests/OnnxConvTool.Samples
/// (compiled against the libraries' public API only), and the steps do what the README says on a real model.
/// </summary>
public sealed partial class CSharpGuideTests : IDisposable
{
    private static readonly string SamplesSource = Path.Combine(SharedData.RepositoryRoot, "tests", "OnnxConvTool.Samples", "Guide.cs");
    private static readonly string Bottleneck = Path.Combine(SharedData.RepositoryRoot, "models", "resnet_bottleneck.onnx");

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [GeneratedRegex(@"^ *// begin: (?<name>[a-z]+)\n(?<code>.*?)^ *// end: \k<name>\n", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex SampleRegion();

    [GeneratedRegex(@"^<!-- csharp-guide: (?<name>[a-z]+) -->\n```csharp\n(?<code>.*?)```\n", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex ReadmeBlock();

    /// <summary>Removes the indentation every non-empty line shares.</summary>
    private static string Dedent(string code)
    {
        var lines = code.TrimEnd('\n').Split('\n');
        int indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart(' ').Length);
        return string.Join("\n", lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart(' '))) + "\n";
    }

    [Fact]
    public void ReadmeShowsEverySampleVerbatim()
    {
        var samples = SampleRegion().Matches(File.ReadAllText(SamplesSource).Replace("\r\n", "\n"))
            .ToDictionary(m => m.Groups["name"].Value, m => Dedent(m.Groups["code"].Value));
        var shown = ReadmeBlock().Matches(File.ReadAllText(Path.Combine(SharedData.RepositoryRoot, "README.md")).Replace("\r\n", "\n"))
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["code"].Value);
        Assert.Equal(["audit", "load", "optimize", "pipeline", "save", "verify"], samples.Keys.Order());
        Assert.Equal(samples.Keys.Order(), shown.Keys.Order());
        foreach (var (name, code) in samples) Assert.Equal(code, shown[name]);
    }

    [Fact]
    public void TheStepsLoadAuditOptimizeVerifyAndSave()
    {
        var model = Guide.Load(Bottleneck);
        var audit = Guide.Audit(model);
        Assert.Equal(3, audit.Totals.Conv1x1);
        Assert.Equal(4, model.AllNodes().Count(n => n.OpType == "BatchNormalization"));

        var result = Guide.Optimize(model);
        Assert.True(result.Modified);
        Assert.DoesNotContain(model.AllNodes(), n => n.OpType == "BatchNormalization");
        Assert.DoesNotContain(model.AllNodes(), n => n.OpType == "Conv" && n.GetInts("kernel_shape") is [1, 1]);

        var report = Guide.Verify(Bottleneck, model, result);
        Assert.True(report.Equivalent, report.Summary);

        string output = _temp.File("optimized.onnx");
        var saved = Guide.Save(model, report, output);
        Assert.NotNull(saved);
        var written = ModelReader.Load(output);
        Assert.DoesNotContain(written.AllNodes(), n => n.OpType == "BatchNormalization");
        Assert.Equal(model.AllNodes().Count(n => n.OpType == "MatMul"), written.AllNodes().Count(n => n.OpType == "MatMul"));
    }

    [Fact]
    public void ThePipelineVerifiesAndWritesInOneCall()
    {
        string output = _temp.File("pipeline.onnx");
        var run = Guide.Pipeline(Bottleneck, output);
        Assert.True(run.Written, run.Verification?.Summary);
        Assert.True(run.Verification!.Equivalent);
        Assert.DoesNotContain(ModelReader.Load(output).AllNodes(), n => n.OpType == "BatchNormalization");
    }
}
