namespace OnnxConvTool.Cli;

/// <summary>"Did you mean" hints: the known names closest to a misspelled one.</summary>
public static class Suggestions
{
    /// <summary>The names within a few edits of <paramref name="typed"/> (closest first, at most three).</summary>
    public static IReadOnlyList<string> Closest(string typed, IEnumerable<string> known)
    {
        int limit = Math.Max(1, Math.Min(3, typed.TrimStart('-').Length / 3));
        return known.Distinct(StringComparer.Ordinal)
            .Select(name => (Name: name, Distance: Distance(typed.ToLowerInvariant(), name.ToLowerInvariant())))
            .Where(c => c.Distance <= limit || c.Name.StartsWith(typed, StringComparison.OrdinalIgnoreCase) && typed.TrimStart('-').Length >= 2)
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .Take(3).Select(c => c.Name).ToArray();
    }

    /// <summary>"; did you mean 'x'?" (or "'x' or 'y'"), or empty when nothing is close.</summary>
    public static string DidYouMean(string typed, IEnumerable<string> known)
    {
        var closest = Closest(typed, known);
        return closest.Count == 0 ? "" : $"; did you mean {string.Join(" or ", closest.Select(n => $"'{n}'"))}?";
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
