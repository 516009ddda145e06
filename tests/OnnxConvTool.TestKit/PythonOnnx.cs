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
/// </summary>
public static class PythonOnnx
{
    private const string CheckScript = """
        import json, os, sys, tempfile
        import onnx
        from onnx import checker, helper, shape_inference

        _, max_ir, max_opset, max_ml = helper.VERSION_TABLE[-1][:4]
        known = {"": max_opset, "ai.onnx": max_opset, "ai.onnx.ml": max_ml}
        scratch = tempfile.mkdtemp(prefix="onnxconv-check-")
        for path in sys.argv[1:]:
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
                    result = ("not-checkable", f"not checkable by ONNX {onnx.__version__}: " + ", ".join(newer))
                else:
                    checker.C.check_model_path(path)
                    inferred = os.path.join(scratch, "inferred.onnx")
                    shape_inference.infer_shapes_path(path, inferred, check_type=True, strict_mode=True)
                    os.remove(inferred)
                    result = ("valid", "")
            except Exception as e:
                result = ("invalid", f"{type(e).__name__}: {e}".strip())
            print(json.dumps({"status": result[0], "message": result[1]}), flush=True)
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

    /// <summary>Runs the full reference check on several files in one Python process; results in input order.</summary>
    public static IReadOnlyList<OnnxCheckResult> CheckModels(IEnumerable<string> paths)
    {
        var list = paths.Select(Path.GetFullPath).ToList();
        if (list.Count == 0) return [];
        var lines = Run(["-c", CheckScript, .. list]);
        if (lines.Count != list.Count)
            throw new InvalidOperationException($"the ONNX checker answered {lines.Count} lines for {list.Count} models");
        return list.Select((path, i) => ParseResult(path, lines[i])).ToList();
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
