using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>Copies of models made for running, never touching the caller's model.</summary>
internal static class ModelCopies
{
    /// <summary>A copy of <paramref name="model"/> (rebuilt from its proto) with the named main-graph values added as graph outputs.</summary>
    public static Model WithExtraOutputs(Model model, IEnumerable<string> names)
    {
        var copy = ModelReader.Build(ModelWriter.ToProto(model), model.SourcePath ?? "model.onnx",
            model.SourcePath is { Length: > 0 } path ? Path.GetDirectoryName(Path.GetFullPath(path))! : Directory.GetCurrentDirectory());
        foreach (string name in names)
        {
            var value = copy.Graph.Find(name);
            if (value is not null && !value.IsGraphOutput) copy.Graph.AddOutput(value);
        }
        return copy;
    }
}
