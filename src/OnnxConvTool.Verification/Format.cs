using System.Globalization;

namespace OnnxConvTool.Verification;

/// <summary>Number formatting shared by the reports: short, invariant, exact zero shown as 0.</summary>
internal static class Format
{
    public static string Number(double value)
    {
        if (value == 0) return "0";
        if (double.IsNaN(value)) return "NaN";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        return Math.Abs(value) is >= 1e-3 and < 1e5
            ? double.Parse(value.ToString("G3", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture).ToString("0.#####", CultureInfo.InvariantCulture)
            : value.ToString("0.##e+00", CultureInfo.InvariantCulture);
    }

    /// <summary><paramref name="value"/> (positive) rounded up to two significant digits, so a suggested tolerance still holds.</summary>
    public static double RoundUp(double value)
    {
        if (value <= 0 || !double.IsFinite(value)) return value;
        double unit = Math.Pow(10, Math.Floor(Math.Log10(value)) - 1);
        // The factor keeps a value that is already two digits from rounding below itself through the division.
        return Math.Ceiling(value / unit * (1 + 1e-12)) * unit;
    }

    public static string Shape(IReadOnlyList<long> shape) => "[" + string.Join(",", shape) + "]";
}
