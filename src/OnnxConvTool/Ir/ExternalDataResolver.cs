using OnnxConvTool.Onnx;

namespace OnnxConvTool.Ir;

/// <summary>
/// Resolves a tensor's external_data entries against the model's folder and refuses anything unsafe:
/// absolute locations, escapes out of the folder (by '..' or by symlink), NUL characters, missing files,
/// files that are not regular or have more than one hard link, and ranges past the end of the file.
/// </summary>
internal sealed class ExternalDataResolver(string modelPath, string baseDirectory)
{
    private readonly string _realBase = RealPath(baseDirectory);
    private readonly Dictionary<string, long> _fileLengths = new(StringComparer.Ordinal);

    public ExternalDataLocation? Resolve(TensorProto tensor)
    {
        if (tensor.DataLocation != TensorProto.Types.DataLocation.External) return null;
        string? location = null;
        long offset = 0, length = -1;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = ParseNumber(tensor, entry); break;
                case "length": length = ParseNumber(tensor, entry); break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw Reject(tensor, "has external data with no location");
        if (location.Contains('\0')) throw Reject(tensor, $"has an external data location with a NUL character ('{location.Replace("\0", "\\0")}')");
        if (Path.IsPathRooted(location) || location.StartsWith('/') || location.StartsWith('\\') || location.Contains(':'))
            throw Reject(tensor, $"has an absolute external data location '{location}'");
        var parts = location.Split('/', '\\');
        if (parts.Any(p => p == ".."))
            throw Reject(tensor, $"external data location '{location}' escapes the model's folder");
        string fullPath = Path.GetFullPath(Path.Combine(baseDirectory, location));
        if (!File.Exists(fullPath)) throw Reject(tensor, $"external data file '{location}' does not exist");
        string realPath = RealPath(fullPath);
        string baseWithSeparator = _realBase.EndsWith(Path.DirectorySeparatorChar) ? _realBase : _realBase + Path.DirectorySeparatorChar;
        if (!realPath.StartsWith(baseWithSeparator, StringComparison.Ordinal))
            throw Reject(tensor, $"external data location '{location}' leaves the model's folder through a symbolic link");
        if (!_fileLengths.TryGetValue(realPath, out long fileLength))
        {
            // ONNX Runtime follows hard links wherever they lead: a second link could be a file outside the folder.
            var status = FilePaths.Status(realPath);
            if (status.Kind != FileKind.Regular) throw Reject(tensor, $"external data '{location}' is {status.KindText}, not a regular file");
            if (status.LinkCount > 1)
                throw Reject(tensor, $"external data file '{location}' has {status.LinkCount} hard links; only a file with one link is known to stay inside the model's folder");
            _fileLengths[realPath] = fileLength = status.Size;
        }
        if (offset < 0) throw Reject(tensor, $"has a negative external data offset {offset}");
        if (length < 0) length = fileLength - offset;
        if (offset > fileLength || length > fileLength - offset)
            throw Reject(tensor, $"external data range offset {offset} length {length} runs past the end of '{location}' ({fileLength} bytes)");
        return new ExternalDataLocation(realPath, location, offset, length);
    }

    private long ParseNumber(TensorProto tensor, StringStringEntryProto entry) =>
        long.TryParse(entry.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)
            ? n
            : throw Reject(tensor, $"has a non-numeric external data {entry.Key} '{entry.Value}'");

    private ModelRejectedException Reject(TensorProto tensor, string problem) => new(modelPath, $"tensor '{tensor.Name}' {problem}");

    private static string RealPath(string path) => FilePaths.RealPath(path);
}
