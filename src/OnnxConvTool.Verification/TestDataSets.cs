using System.Globalization;
using System.Text.RegularExpressions;
using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Verification;

using DataType = Onnx.TensorProto.Types.DataType;

/// <summary>One ONNX test data set: <c>input_N.pb</c> files and the stored <c>output_N.pb</c> files, in N order.</summary>
internal sealed record TestDataSet(string Name, IReadOnlyList<string> InputFiles, IReadOnlyList<string> OutputFiles, TestDataLimits Limits)
{
    public NamedTensor ReadInput(int index) => TensorFiles.ReadTensorProto(InputFiles[index], Limits.InputBytes, Limits.InputHolder);

    public NamedTensor ReadOutput(int index) => TensorFiles.ReadTensorProto(OutputFiles[index], Limits.OutputBytes, Limits.OutputHolder);
}

/// <summary>
/// The most bytes an <c>input_N.pb</c> or <c>output_N.pb</c> may hold. The name stored in the file may pick any
/// input (or output), so the bound is the largest of theirs, and unknown (2 GiB) when one of them has an unknown dim.
/// </summary>
internal sealed record TestDataLimits(long? InputBytes, string InputHolder, long? OutputBytes, string OutputHolder)
{
    public static TestDataLimits For(Model model, VerifyOptions options)
    {
        var inputs = model.Graph.Inputs.Select(v => InputPlan.LargestFileFor(v, options)).ToList();
        var outputs = model.Graph.Outputs
            .Select(v => TensorFiles.LargestFileFor(v.ElementType ?? DataType.Undefined, TensorShape.FromType(v.Type).Dims)).ToList();
        return new TestDataLimits(
            Largest(inputs), inputs.Count == 1 ? "the input's tensor" : "the model's largest input tensor",
            Largest(outputs), outputs.Count == 1 ? "the output's tensor" : "the model's largest output tensor");
    }

    private static long? Largest(List<long?> limits) => limits.Count == 0 || limits.Any(l => l is null) ? null : limits.Max();
}

internal static partial class TestDataSets
{
    /// <summary>
    /// The data sets under <paramref name="directory"/>: the folder itself when it holds <c>input_*.pb</c>,
    /// else its <c>test_data_set_*</c> subfolders in numeric order. Every file is checked before any is read:
    /// a file that is not a regular file, or is larger than <paramref name="limits"/> allow, is refused.
    /// </summary>
    /// <exception cref="OnnxConvException">Usage error naming the folder or file and the problem.</exception>
    public static List<TestDataSet> Discover(string directory, TestDataLimits limits)
    {
        if (!Directory.Exists(directory)) throw new OnnxConvException(ExitCode.UsageError, $"--test-data {directory}: folder not found");
        if (Numbered(directory, "input").Count > 0) return [Load(directory, limits)];
        var sets = Directory.GetDirectories(directory, "test_data_set_*")
            .Select(d => (Path: d, Number: SetNumber(d)))
            .Where(d => d.Number >= 0)
            .OrderBy(d => d.Number)
            .Select(d => Load(d.Path, limits))
            .ToList();
        if (sets.Count == 0)
            throw new OnnxConvException(ExitCode.UsageError, $"--test-data {directory}: no input_*.pb files and no test_data_set_* folders");
        return sets;
    }

    private static TestDataSet Load(string directory, TestDataLimits limits)
    {
        var inputs = Numbered(directory, "input");
        if (inputs.Count == 0) throw new OnnxConvException(ExitCode.UsageError, $"--test-data {directory}: no input_*.pb files");
        var outputs = Numbered(directory, "output");
        foreach (string file in inputs) TensorFiles.CheckInputFile(file, limits.InputBytes, limits.InputHolder);
        foreach (string file in outputs) TensorFiles.CheckInputFile(file, limits.OutputBytes, limits.OutputHolder);
        return new TestDataSet(Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), inputs, outputs, limits);
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
