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
        var weight = FindConvWeight(proto.Graph, oneByOne: which.Contains("1x1"))
            ?? throw new InvalidOperationException($"{name} has no {which} with a constant weight");
        PerturbInPlace(weight, 1e-3);
        using var temp = new TempDirectory();
        string perturbed = temp.File(name);
        File.WriteAllBytes(perturbed, proto.ToByteArray());

        var result = CliInvocation.Run(["verify", path, perturbed, "--trials", "1", .. InputOptions(name)]);
        Assert.True(result.ExitCode == 1, $"perturbed {weight.Name}\n{result}");
        Assert.Contains("result: different", result.Stdout);
    }

    /// <summary>
    /// The constant weight of the first Conv (or first Conv with an all-ones kernel), depth first. In If
    /// nodes the then-branch is searched first: Silero takes it for sr = 16000, and a weight in a branch
    /// that never runs cannot change any output.
    /// </summary>
    private static TensorProto? FindConvWeight(GraphProto graph, bool oneByOne)
    {
        var constants = new Dictionary<string, TensorProto>();
        foreach (var tensor in graph.Initializer) constants[tensor.Name] = tensor;
        foreach (var node in graph.Node.Where(n => n.OpType == "Constant"))
            if (node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value) constants[node.Output[0]] = value;
        foreach (var node in graph.Node)
        {
            if (node.OpType == "Conv" && constants.TryGetValue(node.Input[1], out var weight)
                && (!oneByOne || weight.Dims.Skip(2).All(d => d == 1)))
                return weight;
            foreach (var attribute in node.Attribute.OrderBy(a => a.Name == "then_branch" ? 0 : 1))
                if (attribute.G is { } sub && FindConvWeight(sub, oneByOne) is { } found)
                    return found;
        }
        return null;
    }

    /// <summary>Multiplies each element by 1 ± <paramref name="relative"/>, signs from a seeded generator.</summary>
    private static void PerturbInPlace(TensorProto weight, double relative)
    {
        var values = new Tensor(weight).ToDoubleArray();
        var random = new Random(11);
        for (int i = 0; i < values.Length; i++) values[i] *= 1 + relative * (random.Next(2) == 0 ? -1 : 1);
        var replacement = Tensor.FromValues(weight.Name, (TensorProto.Types.DataType)weight.DataType, weight.Dims.ToArray(), values).Proto;
        weight.FloatData.Clear();
        weight.RawData = replacement.RawData;
    }
}
