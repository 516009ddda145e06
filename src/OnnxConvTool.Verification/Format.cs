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

    public static string Shape(IReadOnlyList<long> shape) => "[" + string.Join(",", shape) + "]";
}
