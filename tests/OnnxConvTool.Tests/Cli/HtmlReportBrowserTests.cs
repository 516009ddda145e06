using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;
using PuppeteerSharp;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// The HTML reports of <c>audit</c> and <c>optimize</c> rendered in headless Chromium: one chart bar per
/// Conv/ConvTranspose/MatMul/Gemm, one table row per 1x1 convolution, headers that sort, no request besides the page
/// itself, and with JavaScript off a table that still reads in graph order. Screenshots are kept (path in the output).
/// </summary>
public sealed class HtmlReportBrowserTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly string[] MacOps = ["Conv", "ConvTranspose", "MatMul", "Gemm"];

    /// <summary>Counted from the model itself, not from the audit: nodes with MACs, and Convs whose weight's kernel dims are all 1.</summary>
    private static (int Layers, int Conv1x1) CountInModel(string path)
    {
        var model = ModelReader.Load(path);
        var layers = model.AllNodes().Where(n => MacOps.Contains(n.OpType)).ToArray();
        int pointwise = layers.Count(n => n.OpType == "Conv" && Model.TryGetConstant(n.Input(1)!) is { } w && w.Dims.Skip(2).All(d => d == 1));
        return (layers.Length, pointwise);
    }

    private string Audit(string model, params string[] options)
    {
        string report = _temp.File(Path.GetFileNameWithoutExtension(model) + ".html");
        var run = CliInvocation.Run(["audit", model, "--format", "html", "--report", report, .. options]);
        Assert.True(run.ExitCode == 0, run.ToString());
        return report;
    }

    /// <summary>Opens the page and fails when it asks for anything but itself.</summary>
    private static async Task<IPage> OpenAsync(IBrowser browser, string report, bool javaScript = true)
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1400, Height = 900 });
        await page.SetJavaScriptEnabledAsync(javaScript);
        var requests = new List<string>();
        page.Request += (_, e) => requests.Add(e.Request.Url);
        await page.GoToAsync(new Uri(report).AbsoluteUri);
        Assert.Equal([new Uri(report).AbsoluteUri], requests);
        return page;
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        string path = HeadlessChromium.ScreenshotPath(name);
        await page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        Assert.True(new FileInfo(path).Length > 10_000, $"{path} is suspiciously small");
        output.WriteLine($"screenshot: {path}");
    }

    private static Task<int> CountAsync(IPage page, string selector) =>
        page.EvaluateFunctionAsync<int>("s => document.querySelectorAll(s).length", selector);

    private static Task<string[]> ColumnAsync(IPage page, string table, int column, string what = "text") =>
        page.EvaluateFunctionAsync<string[]>(
            "(t, c, w) => Array.from(document.querySelectorAll(t + ' tbody tr')).map(r => w === 'text' ? r.cells[c].textContent.trim() : r.cells[c].getAttribute('data-sort') ?? '')",
            table, column, what);

    private static Task<int> ColumnIndexAsync(IPage page, string table, string header) =>
        page.EvaluateFunctionAsync<int>("(t, h) => Array.from(document.querySelectorAll(t + ' thead th')).findIndex(th => th.textContent.trim() === h)", table, header);

    private static async Task ClickHeaderAsync(IPage page, string table, string header)
    {
        int column = await ColumnIndexAsync(page, table, header);
        Assert.True(column >= 0, $"{table} has no header '{header}'");
        await page.ClickAsync($"{table} thead th:nth-child({column + 1})");
    }

    private static double[] Numbers(IEnumerable<string> keys) => keys.Select(k => double.Parse(k, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [SkippableFact]
    public async Task AuditPageOfABuilderModelHasABarPerLayerARowPer1x1ConvAndSortingHeaders()
    {
        string model = HtmlReportTests.SaveRolesModel(_temp.File("roles.onnx"));
        var (layers, pointwise) = CountInModel(model);
        Assert.Equal((7, 4), (layers, pointwise));
        string report = Audit(model);

        await using var browser = await HeadlessChromium.LaunchAsync();
        await using var page = await OpenAsync(browser, report);

        Assert.Equal(layers, await CountAsync(page, "svg rect.bar"));
        Assert.Equal(["Conv", "Conv", "Conv", "Conv", "Conv", "MatMul", "Gemm"],
            await page.EvaluateExpressionAsync<string[]>("Array.from(document.querySelectorAll('svg rect.bar')).map(r => r.dataset.op)"));
        Assert.Equal(["expansion", "none", "reduction", "mixing", "projection-head", "none", "none"],
            await page.EvaluateExpressionAsync<string[]>("Array.from(document.querySelectorAll('svg rect.bar')).map(r => r.dataset.role)"));
        Assert.Equal(pointwise, await CountAsync(page, "#conv1x1 tbody tr"));
        // Escaped on the way in, the names come back whole as text, and the injected script never ran.
        Assert.Equal([HtmlReportTests.QuotedName, HtmlReportTests.ScriptName, "mix", "head"], await ColumnAsync(page, "#conv1x1", 1));
        Assert.DoesNotContain("escaped badly", await page.GetTitleAsync(), StringComparison.Ordinal);
        Assert.Equal(1, await CountAsync(page, "script"));
        Assert.Contains("fuse-bn-into-conv", (await ColumnAsync(page, "#conv1x1", await ColumnIndexAsync(page, "#conv1x1", "fusions")))[1], StringComparison.Ordinal);

        int macs = await ColumnIndexAsync(page, "#conv1x1", "MACs");
        await ClickHeaderAsync(page, "#conv1x1", "MACs");
        var ascending = Numbers(await ColumnAsync(page, "#conv1x1", macs, "key"));
        Assert.Equal(ascending.Order(), ascending);
        Assert.Equal("ascending", await page.EvaluateFunctionAsync<string>("c => document.querySelectorAll('#conv1x1 thead th')[c].getAttribute('aria-sort')", macs));
        await ClickHeaderAsync(page, "#conv1x1", "MACs");
        var descending = Numbers(await ColumnAsync(page, "#conv1x1", macs, "key"));
        Assert.Equal(ascending.Reverse(), descending);
        Assert.NotEqual(ascending.OrderDescending(), ascending);
        await ClickHeaderAsync(page, "#conv1x1", "node");
        var names = await ColumnAsync(page, "#conv1x1", 1);
        Assert.Equal(names.OrderBy(n => n.ToLowerInvariant(), StringComparer.Ordinal), names);
        await ClickHeaderAsync(page, "#conv1x1", "#");
        Assert.Equal(["1", "2", "3", "4"], await ColumnAsync(page, "#conv1x1", 0));

        await ScreenshotAsync(page, "audit-builder-roles.png");
    }

    [SkippableFact]
    public async Task AuditPageOfPpOcrV4DetHasABarPerLayerAndARowPer1x1Conv()
    {
        string model = Shared.RealModel("ch_PP-OCRv4_det_infer.onnx");
        var (layers, pointwise) = CountInModel(model);
        Assert.Equal(42, pointwise);
        string report = Audit(model, "--shape", "x=1,3,160,160");

        await using var browser = await HeadlessChromium.LaunchAsync();
        await using var page = await OpenAsync(browser, report);

        Assert.Equal(layers, await CountAsync(page, "svg rect.bar"));
        Assert.Equal(pointwise, await CountAsync(page, "svg a rect.bar"));
        Assert.Equal(pointwise, await CountAsync(page, "#conv1x1 tbody tr"));
        // every bar of a 1x1 conv links to its table row
        Assert.Equal(pointwise, await page.EvaluateExpressionAsync<int>(
            "Array.from(document.querySelectorAll('svg a')).filter(a => document.getElementById(a.getAttribute('href').slice(1))?.closest('#conv1x1')).length"));

        int share = await ColumnIndexAsync(page, "#conv1x1", "share");
        await ClickHeaderAsync(page, "#conv1x1", "share");
        await ClickHeaderAsync(page, "#conv1x1", "share");
        var shares = Numbers(await ColumnAsync(page, "#conv1x1", share, "key"));
        Assert.Equal(shares.OrderDescending(), shares);

        await ScreenshotAsync(page, "audit-ppocrv4-det.png");
    }

    [SkippableFact]
    public async Task WithoutJavaScriptTheAuditTableReadsInGraphOrder()
    {
        string model = HtmlReportTests.SaveRolesModel(_temp.File("roles.onnx"));
        string report = Audit(model);

        await using var browser = await HeadlessChromium.LaunchAsync();
        await using var page = await OpenAsync(browser, report, javaScript: false);

        Assert.Equal(4, await CountAsync(page, "#conv1x1 tbody tr"));
        Assert.Equal(7, await CountAsync(page, "svg rect.bar"));
        Assert.Equal(0, await CountAsync(page, "table.js-sortable"));
        var rows = await page.EvaluateExpressionAsync<string[]>("Array.from(document.querySelectorAll('#conv1x1 tbody tr')).map(r => r.innerText)");
        Assert.Collection(rows,
            r => Assert.Contains($"1\t{HtmlReportTests.QuotedName}\tmain\tConv2D\t16→32", r, StringComparison.Ordinal),
            r => Assert.Contains("reduction 4:1", r, StringComparison.Ordinal),
            r => Assert.Contains("mixing", r, StringComparison.Ordinal),
            r => Assert.Contains("projection-head", r, StringComparison.Ordinal));
        var box = await (await page.QuerySelectorAsync("#conv1x1"))!.BoundingBoxAsync();
        Assert.True(box is { Width: > 600, Height: > 100 }, $"table box {box?.Width}x{box?.Height}");
        // a click on a header changes nothing
        await ClickHeaderAsync(page, "#conv1x1", "MACs");
        Assert.Equal(["1", "2", "3", "4"], await ColumnAsync(page, "#conv1x1", 0));

        await ScreenshotAsync(page, "audit-builder-roles-no-javascript.png");
    }

    [SkippableFact]
    public async Task OptimizePageShowsOpCountsAndRulesAndSorts()
    {
        string model = SampleModels.ResNetBottleneck().Save(_temp.File("resnet.onnx"));
        string report = _temp.File("optimize.html");
        var run = CliInvocation.Run("optimize", model, "-o", _temp.File("out.onnx"), "--format", "html", "--report", report);
        Assert.True(run.ExitCode == 0, run.ToString());

        await using var browser = await HeadlessChromium.LaunchAsync();
        await using var page = await OpenAsync(browser, report);

        var ops = await page.EvaluateExpressionAsync<string[][]>(
            "Array.from(document.querySelectorAll('#ops tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent.trim()))");
        Assert.Contains(["BatchNormalization", "4", "0", "-4"], ops);
        Assert.Contains(["Conv", "4", "4", ""], ops);
        var rules = await page.EvaluateExpressionAsync<string[][]>(
            "Array.from(document.querySelectorAll('#rules tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent.trim()))");
        Assert.Contains(rules, r => r[0] == "fuse-bn-into-conv" && r[1] == "4");
        var figures = await page.EvaluateExpressionAsync<string[]>("Array.from(document.querySelectorAll('#figures tbody tr')).map(r => r.cells[0].textContent)");
        Assert.Equal(["nodes", "MACs", "parameters"], figures);

        await ClickHeaderAsync(page, "#rules", "applied");
        await ClickHeaderAsync(page, "#rules", "applied");
        var applied = Numbers(await ColumnAsync(page, "#rules", 1, "key"));
        Assert.Equal(applied.OrderDescending(), applied);
        Assert.Equal(4, applied[0]);

        await ScreenshotAsync(page, "optimize-resnet-bottleneck.png");
    }
}
