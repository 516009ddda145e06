using System.Globalization;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Shapes;

/// <summary>
/// The <c>--shape NAME=d0,d1,...</c> option: fixes the dims of a main-graph input. Each dim is a
/// non-negative integer or a symbol name (letters, digits, '_', '.', starting with a letter or '_');
/// the option may be repeated, once per input. NAME is everything before the last '=', so input
/// names with ':' (TensorFlow exports) work as they are.
/// </summary>
public static class ShapeOverrides
{
    /// <summary>Parses the specs; bad syntax or a repeated input is a usage error (exit code 2).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<Dim>> Parse(IEnumerable<string> specs)
    {
        var result = new Dictionary<string, IReadOnlyList<Dim>>(StringComparer.Ordinal);
        foreach (string spec in specs)
        {
            int equals = spec.LastIndexOf('=');
            if (equals <= 0)
                throw Usage($"--shape '{spec}' is not NAME=d0,d1,... (e.g. --shape x=1,3,224,224)");
            string name = spec[..equals];
            string dimsText = spec[(equals + 1)..];
            if (dimsText.Length == 0)
                throw Usage($"--shape '{spec}' gives no dims after '='");
            var dims = new List<Dim>();
            foreach (string raw in dimsText.Split(','))
            {
                string d = raw.Trim();
                if (long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) dims.Add(Dim.Known(value));
                else if (IsSymbol(d)) dims.Add(Dim.Symbolic(d));
                else throw Usage($"--shape '{spec}': dim '{raw}' is neither a non-negative integer nor a symbol name");
            }
            if (ElementCountOverflows(dims))
                throw Usage($"--shape '{spec}': the element count of these dims overflows a 64-bit byte count");
            if (!result.TryAdd(name, dims))
                throw Usage($"--shape gives input '{name}' more than once");
        }
        return result;
    }

    /// <summary>True when the known dims multiply past <c>long.MaxValue / 16</c>, where a byte count of 16-byte elements would overflow.</summary>
    private static bool ElementCountOverflows(List<Dim> dims)
    {
        if (dims.Any(d => d.Value == 0)) return false;
        long limit = long.MaxValue / 16, product = 1;
        foreach (var dim in dims)
        {
            if (dim.Value is not long d) continue;
            if (product > limit / d) return true;
            product *= d;
        }
        return false;
    }

    /// <summary>
    /// Checks overrides against the model: every name must be an input of the main graph, and where the
    /// input declares a rank the override must have that rank. Violations are usage errors (exit code 2).
    /// </summary>
    public static void Validate(Model model, IReadOnlyDictionary<string, IReadOnlyList<Dim>> overrides)
    {
        string path = model.SourcePath ?? "model";
        foreach (var (name, dims) in overrides)
        {
            var input = model.Graph.Inputs.FirstOrDefault(i => i.Name == name);
            if (input is null)
            {
                var names = model.Graph.Inputs.Where(i => !i.IsInitializer).Select(i => $"'{i.Name}'");
                throw Usage($"--shape names '{name}', but {path} has no input of that name (its inputs: {string.Join(", ", names)})");
            }
            int? declaredRank = input.Type?.TensorType?.Shape?.Dim.Count;
            if (input.Type?.TensorType?.Shape is not null && declaredRank != dims.Count)
                throw Usage($"--shape gives {dims.Count} dims for input '{name}', but {path} declares it with rank {declaredRank}");
            var declared = TensorShape.FromType(input.Type).Dims;
            for (int axis = 0; declared is not null && axis < declared.Count; axis++)
                if (declared[axis].Value is long fixedSize && dims[axis].Value is long given && fixedSize != given)
                    throw Usage($"--shape {name}: axis {axis} is fixed to {fixedSize} in {path}, not {given}");
        }
    }

    private static bool IsSymbol(string text) =>
        text.Length > 0 && (char.IsAsciiLetter(text[0]) || text[0] == '_') && text.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.');

    private static OnnxConvException Usage(string message) => new(ExitCode.UsageError, message);
}
