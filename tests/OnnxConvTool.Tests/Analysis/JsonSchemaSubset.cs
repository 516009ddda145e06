using System.Text.Json;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

/// <summary>
/// A validator for the JSON Schema keywords audit-report.schema.json uses (type, enum, required, properties,
/// additionalProperties, items, minimum, maximum, $ref to #/$defs). Any other keyword in the schema is an
/// error, so the check can never pass by ignoring part of the contract.
/// </summary>
internal sealed class JsonSchemaSubset
{
    private static readonly HashSet<string> Keywords =
    [
        "$schema", "$id", "$defs", "$ref", "title", "description", "type", "enum", "required", "properties",
        "additionalProperties", "items", "minimum", "maximum",
    ];

    private readonly JsonElement _root;

    public JsonSchemaSubset(JsonElement root)
    {
        _root = root;
        CheckKeywords(root, "#");
    }

    /// <summary>The schema in the repository file at <paramref name="path"/> (segments under the repository root).</summary>
    public static JsonSchemaSubset Load(params string[] path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine([SharedData.RepositoryRoot, .. path])));
        return new JsonSchemaSubset(document.RootElement.Clone());
    }

    /// <summary>Every violation, each as "path: problem"; empty when the document conforms.</summary>
    public List<string> Validate(JsonElement document)
    {
        var errors = new List<string>();
        Validate(_root, document, "$", errors);
        return errors;
    }

    private static void CheckKeywords(JsonElement schema, string at)
    {
        if (schema.ValueKind != JsonValueKind.Object) throw new InvalidOperationException($"{at}: a schema must be an object");
        foreach (var property in schema.EnumerateObject())
        {
            if (!Keywords.Contains(property.Name)) throw new InvalidOperationException($"{at}: keyword '{property.Name}' is not supported by this validator");
            switch (property.Name)
            {
                case "$defs" or "properties":
                    foreach (var child in property.Value.EnumerateObject()) CheckKeywords(child.Value, $"{at}/{property.Name}/{child.Name}");
                    break;
                case "items":
                    CheckKeywords(property.Value, $"{at}/items");
                    break;
                case "additionalProperties" when property.Value.ValueKind == JsonValueKind.Object:
                    CheckKeywords(property.Value, $"{at}/additionalProperties");
                    break;
            }
        }
    }

    private void Validate(JsonElement schema, JsonElement value, string path, List<string> errors)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            string target = reference.GetString()!;
            const string prefix = "#/$defs/";
            if (!target.StartsWith(prefix, StringComparison.Ordinal)) throw new InvalidOperationException($"unsupported $ref {target}");
            Validate(_root.GetProperty("$defs").GetProperty(target[prefix.Length..]), value, path, errors);
        }
        if (schema.TryGetProperty("type", out var type))
        {
            var allowed = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList() : [type.GetString()!];
            if (!allowed.Any(t => IsOfType(value, t)))
            {
                errors.Add($"{path}: {Describe(value)} is not of type {string.Join("|", allowed)}");
                return;
            }
        }
        if (schema.TryGetProperty("enum", out var options) && !options.EnumerateArray().Any(o => JsonElement.DeepEquals(o, value)))
            errors.Add($"{path}: {value.GetRawText()} is not one of {options.GetRawText()}");
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (schema.TryGetProperty("minimum", out var min) && value.GetDouble() < min.GetDouble()) errors.Add($"{path}: {value} < minimum {min}");
            if (schema.TryGetProperty("maximum", out var max) && value.GetDouble() > max.GetDouble()) errors.Add($"{path}: {value} > maximum {max}");
        }
        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            int i = 0;
            foreach (var item in value.EnumerateArray()) Validate(items, item, $"{path}[{i++}]", errors);
        }
        if (value.ValueKind != JsonValueKind.Object) return;
        if (schema.TryGetProperty("required", out var required))
            foreach (var name in required.EnumerateArray())
                if (!value.TryGetProperty(name.GetString()!, out _)) errors.Add($"{path}: required property '{name.GetString()}' is missing");
        schema.TryGetProperty("properties", out var properties);
        foreach (var property in value.EnumerateObject())
        {
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
                Validate(propertySchema, property.Value, $"{path}.{property.Name}", errors);
            else if (schema.TryGetProperty("additionalProperties", out var additional))
            {
                if (additional.ValueKind == JsonValueKind.False) errors.Add($"{path}: property '{property.Name}' is not allowed");
                else if (additional.ValueKind == JsonValueKind.Object) Validate(additional, property.Value, $"{path}.{property.Name}", errors);
            }
        }
    }

    private static bool IsOfType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        _ => throw new InvalidOperationException($"unknown type '{type}' in schema"),
    };

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => value.GetRawText(),
    };
}
