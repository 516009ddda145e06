using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Oracle;

/// <summary>
/// The ONNX reference checker for tests: skips with the reason when the ONNX Python package is missing, or
/// fails when ONNXCONV_REQUIRE_SHARED=1. A model newer than the installed ONNX knows (ONNX 1.12: IR 8,
/// opset 17) is not checkable there; it must at least load in ONNX Runtime, which checks it against its own
/// newer schemas.
/// </summary>
public static class PythonOracle
{
    public static void Require()
    {
        if (PythonOnnx.Available) return;
        if (SharedData.Required)
            throw new InvalidOperationException($"ONNXCONV_REQUIRE_SHARED=1 but the ONNX reference checker is unavailable: {PythonOnnx.UnavailableReason}");
        Skip.If(true, $"the ONNX reference checker is unavailable: {PythonOnnx.UnavailableReason}");
    }

    /// <summary>Checks several models in one Python process and asserts each is valid, naming every failure.</summary>
    public static void AssertValid(params string[] paths)
    {
        Require();
        var results = PythonOnnx.CheckModels(paths);
        var failures = results.Where(r => r.Outcome == OnnxCheckOutcome.Invalid).Select(r => r.ToString()).ToList();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        foreach (var result in results.Where(r => r.Outcome == OnnxCheckOutcome.NotCheckable))
            LoadInOnnxRuntime(ModelReader.Load(result.Path), result.ToString());
    }

    /// <summary>Asserts the checker accepts <paramref name="model"/> (saved to a temporary file).</summary>
    public static void AssertValid(Model model)
    {
        var result = Check(model);
        Assert.True(result.Outcome != OnnxCheckOutcome.Invalid, $"onnx.checker rejects the model: {result.Message}");
        if (result.Outcome == OnnxCheckOutcome.NotCheckable) LoadInOnnxRuntime(model, result.Message);
    }

    /// <summary>What the checker says about <paramref name="model"/> (saved to a temporary file).</summary>
    public static OnnxCheckResult Check(Model model)
    {
        Require();
        using var temp = new TempDirectory();
        string path = temp.File("model.onnx");
        File.WriteAllBytes(path, ModelWriter.ToBytes(model));
        return PythonOnnx.CheckModel(path);
    }

    private static void LoadInOnnxRuntime(Model model, string why)
    {
        try
        {
            OrtRuntime.CreateSession(model, SessionSettings.Verification, "the model").Dispose();
        }
        catch (RuntimeFailure e)
        {
            Assert.Fail($"{why}; {e.Message}");
        }
    }
}
