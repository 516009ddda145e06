namespace OnnxConvTool.TestKit;

/// <summary>
/// Locates ../shared (real models and ONNX backend tests). Tests that need it skip with a reason when it
/// is absent, and fail instead when ONNXCONV_REQUIRE_SHARED=1 (as in CI).
/// </summary>
public static class SharedData
{
    public static bool Required => Environment.GetEnvironmentVariable("ONNXCONV_REQUIRE_SHARED") == "1";

    /// <summary>The shared folder, found by walking up from the test binaries to the repo and taking its sibling.</summary>
    public static string? Root { get; } = FindRoot();

    public static string ModelsDirectory => Path.Combine(Root ?? "../shared", "models");
    public static string BackendTestsDirectory => Path.Combine(Root ?? "../shared", "onnx-backend-tests");

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The real models: file name, and inputs that run each (see ../shared/models/README.md).</summary>
    public static IReadOnlyList<string> RealModelNames { get; } =
    [
        "ch_PP-OCRv4_det_infer.onnx",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "mlsd_320x320_tiny.onnx",
        "face_detection_front_128x128_barracuda.onnx",
        "silero_vad_v5.onnx",
    ];

    public static string RealModel(string name) => Path.Combine(ModelsDirectory, name);

    public static IEnumerable<string> BackendTestCases() =>
        Root is null ? [] : Directory.GetDirectories(BackendTestsDirectory).Where(d => File.Exists(Path.Combine(d, "model.onnx"))).OrderBy(d => d, StringComparer.Ordinal);

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "OnnxConvTool.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }

    private static string? FindRoot()
    {
        string candidate = Path.GetFullPath(Path.Combine(FindRepositoryRoot(), "..", "shared"));
        return Directory.Exists(Path.Combine(candidate, "models")) ? candidate : null;
    }
}
