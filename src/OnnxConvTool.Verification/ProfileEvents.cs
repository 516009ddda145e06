using System.Text.Json;

namespace OnnxConvTool.Verification;

/// <summary>One kernel execution in a profile: node name, operator type, start and duration in microseconds.</summary>
internal readonly record struct KernelRun(string Node, string OpType, double StartUs, double DurationUs);

/// <summary>
/// The events of a Chrome-trace profile written by ONNX Runtime that we use: every kernel execution is a "Node"
/// event named "&lt;node name&gt;_kernel_time" with the operator type in <c>args.op_name</c>, and every
/// <c>InferenceSession.Run</c> a "Session" event named "model_run".
/// </summary>
internal sealed record ProfileEvents(IReadOnlyList<KernelRun> Kernels, IReadOnlyList<double> RunStartsUs)
{
    private const string KernelSuffix = "_kernel_time";

    public static ProfileEvents Read(Stream profile)
    {
        var kernels = new List<KernelRun>();
        var runStarts = new List<double>();
        using var document = JsonDocument.Parse(profile);
        foreach (var item in document.RootElement.EnumerateArray())
        {
            if (!item.TryGetProperty("cat", out var category) || !item.TryGetProperty("name", out var name) || name.GetString() is not { } text) continue;
            double start = Number(item, "ts");
            switch (category.GetString())
            {
                case "Session" when text == "model_run":
                    runStarts.Add(start);
                    break;
                case "Node" when text.EndsWith(KernelSuffix, StringComparison.Ordinal):
                    string opType = item.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Object
                        && args.TryGetProperty("op_name", out var op) && op.GetString() is { } opName ? opName : "?";
                    kernels.Add(new KernelRun(text[..^KernelSuffix.Length], opType, start, Number(item, "dur")));
                    break;
            }
        }
        runStarts.Sort();
        return new ProfileEvents(kernels, runStarts);
    }

    private static double Number(JsonElement item, string property) =>
        item.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : 0;
}
