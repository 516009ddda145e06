using System.Diagnostics;
using System.Text.Json;

namespace OnnxConvTool.TestKit;

/// <summary>What the reference checker said about one model.</summary>
public enum OnnxCheckOutcome
{
    Valid,
    Invalid,
    /// <summary>The model's IR version or opset is newer than the installed ONNX package knows.</summary>
    NotCheckable,
}

/// <summary>The reference checker's verdict on one file; deconstructs to (ok, message).</summary>
public sealed record OnnxCheckResult(string Path, OnnxCheckOutcome Outcome, string Message)
{
    public bool Ok => Outcome == OnnxCheckOutcome.Valid;

    public void Deconstruct(out bool ok, out string message)
    {
        ok = Ok;
        message = Message;
    }

    public override string ToString() => $"{Path}: {Outcome}{(Message.Length > 0 ? ": " + Message : "")}";
}

/// <summary>
/// The ONNX Python package as an independent oracle: <c>onnx.checker.check_model(path, full_check=True)</c>
/// and operator schemas. The interpreter is $ONNXCONV_PYTHON, else the first of <c>python3</c> on PATH and
/// <c>/usr/bin/python3</c> that can <c>import onnx</c> (a pyenv shim on PATH may lack Debian's python3-onnx).
/// <para>
/// Models whose IR version or default-domain opset is newer than the installed ONNX release knows (ONNX 1.12:
/// IR 8, opset 17, ai.onnx.ml 3) come back as <see cref="OnnxCheckOutcome.NotCheckable"/> instead of a
/// failure. The full check runs shape inference into a temporary file: ONNX 1.12's
/// <c>check_model(path, full_check=True)</c> itself writes the inferred model back over the checked file.
/// </para>
/// <para>
/// Checks go to one long-lived Python process per test run (started on first use, ended when the run
/// ends), so tests may check every model they build.
/// </para>
/// </summary>
public static class PythonOnnx
{
    /// <summary>
    /// The checker server: reads one JSON-encoded path per line and answers one JSON line per path; ends at
    /// end of input. One server answers every check of a test run, so each check costs milliseconds, not an
    /// interpreter start and an <c>import onnx</c>.
    /// </summary>
    private const string CheckScript = """
        import json, os, sys, tempfile
        import onnx
        from onnx import checker, helper, shape_inference

        _, max_ir, max_opset, max_ml = helper.VERSION_TABLE[-1][:4]
        known = {"": max_opset, "ai.onnx": max_opset, "ai.onnx.ml": max_ml}
        scratch = tempfile.mkdtemp(prefix="onnxconv-check-")

        def check(path):
            try:
                model = onnx.load(path, load_external_data=False)
                newer = []
                if model.ir_version > max_ir:
                    newer.append(f"IR version {model.ir_version} > {max_ir}")
                for imp in model.opset_import:
                    limit = known.get(imp.domain)
                    if limit is not None and imp.version > limit:
                        newer.append(f"opset {imp.domain or 'ai.onnx'} {imp.version} > {limit}")
                if newer:
                    return ("not-checkable", f"not checkable by ONNX {onnx.__version__}: " + ", ".join(newer))
                checker.C.check_model_path(path)
                inferred = os.path.join(scratch, "inferred.onnx")
                shape_inference.infer_shapes_path(path, inferred, check_type=True, strict_mode=True)
                os.remove(inferred)
                return ("valid", "")
            except Exception as e:
                return ("invalid", f"{type(e).__name__}: {e}".strip())

        try:
            for line in sys.stdin:
                if not line.strip():
                    continue
                status, message = check(json.loads(line))
                print(json.dumps({"status": status, "message": message}), flush=True)
        finally:
            os.rmdir(scratch)
        """;

    private const string SchemaScript = """
        import sys
        from onnx import defs
        op, opset, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        try:
            print(defs.get_schema(op, opset, domain).since_version)
        except defs.SchemaError:
            print(-1)
        """;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private static readonly object ServerGate = new();
    private static CheckServer? _server;
    private static readonly Lazy<(string? Interpreter, string Version, string Reason)> Probe = new(FindInterpreter);

    /// <summary>True when a Python interpreter with the onnx package was found.</summary>
    public static bool Available => Probe.Value.Interpreter is not null;

    /// <summary>The interpreter in use, or null.</summary>
    public static string? Interpreter => Probe.Value.Interpreter;

    /// <summary>The onnx package version, e.g. "1.12.0" (empty when unavailable).</summary>
    public static string OnnxVersion => Probe.Value.Version;

    /// <summary>Why the oracle is unavailable (empty when it is available).</summary>
    public static string UnavailableReason => Probe.Value.Reason;

    /// <summary>Runs the full reference check on one model file.</summary>
    public static OnnxCheckResult CheckModel(string path) => CheckModels([path])[0];

    /// <summary>Runs the full reference check on several files; results in input order.</summary>
    public static IReadOnlyList<OnnxCheckResult> CheckModels(IEnumerable<string> paths)
    {
        var list = paths.Select(Path.GetFullPath).ToList();
        if (list.Count == 0) return [];
        lock (ServerGate)
        {
            if (_server is null || _server.HasExited) _server = CheckServer.Start(Interpreter
                ?? throw new InvalidOperationException($"the ONNX Python package is not available: {UnavailableReason}"), CheckScript);
            var results = new List<OnnxCheckResult>(list.Count);
            foreach (string path in list)
            {
                string line;
                try
                {
                    line = _server.Ask(JsonSerializer.Serialize(path), Timeout);
                }
                catch
                {
                    _server.Dispose();
                    _server = null;
                    throw;
                }
                results.Add(ParseResult(path, line));
            }
            return results;
        }
    }

    /// <summary>
    /// The since_version of the schema of <paramref name="op"/> in force at <paramref name="opset"/>, or null when
    /// the installed ONNX has no such operator at that opset.
    /// </summary>
    public static int? GetSchemaSinceVersion(string op, int opset, string domain = "")
    {
        var lines = Run(["-c", SchemaScript, op, opset.ToString(System.Globalization.CultureInfo.InvariantCulture), domain]);
        int since = int.Parse(lines.Single(), System.Globalization.CultureInfo.InvariantCulture);
        return since < 0 ? null : since;
    }

    private static OnnxCheckResult ParseResult(string path, string line)
    {
        using var json = JsonDocument.Parse(line);
        string status = json.RootElement.GetProperty("status").GetString()!;
        string message = json.RootElement.GetProperty("message").GetString()!;
        var outcome = status switch
        {
            "valid" => OnnxCheckOutcome.Valid,
            "invalid" => OnnxCheckOutcome.Invalid,
            "not-checkable" => OnnxCheckOutcome.NotCheckable,
            _ => throw new InvalidOperationException($"the ONNX checker answered an unknown status '{status}'"),
        };
        return new OnnxCheckResult(path, outcome, message);
    }

    private static List<string> Run(IReadOnlyList<string> arguments)
    {
        string interpreter = Interpreter
            ?? throw new InvalidOperationException($"the ONNX Python package is not available: {UnavailableReason}");
        var (exitCode, stdout, stderr) = Execute(interpreter, arguments);
        if (exitCode != 0)
            throw new InvalidOperationException($"{interpreter} exited with {exitCode}: {stderr.Trim()}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    private static (string? Interpreter, string Version, string Reason) FindInterpreter()
    {
        var candidates = new List<string>();
        string? configured = Environment.GetEnvironmentVariable("ONNXCONV_PYTHON");
        if (!string.IsNullOrEmpty(configured)) candidates.Add(configured);
        candidates.Add("python3");
        if (File.Exists("/usr/bin/python3")) candidates.Add("/usr/bin/python3");

        var failures = new List<string>();
        foreach (string candidate in candidates)
        {
            try
            {
                var (exitCode, stdout, stderr) = Execute(candidate, ["-c", "import onnx; print(onnx.__version__)"]);
                if (exitCode == 0) return (candidate, stdout.Trim(), "");
                string last = stderr.Trim().Split('\n').LastOrDefault() ?? "";
                failures.Add($"{candidate}: {last}");
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                failures.Add($"{candidate}: {e.Message}");
            }
        }
        return (null, "", "no Python with the onnx package (install python3-onnx, or set ONNXCONV_PYTHON): " + string.Join("; ", failures));
    }

    private static (int ExitCode, string Stdout, string Stderr) Execute(string fileName, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["PYTHONIOENCODING"] = "utf-8";
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{fileName} did not finish within {Timeout.TotalMinutes} minutes");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A long-lived Python process that answers one line per request line on its stdin.</summary>
internal sealed class CheckServer : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _stderr = new();

    private CheckServer(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) _stderr.AppendLine(e.Data);
        };
        _process.BeginErrorReadLine();
        // Ending stdin lets the server remove its scratch folder and exit when the test run ends.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
    }

    public bool HasExited => _process.HasExited;

    public static CheckServer Start(string interpreter, string script)
    {
        var start = new ProcessStartInfo(interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-u", "-c", script }) start.ArgumentList.Add(argument);
        start.Environment["PYTHONIOENCODING"] = "utf-8";
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        return new CheckServer(Process.Start(start) ?? throw new InvalidOperationException($"could not start {interpreter}"));
    }

    /// <summary>Sends one request line and returns the answer line.</summary>
    public string Ask(string request, TimeSpan timeout)
    {
        _process.StandardInput.WriteLine(request);
        _process.StandardInput.Flush();
        var answer = _process.StandardOutput.ReadLineAsync();
        if (!answer.Wait(timeout))
            throw new InvalidOperationException($"the ONNX checker did not answer within {timeout.TotalMinutes} minutes");
        if (answer.Result is { } line) return line;
        _process.WaitForExit();
        string stderr;
        lock (_stderr) stderr = _stderr.ToString().Trim();
        throw new InvalidOperationException($"the ONNX checker exited with {_process.ExitCode}: {stderr}");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(TimeSpan.FromSeconds(5))) _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }
}
