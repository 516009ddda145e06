using System.Diagnostics;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Readme;

/// <summary>
/// The README's "Use it from C#" promise end to end: <c>dotnet pack</c> makes the OnnxConvTool and
/// OnnxConvTool.Verification packages, and a fresh console project that references them from a local folder
/// compiles the guide's code (tests/OnnxConvTool.Samples) and runs it on a model.
/// </summary>
public sealed class LibraryPackageTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        // The unique test version is useless once the test ends; remove it from NuGet's global cache.
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string id in new[] { "onnxconvtool", "onnxconvtool.verification" })
        {
            string folder = Path.Combine(cache, id, _version);
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            if (Directory.Exists(Path.Combine(cache, id)) && !Directory.EnumerateFileSystemEntries(Path.Combine(cache, id)).Any()) Directory.Delete(Path.Combine(cache, id));
        }
    }

    private readonly string _version = $"0.0.0-packagetest.{Guid.NewGuid():N}";

    /// <summary>Building and restoring under a loaded machine takes minutes; a hang must not stall the test run.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(15);

    private static CliInvocation Dotnet(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        return CliInvocation.RunProcess(start, Limit);
    }

    [Fact]
    public void PackedLibrariesRunTheGuideInAFreshProject()
    {
        string root = SharedData.RepositoryRoot;
        string packages = Directory.CreateDirectory(_temp.File("packages")).FullName;
        foreach (string project in new[] { "src/OnnxConvTool/OnnxConvTool.csproj", "src/OnnxConvTool.Verification/OnnxConvTool.Verification.csproj" })
        {
            // A separate artifacts path keeps this build (at a test version) away from the repository's bin and obj folders.
            var pack = Dotnet(root, "pack", project, "-c", "Release", "-o", packages, $"-p:Version={_version}", "--artifacts-path", _temp.File("build"));
            Assert.True(pack.ExitCode == 0, pack.ToString());
        }
        Assert.Equal(["OnnxConvTool." + _version + ".nupkg", "OnnxConvTool.Verification." + _version + ".nupkg"],
            Directory.GetFiles(packages).Select(Path.GetFileName).Order());

        string app = Directory.CreateDirectory(_temp.File("app")).FullName;
        string samples = Path.Combine(root, "tests", "OnnxConvTool.Samples");
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="OnnxConvTool.Verification" Version="{_version}" />
                <Compile Include="{Path.Combine(samples, "Guide.cs")}" />
                <Compile Include="{Path.Combine(samples, "Program.cs")}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{packages}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);

        string output = _temp.File("optimized.onnx");
        var run = Dotnet(app, "run", "-c", "Release", "--", Path.Combine(root, "models", "resnet_bottleneck.onnx"), output);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("3 of 4 convolutions are 1x1", run.Stdout);
        Assert.Contains("equivalent: ", run.Stdout);
        Assert.Contains($"wrote {output}", run.Stdout);
        Assert.True(File.Exists(output));
    }
}
