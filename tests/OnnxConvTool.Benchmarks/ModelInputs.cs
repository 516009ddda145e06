using System.Globalization;
using OnnxConvTool.Shapes;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// Fixed input shapes and constant inputs for one model, given to the CLI as <c>--shape</c>/<c>--value</c> and to
/// in-process ONNX Runtime runs as <see cref="VerifyOptions"/>, so both run the model on the same inputs.
/// </summary>
internal sealed record ModelInputs(IReadOnlyDictionary<string, long[]> Shapes, IReadOnlyDictionary<string, double> Values)
{
    public static ModelInputs Defaults { get; } = new(new Dictionary<string, long[]>(), new Dictionary<string, double>());

    public static ModelInputs Shape(string input, params long[] dims) => new(new Dictionary<string, long[]> { [input] = dims }, Defaults.Values);

    /// <summary>
    /// The inputs each shared model needs (../shared/models/README.md): Silero VAD's control flow depends on
    /// <c>sr</c>; the PP-OCRv4 detector is measured at a typical detection size instead of verify's small free-dim choices.
    /// </summary>
    public static ModelInputs ForSharedModel(string name) => name switch
    {
        "silero_vad_v5.onnx" => new(
            new Dictionary<string, long[]> { ["input"] = [1, 512], ["state"] = [2, 1, 128] },
            new Dictionary<string, double> { ["sr"] = 16000 }),
        "ch_PP-OCRv4_det_infer.onnx" => Shape("x", 1, 3, 640, 640),
        _ => Defaults,
    };

    public string[] CliArguments() =>
    [
        .. Values.SelectMany(v => new[] { "--value", string.Create(CultureInfo.InvariantCulture, $"{v.Key}={v.Value}") }),
        .. Shapes.SelectMany(s => new[] { "--shape", $"{s.Key}={string.Join(",", s.Value)}" }),
    ];

    public VerifyOptions ToVerifyOptions() => new()
    {
        Values = Values,
        Shapes = Shapes.ToDictionary(s => s.Key, s => (IReadOnlyList<Dim>)s.Value.Select(Dim.Known).ToList()),
    };

    /// <summary>The inputs as the README shows them: the CLI options, or "(verify's defaults)".</summary>
    public string Describe() => CliArguments() is { Length: > 0 } arguments ? $"`{string.Join(" ", arguments)}`" : "(verify's defaults)";
}
