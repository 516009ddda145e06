using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Analysis;

/// <summary>JSON for the audit and inspect reports: camelCase, indented, nulls written (a null MAC count is information).</summary>
public static class AuditJson
{
    // Reports go to terminals and files, not HTML: "→" and "×" stay readable instead of \u2192.
    private static readonly ReportJsonContext Context = new(new JsonSerializerOptions(ReportJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    private static readonly ReportJsonContext CompactContext = new(new JsonSerializerOptions(Context.Options) { WriteIndented = false });

    /// <summary>The audit as the JSON of <c>onnxconv audit --format json</c>, ending in a newline.</summary>
    public static string Serialize(AuditReport report) => JsonSerializer.Serialize(report, Context.AuditReport) + "\n";

    /// <summary>The report as a JSON object, for callers that add fields or write it on one line.</summary>
    public static JsonObject ToJsonObject(AuditReport report) => JsonSerializer.SerializeToNode(report, CompactContext.AuditReport)!.AsObject();

    /// <summary>How <see cref="ToJsonObject"/> nodes are written on one line, with the report's encoder.</summary>
    public static JsonSerializerOptions CompactOptions => CompactContext.Options;

    /// <summary>The inspection as the JSON of <c>onnxconv inspect --format json</c>, ending in a newline.</summary>
    public static string Serialize(ModelInspection inspection) => JsonSerializer.Serialize(inspection, Context.ModelInspection) + "\n";
}

/// <summary>A dimension as JSON: a number when known, its symbol's name as a string when symbolic, null when unknown.</summary>
internal sealed class DimJsonConverter : JsonConverter<Dim>
{
    public override Dim Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => Dim.Known(reader.GetInt64()),
        JsonTokenType.String => Dim.Symbolic(reader.GetString()!),
        JsonTokenType.Null => Dim.Unknown,
        _ => throw new JsonException($"a dimension is a number, a string or null, not {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, Dim value, JsonSerializerOptions options)
    {
        if (value.Value is { } known) writer.WriteNumberValue(known);
        else if (value.Symbol is { } symbol) writer.WriteStringValue(symbol);
        else writer.WriteNullValue();
    }

    public override bool HandleNull => true;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    Converters = [typeof(DimJsonConverter)])]
[JsonSerializable(typeof(AuditReport))]
[JsonSerializable(typeof(ModelInspection))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
