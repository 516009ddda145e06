using System.Text.RegularExpressions;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// <c>audit</c> and <c>optimize</c> with <c>--format html</c>, read as text: one page that fetches nothing, model
/// strings escaped, stdout without <c>--report</c>. HtmlReportBrowserTests renders the same pages in Chromium.
/// </summary>
public sealed partial class HtmlReportTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A node name that closes the table cell and opens a script, if it were not escaped.</summary>
    public const string ScriptName = "</td><script>document.title='escaped badly'</script>";

    /// <summary>A node name with both quotes, an ampersand and angle brackets.</summary>
    public const string QuotedName = "expand<1> & \"x\" 'y'";

    /// <summary>
    /// x [1,16,8,8] → 1x1 expansion (16→32) → Relu → 3x3 conv → 1x1 reduction (32→8) → BatchNormalization → 1x1 mixing
    /// (8→8) → GlobalAveragePool → 1x1 projection head (8→4) → Flatten → MatMul (4→6) → Gemm (6→3): seven layers
    /// with MACs, four of them 1x1 convolutions of four roles; names with HTML's special characters.
    /// </summary>
    public static string SaveRolesModel(string path)
    {
        var b = new TestModelBuilder(opset: 13, seed: 4242);
        string x = b.Input("x", 1, 16, 8, 8);
        x = b.Relu(b.HeConv(x, 16, 32, kernel: 1, name: QuotedName));
        x = b.HeConv(x, 32, 32, kernel: 3, name: "conv3x3 & co");
        x = b.BatchNormalization(b.HeConv(x, 32, 8, kernel: 1, name: ScriptName), 8, "bn");
        x = b.HeConv(x, 8, 8, kernel: 1, name: "mix");
        x = b.HeConv(b.GlobalAveragePool(x), 8, 4, kernel: 1, name: "head");
        x = b.Gemm(b.MatMul(b.Flatten(x), 4, 6, name: "matmul"), 6, 3, name: "gemm");
        b.FloatOutput(x, 1, 3);
        return b.Save(path);
    }

    [Fact]
    public void AuditWritesOnePageThatLoadsNothingFromOutside()
    {
        string report = _temp.File("report.html");
        var run = CliInvocation.Run("audit", SaveRolesModel(_temp.File("roles.onnx")), "--format", "html", "--report", report);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stdout);
        string html = File.ReadAllText(report);
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("Content-Security-Policy\" content=\"default-src 'none';", html, StringComparison.Ordinal);
        // The SVG namespace is a name, not a fetch; nothing else may point outside the page.
        string withoutNamespace = html.Replace("xmlns=\"http://www.w3.org/2000/svg\"", "", StringComparison.Ordinal);
        Assert.DoesNotMatch(ExternalReference(), withoutNamespace);
    }

    [Fact]
    public void AuditEscapesNodeNamesEverywhere()
    {
        string report = _temp.File("report.html");
        var run = CliInvocation.Run("audit", SaveRolesModel(_temp.File("roles.onnx")), "--format", "html", "--report", report);

        Assert.True(run.ExitCode == 0, run.ToString());
        string html = File.ReadAllText(report);
        Assert.Single(Regex.Matches(html, "<script", RegexOptions.IgnoreCase));
        Assert.DoesNotContain(ScriptName, html, StringComparison.Ordinal);
        Assert.DoesNotContain(QuotedName, html, StringComparison.Ordinal);
        Assert.Contains("&lt;/td&gt;&lt;script&gt;document.title=&#39;escaped badly&#39;&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("expand&lt;1&gt; &amp; &quot;x&quot; &#39;y&#39;", html, StringComparison.Ordinal);
    }

    [Fact]
    public void AuditWithoutReportWritesThePageToStdout()
    {
        string model = SaveRolesModel(_temp.File("roles.onnx"));
        string report = _temp.File("report.html");

        var toStdout = CliInvocation.Run("audit", model, "--format", "html");
        var toFile = CliInvocation.Run("audit", model, "--format", "html", "--report", report);

        Assert.True(toStdout.ExitCode == 0, toStdout.ToString());
        Assert.Equal("", toStdout.Stderr);
        Assert.Equal(File.ReadAllText(report), toStdout.Stdout);
    }

    [Fact]
    public void OptimizeWritesItsPageOnlyAfterTheModel()
    {
        string model = SampleModels.ResNetBottleneck().Save(_temp.File("resnet.onnx"));
        string report = _temp.File("optimize.html");

        var run = CliInvocation.Run("optimize", model, "-o", _temp.File("out.onnx"), "--format", "html", "--report", report);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(_temp.File("out.onnx")));
        string html = File.ReadAllText(report);
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("<td>BatchNormalization</td><td class=\"num\" data-sort=\"4\">4</td><td class=\"num\" data-sort=\"0\">0</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void AnotherCommandRefusesHtmlAsAUsageError()
    {
        var run = CliInvocation.Run("verify", SaveRolesModel(_temp.File("roles.onnx")), "--format", "html");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("--format html", run.Stderr, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"<(link|img|iframe|object|embed|base)\b|\bsrc\s*=|url\s*\(|@import|https?://", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();
}
