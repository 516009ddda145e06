using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace OnnxConvTool.Ir;

/// <summary>
/// The temp files every output goes through before it is renamed into place. Each is created exclusively
/// (never opened if something, such as a planted symbolic link, already has its name) under an
/// unpredictable hidden name in the destination's folder: <c>.NAME.PID.RANDOM.tmp</c>. The writer's PID
/// in the name lets a later write to the same destination remove temps a killed process left behind.
/// </summary>
public static partial class TempFiles
{
    private static readonly ConcurrentDictionary<string, byte> Live = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, byte> LiveFolders = new(StringComparer.Ordinal);

    /// <summary>Creates a new empty temp file beside <paramref name="destination"/>, open for writing; its path is the stream's <c>Name</c>.</summary>
    /// <exception cref="IOException">The folder is unwritable (or, astronomically unlikely, the random name exists).</exception>
    public static FileStream CreateBeside(string destination, int bufferSize = 1 << 20)
    {
        string path = PathBeside(destination);
        Live[path] = 0;
        try
        {
            return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize);
        }
        catch
        {
            Live.TryRemove(path, out _);
            throw;
        }
    }

    /// <summary>
    /// Replaces <paramref name="destination"/> atomically: removes temps abandoned beside it, has
    /// <paramref name="write"/> fill a new temp file, and renames that over the destination. On failure the
    /// destination is untouched and the temp is gone.
    /// </summary>
    /// <exception cref="IOException">The folder is unwritable or the rename failed.</exception>
    public static void ReplaceAtomically(string destination, Action<FileStream> write, int bufferSize = 1 << 16)
    {
        RemoveAbandoned(destination);
        string? temp = null;
        try
        {
            using (var stream = CreateBeside(destination, bufferSize))
            {
                temp = stream.Name;
                write(stream);
            }
            File.Move(temp, destination, overwrite: true);
            Committed(temp);
            temp = null;
        }
        finally
        {
            if (temp is not null) Delete(temp);
        }
    }

    /// <summary>Registers a temp folder (for a runtime that needs files) to be deleted if the process must exit without waiting for its owner.</summary>
    public static void TrackFolder(string folder) => LiveFolders[folder] = 0;

    /// <summary>Deletes a temp folder registered with <see cref="TrackFolder"/>, with everything in it; never throws.</summary>
    public static void DeleteFolder(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        LiveFolders.TryRemove(folder, out _);
    }

    /// <summary>An unused temp name beside <paramref name="destination"/> (for a rename, which does not follow links).</summary>
    public static string PathBeside(string destination) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(destination))!,
            $".{Path.GetFileName(destination)}.{Environment.ProcessId}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}.tmp");

    /// <summary>
    /// The message of a failed write without the temp names of <see cref="PathBeside"/> (a user never chose them):
    /// each becomes the file it stood for. Line breaks become spaces.
    /// </summary>
    public static string Scrub(string message) =>
        TempPath().Replace(message, m => Path.Combine(m.Groups["folder"].Value, m.Groups["name"].Value)).ReplaceLineEndings(" ");

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<folder>[^\s'""]*?/)?\.(?<name>[^/\s'""]+?)\.\d+\.[0-9a-f]{32}\.tmp")]
    private static partial System.Text.RegularExpressions.Regex TempPath();

    /// <summary>Records that <paramref name="temp"/> was renamed into place and is no longer a temp file.</summary>
    public static void Committed(string temp) => Live.TryRemove(temp, out _);

    /// <summary>Deletes a temp file if it still exists; never throws.</summary>
    public static void Delete(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        Live.TryRemove(temp, out _);
    }

    /// <summary>Deletes every temp file this process still has open or unrenamed: for an exit that cannot wait for the writer.</summary>
    public static void DeleteAllOfThisProcess()
    {
        foreach (string temp in Live.Keys) Delete(temp);
        foreach (string folder in LiveFolders.Keys) DeleteFolder(folder);
    }

    /// <summary>
    /// Deletes the temp files beside <paramref name="destination"/> whose writer process no longer exists
    /// (a run killed with SIGKILL cannot clean up after itself). Temps of running processes are left alone.
    /// </summary>
    public static void RemoveAbandoned(string destination)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(destination))!;
        string prefix = $".{Path.GetFileName(destination)}.";
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, ".*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (string path in candidates)
        {
            string name = Path.GetFileName(path);
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            string[] rest = name[prefix.Length..].Split('.');
            if (rest.Length != 3 || rest[1].Length != 32 || rest[2] != "tmp" || !rest[1].All(char.IsAsciiHexDigitLower)) continue;
            if (!int.TryParse(rest[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (!ProcessExists(pid)) Delete(path);
        }
    }

    private static bool ProcessExists(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
