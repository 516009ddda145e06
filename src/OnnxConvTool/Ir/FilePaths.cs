namespace OnnxConvTool.Ir;

/// <summary>Path questions the loader and writer must answer the same way: where a path really leads.</summary>
public static class FilePaths
{
    /// <summary>The full path with every symbolic link along it resolved (parts that do not exist are kept as written).</summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full)!;
        string current = root;
        foreach (string part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                current = RealPath(target.FullName);
        }
        return current;
    }

    /// <summary>True when both paths lead to the same file once symbolic links are resolved.</summary>
    public static bool SameFile(string a, string b) => string.Equals(RealPath(a), RealPath(b), StringComparison.Ordinal);
}
