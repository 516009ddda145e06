using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OnnxConvTool.Cli;

/// <summary>
/// The contract of every <c>--format json</c> report: it starts with <c>schemaVersion</c>, and the schema it follows
/// ships inside onnxconv as the resource <c>Schemas/&lt;command&gt;.schema.json</c>.
/// </summary>
public static class JsonReports
{
    /// <summary>Bumped when a field of any report changes meaning or disappears; adding fields keeps the version.</summary>
    public const int SchemaVersion = 1;

    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The report with <c>schemaVersion</c> as its first field (kept when the report already has it).</summary>
    public static string Versioned(string json)
    {
        var report = JsonNode.Parse(json)!.AsObject();
        if (report.ContainsKey("schemaVersion")) return json;
        var versioned = new JsonObject { ["schemaVersion"] = SchemaVersion };
        foreach (var (name, value) in report.ToList())
        {
            report.Remove(name);
            versioned[name] = value;
        }
        return versioned.ToJsonString(Indented) + "\n";
    }

    /// <summary>The JSON schema of <paramref name="command"/>'s report, as shipped in the tool.</summary>
    public static string Schema(string command)
    {
        using var stream = typeof(JsonReports).Assembly.GetManifestResourceStream($"Schemas/{command}.schema.json")
            ?? throw new ArgumentException($"no report schema for '{command}'", nameof(command));
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
