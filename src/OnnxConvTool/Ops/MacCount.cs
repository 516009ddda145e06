using System.Globalization;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Ops;

/// <summary>
/// A multiply-accumulate count from inferred shapes: <see cref="Coefficient"/> times the product of the symbolic
/// dims in <see cref="Symbols"/> (empty when every dim is known). Counts over the same symbols add and compare;
/// a figure with symbols reads "per unit" of them (per N, per N·H·W).
/// </summary>
internal sealed record MacCount(long Coefficient, IReadOnlyList<string> Symbols)
{
    /// <summary>
    /// A Conv's MACs: every element of its output <c>[N, M, o…]</c> sums <paramref name="inPerGroup"/> ×
    /// <paramref name="kernelVolume"/> products. Null when a dim of the output is neither known nor symbolic.
    /// </summary>
    public static MacCount? OfConv(TensorShape output, long inPerGroup, long kernelVolume)
    {
        if (output.Dims is not { } dims) return null;
        long coefficient = checked(inPerGroup * kernelVolume);
        var symbols = new List<string>();
        foreach (var dim in dims)
        {
            if (dim.Value is { } v) coefficient = checked(coefficient * v);
            else if (dim.Symbol is { } s) symbols.Add(s);
            else return null;
        }
        symbols.Sort(StringComparer.Ordinal);
        return new MacCount(coefficient, symbols);
    }

    /// <summary>True when the two counts are over the same symbols, so they add and compare.</summary>
    public bool IsComparableWith(MacCount other) => Symbols.SequenceEqual(other.Symbols, StringComparer.Ordinal);

    /// <exception cref="InvalidOperationException">The counts are over different symbols.</exception>
    public MacCount Plus(MacCount other)
    {
        if (!IsComparableWith(other)) throw new InvalidOperationException($"cannot add MACs {this} and {other}: their symbolic dims differ");
        return this with { Coefficient = checked(Coefficient + other.Coefficient) };
    }

    /// <summary>The sum of <paramref name="counts"/>; null when one is unknown or they are over different symbols.</summary>
    public static MacCount? Sum(IReadOnlyList<MacCount?> counts)
    {
        if (counts.Count == 0 || counts[0] is not { } total) return null;
        foreach (var count in counts.Skip(1))
        {
            if (count is null || !total.IsComparableWith(count)) return null;
            total = total.Plus(count);
        }
        return total;
    }

    /// <summary>"12,345,678", or "2,457,600 per N" with symbolic dims.</summary>
    public override string ToString() =>
        Coefficient.ToString("N0", CultureInfo.InvariantCulture) + (Symbols.Count == 0 ? "" : " per " + string.Join("·", Symbols));
}

/// <summary>
/// What a merge does to the arithmetic: MACs and parameters before (the convolutions it replaces) and after (the
/// merged one). <see cref="WhyNotCheaper"/> is the cost model's verdict.
/// </summary>
internal sealed record MergeCost(MacCount MacsBefore, MacCount MacsAfter, long ParametersBefore, long ParametersAfter)
{
    /// <summary>MACs after / before.</summary>
    public double Ratio => MacsBefore.Coefficient == 0 ? 1 : (double)MacsAfter.Coefficient / MacsBefore.Coefficient;

    /// <summary>Null when the merge does not increase MACs; else the sentence with the figures.</summary>
    public string? WhyNotCheaper() =>
        MacsAfter.Coefficient > MacsBefore.Coefficient
            ? $"merging would cost {Format(Ratio)}× more MACs ({MacsBefore} → {MacsAfter})"
            : null;

    /// <summary>"MACs 12,345 → 2,345 (5.3× fewer), parameters 1,000 → 500".</summary>
    public override string ToString()
    {
        string change = MacsAfter.Coefficient == MacsBefore.Coefficient ? "unchanged"
            : MacsAfter.Coefficient < MacsBefore.Coefficient ? $"{Format(1 / Ratio)}× fewer" : $"{Format(Ratio)}× more";
        return $"MACs {MacsBefore} → {MacsAfter} ({change}), parameters {ParametersBefore.ToString("N0", CultureInfo.InvariantCulture)} → {ParametersAfter.ToString("N0", CultureInfo.InvariantCulture)}";
    }

    private static string Format(double ratio) => ratio.ToString("0.0#", CultureInfo.InvariantCulture);

    /// <summary>
    /// The cost of replacing <paramref name="before"/> by <paramref name="after"/>, or null with <paramref name="reason"/>
    /// when a count is unknown or the counts are over different symbolic dims.
    /// </summary>
    public static MergeCost? Compare(IReadOnlyList<MacCount?> before, MacCount? after, long parametersBefore, long parametersAfter, out string? reason)
    {
        reason = null;
        if (after is null || before.Any(b => b is null))
        {
            reason = "the MACs cannot be counted: an output shape is unknown (fix it with --shape)";
            return null;
        }
        var total = before[0]!;
        foreach (var b in before.Skip(1))
        {
            if (!total.IsComparableWith(b!))
            {
                reason = $"the MACs cannot be compared: the outputs have different symbolic dims ({string.Join("·", total.Symbols)} and {string.Join("·", b!.Symbols)})";
                return null;
            }
            total = total.Plus(b!);
        }
        if (!total.IsComparableWith(after))
        {
            reason = $"the MACs cannot be compared: the outputs have different symbolic dims ({string.Join("·", total.Symbols)} and {string.Join("·", after.Symbols)})";
            return null;
        }
        return new MergeCost(total, after, parametersBefore, parametersAfter);
    }
}
