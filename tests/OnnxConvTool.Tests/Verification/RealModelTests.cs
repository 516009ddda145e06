using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Cli;

namespace OnnxConvTool.Tests.Verification;

/// <summary>
/// Every real model in ../shared/models: verified against itself it is equivalent; with one weight
/// perturbed by 1e-3 relative it is different. Inputs as in ../shared/models/README.md.
/// </summary>
public sealed class RealModelTests
{
    /// <summary>Options that run each model (Silero's control flow needs sr = 16000 and 512 samples per batch row).</summary>
    internal static string[] InputOptions(string name) => name switch
    {
        "silero_vad_v5.onnx" => ["--value", "sr=16000", "--shape", "input=N,512", "--shape", "state=2,N,128"],
        _ => [],
    };

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void AModelIsEquivalentToItself(string name)
    {
        string path = Shared.RealModel(name);
        var result = CliInvocation.Run(["verify", path, path, "--trials", "2", .. InputOptions(name)]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("result: equivalent", result.Stdout);
    }

    public static TheoryData<string, string> Perturbations()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in SharedData.RealModelNames)
        {
            data.Add(name, "first Conv");
            data.Add(name, "first 1x1 Conv");
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Perturbations))]
    public void OneWeightPerturbedBy1e3RelativeIsCaught(string name, string which)
    {
        string path = Shared.RealModel(name);
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        bool oneByOne = which.Contains("1x1");
        var weight = WeightPerturbation.Find(proto.Graph, (node, index, w) => node.OpType == "Conv" && index == 1 && (!oneByOne || w.Dims.Skip(2).All(d => d == 1)))
            ?? throw new InvalidOperationException($"{name} has no {which} with a constant weight");
        WeightPerturbation.PerturbInPlace(weight, 1e-3);
        using var temp = new TempDirectory();
        string perturbed = temp.File(name);
        File.WriteAllBytes(perturbed, proto.ToByteArray());

        var result = CliInvocation.Run(["verify", path, perturbed, "--trials", "1", .. InputOptions(name)]);
        Assert.True(result.ExitCode == 1, $"perturbed {weight.Name}\n{result}");
        Assert.Contains("result: different", result.Stdout);
    }
}
