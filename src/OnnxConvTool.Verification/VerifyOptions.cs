using OnnxConvTool.Shapes;

namespace OnnxConvTool.Verification;

/// <summary>What <see cref="EquivalenceChecker"/> feeds the two models and how it judges their outputs.</summary>
public sealed record VerifyOptions
{
    /// <summary>
    /// Input dims by input name. A known dim fixes that size; a symbolic dim (e.g. "N") stays free but
    /// is shared with every other dim of that name, so constrained inputs can be tied together.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Dim>> Shapes { get; init; } = new Dictionary<string, IReadOnlyList<Dim>>();

    /// <summary>Inputs filled with one constant (e.g. Silero VAD's <c>sr</c> = 16000).</summary>
    public IReadOnlyDictionary<string, double> Values { get; init; } = new Dictionary<string, double>();

    /// <summary>Inputs read from NumPy .npy or ONNX TensorProto .pb files, by input name.</summary>
    public IReadOnlyDictionary<string, string> InputFiles { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// An ONNX <c>test_data_set_*</c> folder, or a folder holding several: each set is one trial, and the
    /// reference model's outputs are also checked against the stored <c>output_*.pb</c>.
    /// </summary>
    public string? TestDataDirectory { get; init; }

    /// <summary>Every file these options make a run read: the input files and the tensor files of the test-data sets.</summary>
    public IEnumerable<string> FilesRead() =>
        InputFiles.Values.Concat(TestDataDirectory is { } folder && Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*.pb", SearchOption.AllDirectories)
            : []);

    /// <summary>Random trials (ignored when test data sets give the trials).</summary>
    public int Trials { get; init; } = 3;

    /// <summary>Seed of the random inputs: the same seed gives the same inputs.</summary>
    public int Seed { get; init; }

    /// <summary>Relative tolerance for floating-point outputs (integer and bool outputs are compared exactly); null takes the default for each element type.</summary>
    public double? Rtol { get; init; }

    /// <summary>Absolute tolerance for floating-point outputs (integer and bool outputs are compared exactly); null takes the default for each element type.</summary>
    public double? Atol { get; init; }

    /// <summary>Also compare the intermediate tensors both models share and name the first that diverges.</summary>
    public bool Localize { get; init; }

    /// <summary>Told as each trial starts.</summary>
    public IProgress<WorkProgress>? Progress { get; init; }

    /// <summary>Old value name → new value name, recorded by <c>rewrite</c>; used to pair intermediates and outputs.</summary>
    public IReadOnlyDictionary<string, string>? NameMap { get; init; }

    /// <summary>
    /// Names of the candidate's nodes that a rewrite created. Verification reports how many of them ran in
    /// at least one trial; if one never ran, the verdict is "could not run" unless <see cref="AllowUnexecuted"/>.
    /// </summary>
    public IReadOnlyList<string> CreatedNodes { get; init; } = [];

    /// <summary>Accept created nodes that no trial executed (they are still reported).</summary>
    public bool AllowUnexecuted { get; init; }

    /// <summary>Display name of the reference model in reports (default: its source path).</summary>
    public string? ReferenceLabel { get; init; }

    /// <summary>Display name of the candidate model in reports (default: its source path).</summary>
    public string? CandidateLabel { get; init; }
}
