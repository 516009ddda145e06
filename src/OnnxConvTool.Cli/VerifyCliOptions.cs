using System.CommandLine;
using System.Globalization;
using OnnxConvTool.Shapes;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Cli;

/// <summary>
/// The input and tolerance options of <c>verify</c>, shared verbatim by every command that verifies its
/// result (<c>rewrite</c>) or runs a model (<c>bench</c>): one instance per command.
/// </summary>
public sealed class VerifyCliOptions
{
    public Option<string[]> Shape { get; } = new("--shape")
    {
        Description = "Fix an input's dims, e.g. --shape x=1,3,224,224 (repeatable). A name instead of a number leaves the dim free "
            + "but ties it to every dim of that name, e.g. --shape input=N,512 --shape state=2,N,128.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> Value { get; } = new("--value")
    {
        Description = "Fill an input with one constant, e.g. --value sr=16000 (repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> Input { get; } = new("--input")
    {
        Description = "Read an input from a NumPy .npy or ONNX TensorProto .pb file, e.g. --input x=image.npy (repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string?> TestData { get; } = new("--test-data")
    {
        Description = "Run an ONNX test_data_set_* folder (or a folder of them) and also check the reference's outputs against the stored output_*.pb.",
    };

    public Option<int> Trials { get; } = new("--trials")
    {
        Description = "Random trials; free dims take different values in each.",
        DefaultValueFactory = _ => 3,
    };

    public Option<int> Seed { get; } = new("--seed")
    {
        Description = "Seed for the random inputs.",
        DefaultValueFactory = _ => 0,
    };

    public Option<double?> Rtol { get; } = new("--rtol")
    {
        Description = "Relative tolerance for floating-point outputs (default by element type: float32 1e-4, float16 1e-2, float64 1e-10); integer and bool outputs are always compared exactly.",
    };

    public Option<double?> Atol { get; } = new("--atol")
    {
        Description = "Absolute tolerance for floating-point outputs (default by element type: float32 1e-5, float16 1e-3, float64 1e-12); integer and bool outputs are always compared exactly.",
    };

    public Option<bool> AllowUnexecuted { get; } = new("--allow-unexecuted")
    {
        Description = "Accept the result even when a node the rewrite created ran in no trial (e.g. inside an If branch no input reaches); such nodes are still reported.",
    };

    private bool _inputsOnly;
    private bool _coverage;

    /// <summary>
    /// Adds every option (<paramref name="inputsOnly"/>: only --shape, --value, --input and --seed, for commands that do not compare;
    /// <paramref name="coverage"/>: also --allow-unexecuted, for commands that verify nodes they created).
    /// </summary>
    public void AddTo(Command command, bool inputsOnly = false, bool coverage = false)
    {
        _inputsOnly = inputsOnly;
        _coverage = coverage && !inputsOnly;
        if (_coverage) command.Options.Add(AllowUnexecuted);
        command.Options.Add(Shape);
        command.Options.Add(Value);
        command.Options.Add(Input);
        command.Options.Add(Seed);
        if (inputsOnly) return;
        command.Options.Add(TestData);
        command.Options.Add(Trials);
        command.Options.Add(Rtol);
        command.Options.Add(Atol);
    }

    /// <summary>Adds only --shape and --value, for a command that reads a model without running it (<c>audit</c>).</summary>
    public void AddShapeAndValueTo(Command command)
    {
        _inputsOnly = true;
        command.Options.Add(Shape);
        command.Options.Add(Value);
    }

    /// <exception cref="OnnxConvException">A malformed --value argument (usage error).</exception>
    public IReadOnlyDictionary<string, double> Values(ParseResult parse)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string argument in parse.GetValue(Value) ?? [])
        {
            var (name, text) = SplitAtLast(argument, "--value", "NAME=number");
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number))
                throw Usage($"--value {argument}: '{text}' is not a number");
            if (!values.TryAdd(name, number)) throw Usage($"--value {argument}: input '{name}' is given twice");
        }
        return values;
    }

    /// <exception cref="OnnxConvException">A malformed NAME=... argument (usage error).</exception>
    public VerifyOptions ToVerifyOptions(ParseResult parse)
    {
        var shapes = ShapeOverrides.Parse(parse.GetValue(Shape) ?? []);
        var values = Values(parse);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string argument in parse.GetValue(Input) ?? [])
        {
            // A file path may contain '=', an input name rarely does: split at the first one.
            int equals = argument.IndexOf('=');
            if (equals <= 0 || equals == argument.Length - 1) throw Usage($"--input {argument}: expected NAME=file.npy or NAME=file.pb");
            if (!files.TryAdd(argument[..equals], argument[(equals + 1)..])) throw Usage($"--input {argument}: input '{argument[..equals]}' is given twice");
        }
        return new VerifyOptions
        {
            Shapes = shapes,
            Values = values,
            InputFiles = files,
            Seed = parse.GetValue(Seed),
            TestDataDirectory = _inputsOnly ? null : parse.GetValue(TestData),
            Trials = _inputsOnly ? 1 : parse.GetValue(Trials),
            Rtol = _inputsOnly ? null : parse.GetValue(Rtol),
            Atol = _inputsOnly ? null : parse.GetValue(Atol),
            AllowUnexecuted = _coverage && parse.GetValue(AllowUnexecuted),
        };
    }

    /// <summary>Splits NAME=VALUE at the last '=' (names such as "input:0" may contain anything but the value cannot).</summary>
    private static (string Name, string Value) SplitAtLast(string argument, string option, string form)
    {
        int equals = argument.LastIndexOf('=');
        if (equals <= 0) throw Usage($"{option} {argument}: expected {form}");
        return (argument[..equals], argument[(equals + 1)..]);
    }

    private static OnnxConvException Usage(string message) => new(ExitCode.UsageError, message);
}
