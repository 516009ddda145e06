using System.Globalization;

namespace OnnxConvTool.Verification;

/// <summary>
/// The ratio contender ÷ baseline from paired runs (run i of each taken back to back, in alternating order): the
/// geometric mean of the per-pair ratios, with a 95 % confidence interval from Student's t on their logarithms.
/// Pairing cancels the machine's slow drifts in load, which would otherwise dominate the spread.
/// </summary>
internal sealed record PairedRatio(double Ratio, double Lower, double Upper, int Pairs)
{
    /// <summary>The ratio and its interval from paired runs (at least two pairs, every time positive).</summary>
    public static PairedRatio Of(IReadOnlyList<double> contender, IReadOnlyList<double> baseline)
    {
        if (contender.Count != baseline.Count || contender.Count < 2) throw new ArgumentException("needs at least two pairs of runs");
        var logs = contender.Zip(baseline, (c, b) => Math.Log(c / b)).ToArray();
        double mean = logs.Average();
        double sd = Math.Sqrt(logs.Sum(l => (l - mean) * (l - mean)) / (logs.Length - 1));
        double half = StudentT975(logs.Length - 1) * sd / Math.Sqrt(logs.Length);
        return new PairedRatio(Math.Exp(mean), Math.Exp(mean - half), Math.Exp(mean + half), logs.Length);
    }

    /// <summary>How the ratio stands against a target "ratio ≤ target": met, met within the noise, or missed.</summary>
    public string Verdict(double target) =>
        Upper <= target ? "met" : Lower <= target ? "within noise" : "MISSED";

    /// <summary>Missed means the whole interval lies above the target: slower beyond what the noise explains.</summary>
    public bool Misses(double target) => Lower > target;

    /// <summary>The interval lies wholly on one side of 1: the contender is faster (below) or slower (above) beyond the noise.</summary>
    public bool ExcludesOne => Upper < 1 || Lower > 1;

    /// <summary>Half the interval's width relative to the ratio, on the log scale (0.05: about ±5 %).</summary>
    public double RelativeHalfWidth => (Math.Log(Upper) - Math.Log(Lower)) / 2;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Ratio:0.000} [{Lower:0.000}, {Upper:0.000}]");

    /// <summary>The 97.5 % quantile of Student's t, taken at the fewest degrees of freedom of each row (slightly wide, never narrow).</summary>
    private static double StudentT975(int degrees) => degrees switch
    {
        1 => 12.706, 2 => 4.303, 3 => 3.182, 4 => 2.776, 5 => 2.571, 6 => 2.447, 7 => 2.365, 8 => 2.306, 9 => 2.262,
        10 => 2.228, <= 12 => 2.201, <= 15 => 2.160, <= 20 => 2.120, <= 25 => 2.080, <= 30 => 2.056, <= 40 => 2.040,
        <= 60 => 2.020, <= 120 => 2.000, _ => 1.980,
    };
}
