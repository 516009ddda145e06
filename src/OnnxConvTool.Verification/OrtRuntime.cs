using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Google.Protobuf;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>How much ONNX Runtime may optimise a session's graph before running it.</summary>
internal enum OptimizationLevel
{
    /// <summary>No graph optimisation at all: what <c>verify</c> always uses, so ORT's own fusions cannot hide a bug.</summary>
    None,
    Basic,
    Extended,
    All,
}

/// <summary>Session settings for one run of ONNX Runtime's CPU provider.</summary>
internal sealed record SessionSettings(OptimizationLevel Optimization = OptimizationLevel.None, int IntraOpThreads = 1)
{
    /// <summary>When set, ONNX Runtime's profiler records every node run to a file with this path prefix (its folder is created).</summary>
    internal string? ProfilePrefix { get; init; }

    /// <summary>The settings <c>verify</c> uses for both models: no optimisation, one intra-op thread.</summary>
    public static SessionSettings Verification { get; } = new();
}

/// <summary>
/// The one place that creates ONNX Runtime sessions. ORT's environment is created once per process
/// with a logger that drops everything below fatal and sends fatal lines to stderr, so ORT never
/// writes to stdout; its errors reach users through exceptions turned into one-line messages.
/// </summary>
internal static partial class OrtRuntime
{
    private static readonly object Gate = new();
    private static OrtEnv? _environment;

    /// <summary>Keeps the logging delegate alive for as long as native code may call it.</summary>
    private static readonly DOrtLoggingFunction Logger = (_, severity, _, _, _, message) =>
    {
        if (severity >= OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL) Console.Error.WriteLine($"onnxruntime: {message}");
    };

    public static OrtEnv Environment
    {
        get
        {
            lock (Gate)
            {
                if (_environment is not null) return _environment;
                if (OrtEnv.IsCreated)
                {
                    _environment = OrtEnv.Instance();
                    return _environment;
                }
                var options = new EnvironmentCreationOptions
                {
                    logId = "onnxconv",
                    logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
                    loggingFunction = Logger,
                };
                _environment = OrtEnv.CreateInstanceWithOptions(ref options);
                return _environment;
            }
        }
    }

    public static string Version => Environment.GetVersionString();

    public static SessionOptions CreateOptions(SessionSettings settings)
    {
        _ = Environment;
        var options = new SessionOptions
        {
            GraphOptimizationLevel = settings.Optimization switch
            {
                OptimizationLevel.None => GraphOptimizationLevel.ORT_DISABLE_ALL,
                OptimizationLevel.Basic => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                OptimizationLevel.Extended => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
            },
            IntraOpNumThreads = settings.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        if (settings.ProfilePrefix is { } prefix)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(prefix)!);
            // The prefix first: setting EnableProfiling starts the profiler with the prefix set at that moment.
            options.ProfileOutputPathPrefix = prefix;
            options.EnableProfiling = true;
        }
        return options;
    }

    /// <summary>
    /// A session for <paramref name="model"/>: small models are serialised in memory with their weights inline;
    /// models with more than <see cref="InlineLimit"/> bytes of weights go through a temporary file with external
    /// data, written file to file from the model's own mapping where the weights still live there, so no serialized
    /// copy of the weights is ever held in memory and ONNX Runtime reads (maps) them from the file itself.
    /// </summary>
    /// <exception cref="RuntimeFailure">ONNX Runtime refuses the model.</exception>
    /// <param name="extraOutputs">Main-graph values to expose as additional graph outputs (added to the serialised copy only).</param>
    /// <param name="model">The model to run.</param>
    /// <param name="settings">Optimisation level, threads and profiling.</param>
    /// <param name="label">How messages name the model.</param>
    public static InferenceSession CreateSession(Model model, SessionSettings settings, string label, IReadOnlyCollection<string>? extraOutputs = null)
    {
        using var options = CreateOptions(settings);
        try
        {
            if (InlineByteCount(model) > InlineLimit)
                return CreateFromTemporaryFile(extraOutputs is { Count: > 0 } ? ModelCopies.WithExtraOutputs(model, extraOutputs) : model, options);
            var proto = ModelWriter.ToProto(model);
            foreach (string name in extraOutputs ?? [])
                proto.Graph.Output.Add(new Onnx.ValueInfoProto { Name = name });
            return new InferenceSession(proto.ToByteArray(), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new RuntimeFailure($"ONNX Runtime cannot load {label}: {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>
    /// Weights (bytes) above which a model reaches ORT through a file with external data (64 MiB, where the file
    /// route's write costs less than the serialized copy; verifying a 0.5 GB model peaks at 2.4× its size instead of 6.1×);
    /// lowered by tests.
    /// </summary>
    internal static long InlineLimit { get; set; } = 64L << 20;

    /// <summary>Sessions created through a temporary file so far (for tests).</summary>
    internal static int TemporaryFileSessions;

    private static InferenceSession CreateFromTemporaryFile(Model model, SessionOptions options)
    {
        Interlocked.Increment(ref TemporaryFileSessions);
        // A new folder only this user can enter, deleted even when an interrupt abandons the session build.
        string folder = Directory.CreateTempSubdirectory("onnxconv-verify-").FullName;
        TempFiles.TrackFolder(folder);
        try
        {
            string path = Path.Combine(folder, "model.onnx");
            ModelWriter.Save(model, path, new SaveOptions { ExternalData = ExternalDataMode.External });
            return new InferenceSession(path, options);
        }
        finally
        {
            TempFiles.DeleteFolder(folder);
        }
    }

    private static long InlineByteCount(Model model)
    {
        long total = 0;
        foreach (var graph in model.AllGraphs())
        {
            foreach (var value in graph.Initializers) total += Math.Max(0, value.Initializer!.ByteCount);
            foreach (var node in graph.Nodes)
                foreach (var attribute in node.Proto.Attribute)
                {
                    if (attribute.T is { } t) total += Math.Max(0, new Tensor(t).ByteCount);
                    foreach (var inner in attribute.Tensors) total += Math.Max(0, new Tensor(inner).ByteCount);
                }
        }
        return total;
    }

    /// <summary>
    /// ORT's message as one line for users: without the status prefix, the source locations and the
    /// failed C++ assertion text, and without the outer "while running If node" wrappers.
    /// </summary>
    public static string FirstLine(string message)
    {
        string line = message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? message;
        line = StatusPrefix().Replace(line, "");
        line = SourceLocation().Replace(line, "");
        var wrappers = NestedStatus().Matches(line);
        if (wrappers.Count > 0)
        {
            var last = wrappers[^1];
            line = $"{last.Groups[1].Value} node '{last.Groups[2].Value}': {line[(last.Index + last.Length)..].Trim()}";
        }
        return line.Trim();
    }

    [GeneratedRegex(@"^\[ErrorCode:[^\]]*\]\s*")]
    private static partial Regex StatusPrefix();

    [GeneratedRegex(@"\S+\.(?:h|cc|cpp|hpp):\d+\s+(?:[^\s(]+\s+)?[\w:~<>]+\([^)]*\)(?:\s*const)?\s+(?:.*? was false\.\s*)?|\S+\.(?:h|cc|cpp|hpp):\d+\s*")]
    private static partial Regex SourceLocation();

    [GeneratedRegex(@"Non-zero status code returned while running (\w+) node\. Name:'([^']*)' Status Message:")]
    private static partial Regex NestedStatus();
}

/// <summary>ONNX Runtime could not load or run a model; verification cannot conclude (exit code 6).</summary>
public sealed class RuntimeFailure(string message, Exception? inner = null)
    : OnnxConvException(ExitCode.VerificationCouldNotRun, message, inner);
