using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Oracle;

/// <summary>Guard for tests that use the ONNX Python package: skip with the reason, or fail when ONNXCONV_REQUIRE_SHARED=1.</summary>
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
        var failures = PythonOnnx.CheckModels(paths).Where(r => !r.Ok).Select(r => r.ToString()).ToList();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }
}
