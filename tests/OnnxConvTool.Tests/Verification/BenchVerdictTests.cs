using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

/// <summary>
/// The paired-ratio interval and bench's verdict on synthetic run times: a verdict only when the 95 % interval
/// excludes 1, warnings when the runs scatter or the interval is too wide to resolve small differences.
/// </summary>
public sealed class BenchVerdictTests
{
    /// <summary>Run times around <paramref name="center"/> ms that wobble by ±<paramref name="wobble"/> (a fixed, repeatable pattern).</summary>
    private static List<double> Runs(double center, double wobble, int count = 20) =>
        Enumerable.Range(0, count).Select(i => center * (1 + wobble * Math.Sin(i * 2.1 + center))).ToList();

    private static BenchReport Report(List<double> first, List<double> second, int threads = 1)
    {
        var cpu = PairedRatio.Of(second, first);
        return new BenchReport
        {
            Engine = "synthetic",
            Warmup = 0,
            Threads = threads,
            Inputs = [],
            Models =
            [
                new LatencyStats("a.onnx", 1, first.Count, Spread.Of(first), Spread.Of(first)),
                new LatencyStats("b.onnx", 1, second.Count, Spread.Of(second), Spread.Of(second)),
            ],
            WallRatio = cpu,
            ThreadCpuRatio = cpu,
        };
    }

    [Fact]
    public void IdenticalPairsGiveRatioOneWithANullInterval()
    {
        var runs = Runs(10, 0.2);
        var ratio = PairedRatio.Of(runs, runs);
        Assert.Equal(1.0, ratio.Ratio, 12);
        Assert.Equal(1.0, ratio.Lower, 12);
        Assert.Equal(1.0, ratio.Upper, 12);
        Assert.False(ratio.ExcludesOne);
    }

    [Fact]
    public void AConstantFactorBetweenPairsIsFoundExactly()
    {
        var first = Runs(10, 0.3);
        var ratio = PairedRatio.Of(first.Select(t => t * 0.9).ToList(), first);
        Assert.Equal(0.9, ratio.Ratio, 12);
        Assert.Equal(0.9, ratio.Upper, 12);
        Assert.True(ratio.ExcludesOne);
    }

    [Fact]
    public void TheIntervalMatchesStudentsTOnTheLogRatios()
    {
        // log ratios: ln 1.1, ln 0.9, ln 1.2 — mean m, sd s, 2 degrees of freedom: t = 4.303.
        double[] logs = [Math.Log(1.1), Math.Log(0.9), Math.Log(1.2)];
        double m = logs.Average(), s = Math.Sqrt(logs.Sum(l => (l - m) * (l - m)) / 2);
        var ratio = PairedRatio.Of([11, 9, 12], [10, 10, 10]);
        Assert.Equal(Math.Exp(m), ratio.Ratio, 12);
        Assert.Equal(Math.Exp(m - 4.303 * s / Math.Sqrt(3)), ratio.Lower, 12);
        Assert.Equal(Math.Exp(m + 4.303 * s / Math.Sqrt(3)), ratio.Upper, 12);
        Assert.Equal(3, ratio.Pairs);
    }

    [Fact]
    public void AClearlyFasterSecondModelIsCalledFaster()
    {
        var first = Runs(10, 0.05);
        var report = Report(first, first.Select((t, i) => t * (0.8 + 0.01 * Math.Cos(i))).ToList());
        Assert.Equal("faster", report.Verdict);
        Assert.StartsWith("b.onnx is faster: thread CPU ratio b.onnx/a.onnx 0.8", report.Conclusion);
        Assert.Empty(report.Warnings);
    }

    [Fact]
    public void AClearlySlowerSecondModelIsCalledSlower()
    {
        var first = Runs(10, 0.05);
        var report = Report(first, first.Select((t, i) => t * (1.3 + 0.02 * Math.Sin(3 * i))).ToList());
        Assert.Equal("slower", report.Verdict);
        Assert.StartsWith("b.onnx is slower", report.Conclusion);
    }

    [Fact]
    public void NoisyRunsWhoseIntervalContainsOneGiveNoVerdictAndAWarning()
    {
        // The second model is 3 % faster on average, but the per-pair ratios scatter by ±40 %.
        var first = Runs(10, 0.05);
        var second = first.Select((t, i) => t * 0.97 * (1 + 0.4 * Math.Sin(i * 1.7))).ToList();
        var report = Report(first, second);
        Assert.True(report.Ratio!.Lower < 1 && report.Ratio.Upper > 1, report.Ratio.ToString());
        Assert.Equal("no clear difference", report.Verdict);
        Assert.StartsWith("no clear difference", report.Conclusion);
        Assert.Contains("contains 1", report.Conclusion);
        Assert.Contains(report.Warnings, w => w.Contains("wider than ±5.0%"));
        Assert.Contains(report.Warnings, w => w.StartsWith("b.onnx's runs spread widely"));
    }

    [Fact]
    public void ANarrowIntervalAroundOneIsNoDifferenceWithoutWarnings()
    {
        var first = Runs(10, 0.05);
        var report = Report(first, first.Select((t, i) => t * (1 + 0.005 * Math.Sin(i * 1.3))).ToList());
        Assert.Equal("no clear difference", report.Verdict);
        Assert.Empty(report.Warnings);
    }

    [Fact]
    public void SeveralThreadsJudgeOnWallTime()
    {
        var first = Runs(10, 0.05);
        var report = Report(first, first.Select(t => t * 0.8).ToList(), threads: 4);
        Assert.Equal("wall", report.Basis);
        Assert.Equal(report.WallRatio, report.Ratio);
        Assert.Contains("wall ratio", report.Conclusion);
    }

    [Fact]
    public void OneRunGivesNoVerdict()
    {
        var report = new BenchReport
        {
            Engine = "synthetic",
            Warmup = 0,
            Threads = 1,
            Inputs = [],
            Models = [new LatencyStats("a.onnx", 1, 1, Spread.Of([10.0]), Spread.Of([10.0])), new LatencyStats("b.onnx", 1, 1, Spread.Of([9.0]), Spread.Of([9.0]))],
        };
        Assert.Null(report.Verdict);
        Assert.StartsWith("no verdict: one timed run", report.Conclusion);
    }

    [Fact]
    public void SpreadTakesMinMedianAndP90()
    {
        var spread = Spread.Of([5, 1, 4, 2, 3, 10, 6, 7, 8, 9]);
        Assert.Equal(1, spread.MinMs);
        Assert.Equal(5.5, spread.MedianMs);
        Assert.Equal(9, spread.P90Ms);
        Assert.Equal(5.5, spread.MeanMs);
        Assert.Equal((9 - 1) / 5.5, spread.Width, 12);
    }
}
