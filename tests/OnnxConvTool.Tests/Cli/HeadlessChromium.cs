using PuppeteerSharp;

namespace OnnxConvTool.Tests.Cli;

/// <summary>
/// Debian's chromium (<c>apt-get install chromium</c>; .ci/run installs it) driven headless by PuppeteerSharp, which
/// cannot download a browser here. Tests skip with the reason when it is absent and fail instead under CI=true.
/// </summary>
internal static class HeadlessChromium
{
    /// <summary>The browser: $ONNXCONV_CHROMIUM, else Debian's /usr/bin/chromium.</summary>
    public static string ExecutablePath => Environment.GetEnvironmentVariable("ONNXCONV_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>Starts the browser; dispose it (<c>await using</c>) so no chromium process outlives the test.</summary>
    public static async Task<IBrowser> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            string reason = $"{ExecutablePath} is missing: install Debian's chromium (apt-get install chromium) to render the HTML reports";
            if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException("CI=true but " + reason);
            Skip.If(true, reason);
        }
        return await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            // As root chromium refuses to start without --no-sandbox; /dev/shm is small in containers.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check"],
            Timeout = 60_000,
        });
    }

    /// <summary>Where screenshots are kept after the test, for a person to look at (overwritten by the next run).</summary>
    public static string ScreenshotPath(string name)
    {
        string folder = Path.Combine(Path.GetTempPath(), "onnxconv-tests", "html-report-screenshots");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }
}
