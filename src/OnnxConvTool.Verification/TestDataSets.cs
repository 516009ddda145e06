using System.Globalization;
using System.Text.RegularExpressions;

namespace OnnxConvTool.Verification;

/// <summary>One ONNX test data set: <c>input_N.pb</c> files and the stored <c>output_N.pb</c> files, in N order.</summary>
internal sealed record TestDataSet(string Name, IReadOnlyList<string> InputFiles, IReadOnlyList<string> OutputFiles);

internal static partial class TestDataSets
{
    /// <summary>
    /// The data sets under <paramref name="directory"/>: the folder itself when it holds <c>input_*.pb</c>,
    /// else its <c>test_data_set_*</c> subfolders in numeric order.
    /// </summary>
    public static List<TestDataSet> Discover(string directory)
    {
        if (!Directory.Exists(directory)) throw new OnnxConvException(ExitCode.UsageError, $"--test-data {directory}: folder not found");
        if (Numbered(directory, "input").Count > 0) return [Load(directory)];
        var sets = Directory.GetDirectories(directory, "test_data_set_*")
            .Select(d => (Path: d, Number: SetNumber(d)))
            .Where(d => d.Number >= 0)
            .OrderBy(d => d.Number)
            .Select(d => Load(d.Path))
            .ToList();
        if (sets.Count == 0)
            throw new OnnxConvException(ExitCode.UsageError, $"--test-data {directory}: no input_*.pb files and no test_data_set_* folders");
        return sets;
    }

    private static TestDataSet Load(string directory)
    {
        var inputs = Numbered(directory, "input");
        if (inputs.Count == 0) throw new OnnxConvException(ExitCode.UsageError, $"--test-data {directory}: no input_*.pb files");
        return new TestDataSet(Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), inputs, Numbered(directory, "output"));
    }

    private static List<string> Numbered(string directory, string prefix) =>
        Directory.GetFiles(directory, prefix + "_*.pb")
            .Select(f => (File: f, Match: NumberedFile().Match(Path.GetFileName(f))))
            .Where(f => f.Match.Success && f.Match.Groups[1].Value == prefix)
            .OrderBy(f => long.Parse(f.Match.Groups[2].Value, CultureInfo.InvariantCulture))
            .Select(f => f.File)
            .ToList();

    private static long SetNumber(string directory)
    {
        var match = SetFolder().Match(Path.GetFileName(directory));
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    [GeneratedRegex(@"^(input|output)_(\d+)\.pb$")]
    private static partial Regex NumberedFile();

    [GeneratedRegex(@"^test_data_set_(\d+)$")]
    private static partial Regex SetFolder();
}
