using Microsoft.ML.OnnxRuntime;

namespace OnnxConvTool.Verification;

/// <summary>How many of the nodes a rewrite created ran in at least one trial, and which never did.</summary>
public sealed record CoverageResult
{
    /// <summary>Nodes the rewrite created that ONNX Runtime executes (Constant nodes, which ORT turns into initializers, are left out).</summary>
    public required int Tracked { get; init; }

    /// <summary>Created nodes that ran in no trial, in the order the rewrite created them.</summary>
    public required IReadOnlyList<string> NeverRan { get; init; }

    /// <summary>Created nodes that ran in at least one trial.</summary>
    public int Ran => Tracked - NeverRan.Count;
}

/// <summary>
/// Which nodes of a session ran, from ONNX Runtime's profiler: with profiling on, every kernel execution
/// is a "Node" event named "&lt;node name&gt;_kernel_time", nodes inside If/Loop/Scan bodies included (they run
/// through the same session's executor), and a branch that is not taken has no event. Graph optimisations
/// are off in verification sessions, so no node is fused away or renamed before it runs.
/// </summary>
internal static class ExecutionCoverage
{
    /// <summary>Ends profiling on <paramref name="session"/> and returns the names of the nodes that ran.</summary>
    public static HashSet<string> ExecutedNodes(InferenceSession session)
    {
        using var stream = File.OpenRead(session.EndProfiling());
        return Parse(stream);
    }

    /// <summary>Node names from a Chrome-trace profile written by ONNX Runtime.</summary>
    internal static HashSet<string> Parse(Stream profile) =>
        ProfileEvents.Read(profile).Kernels.Select(run => run.Node).ToHashSet(StringComparer.Ordinal);

    public static CoverageResult Summarize(IReadOnlyList<string> created, HashSet<string> executed) => new()
    {
        Tracked = created.Count,
        NeverRan = created.Where(n => !executed.Contains(n)).ToList(),
    };
}

/// <summary>
/// A fresh temporary folder for a session's profile, deleted on disposal. Dispose it after the session:
/// a session disposed without <see cref="InferenceSession.EndProfiling"/> writes its profile then.
/// </summary>
internal sealed class ProfileFolder : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "onnxconv-profile-" + Guid.NewGuid().ToString("N"));

    /// <summary>The path prefix ONNX Runtime gives the profile file.</summary>
    public string Prefix => Path.Combine(_path, "profile");

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(_path)) Directory.Delete(_path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
