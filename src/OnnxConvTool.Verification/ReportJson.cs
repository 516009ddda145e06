using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OnnxConvTool.Verification;

/// <summary>Writes a report's JSON: indented, UTF-8, ending in a newline.</summary>
internal static class ReportJson
{
    // Reports go to terminals and files, not HTML: "→" and "×" stay readable instead of \u2192.
    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, Options)) write(json);
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>The inputs a run was fed: name, element type, shape and where the data came from.</summary>
    public static void WriteInputs(Utf8JsonWriter json, IEnumerable<TrialInput> inputs)
    {
        json.WriteStartArray("inputs");
        foreach (var input in inputs)
        {
            json.WriteStartObject();
            json.WriteString("name", input.Name);
            json.WriteString("type", input.ElementType);
            json.WriteStartArray("shape");
            foreach (long d in input.Shape) json.WriteNumberValue(d);
            json.WriteEndArray();
            json.WriteString("source", input.Source);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
