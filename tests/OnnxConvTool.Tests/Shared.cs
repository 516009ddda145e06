using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests;

/// <summary>Guards for tests that need ../shared: skip with a reason, or fail when ONNXCONV_REQUIRE_SHARED=1.</summary>
public static class Shared
{
    public static string RealModel(string name)
    {
        RequireRoot();
        string path = SharedData.RealModel(name);
        if (!File.Exists(path))
        {
            if (SharedData.Required) throw new InvalidOperationException($"ONNXCONV_REQUIRE_SHARED=1 but {path} is missing");
            Skip.If(true, $"{path} is missing");
        }
        return path;
    }

    public static string BackendTestCase(string name)
    {
        RequireRoot();
        return Path.Combine(SharedData.BackendTestsDirectory, name);
    }

    public static void RequireRoot()
    {
        if (SharedData.Root is not null) return;
        if (SharedData.Required) throw new InvalidOperationException("ONNXCONV_REQUIRE_SHARED=1 but ../shared (models, onnx-backend-tests) was not found beside the repository");
        Skip.If(true, "../shared is not beside the repository; these tests use its real models");
    }

    /// <summary>Real model names as xunit theory data.</summary>
    public static TheoryData<string> RealModels()
    {
        var data = new TheoryData<string>();
        foreach (var name in SharedData.RealModelNames) data.Add(name);
        return data;
    }
}
