using System.Diagnostics;
using System.Text.Json;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;

namespace OnnxConvTool.Tests.Shapes;

/// <summary>
/// Inferred shapes of every value in the real models, with fixed input sizes from
/// ../shared/models/README.md, against ONNX's own shape inference (python onnx.shape_inference).
/// </summary>
public sealed class RealModelOracleTests
{
    /// <summary>
    /// Input sizes that run each model (from the models' README), and the graphs those sizes are meant
    /// for. Silero VAD picks a branch by sample rate: 512 samples at 16 kHz (then_branch) or 256 at
    /// 8 kHz (else_branch); 512 samples through the 8 kHz branch reach an LSTM with a rank-4 input.
    /// </summary>
    public static TheoryData<string, string[], string> Models() => new()
    {
        { "ch_PP-OCRv4_det_infer.onnx", ["x=1,3,160,160"], "main" },
        { "ch_ppocr_mobile_v2.0_cls_infer.onnx", ["x=1,3,48,192"], "main" },
        { "mlsd_320x320_tiny.onnx", ["input_image_with_alpha:0=1,320,320,4"], "main" },
        { "face_detection_front_128x128_barracuda.onnx", ["input:0=1,128,128,3"], "main" },
        { "silero_vad_v5.onnx", ["input=1,512", "state=2,1,128"], "main/If_0.then_branch" },
        { "silero_vad_v5.onnx", ["input=1,256", "state=2,1,128"], "main/If_0.else_branch" },
    };

    /// <summary>Fixes the inputs, drops declared shapes (value_info, graph outputs), infers, and prints {value name: dims or null}.</summary>
    private const string OracleScript = """
        import sys, json, onnx
        from onnx import shape_inference
        model = onnx.load(sys.argv[1])
        fixed = json.loads(sys.argv[2])
        for i in model.graph.input:
            if i.name in fixed:
                dims = i.type.tensor_type.shape.dim
                del dims[:]
                for d in fixed[i.name]:
                    dims.add().dim_value = d
        def walk(g, visit):
            visit(g)
            for n in g.node:
                for a in n.attribute:
                    if a.type == onnx.AttributeProto.GRAPH: walk(a.g, visit)
                    for s in a.graphs: walk(s, visit)
        def forget(g):
            g.ClearField("value_info")
            for o in g.output:
                o.type.tensor_type.ClearField("shape")
        walk(model.graph, forget)
        inferred = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
        result = {}
        def collect(g):
            for vi in list(g.input) + list(g.value_info) + list(g.output):
                t = vi.type.tensor_type
                result[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim] if t.HasField("shape") else None
        walk(inferred.graph, collect)
        json.dump(result, sys.stdout)
        """;

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public void InferredDimsAgreeWithOnnxShapeInference(string name, string[] shapeSpecs, string exercisedGraphs)
    {
        string path = Shared.RealModel(name);
        PythonOracle.Require();
        var overrides = ShapeOverrides.Parse(shapeSpecs);
        var model = ModelReader.Load(path);
        var result = ShapeInference.Run(model, overrides);

        string fixedJson = JsonSerializer.Serialize(overrides.ToDictionary(o => o.Key, o => o.Value.Select(d => d.Value!.Value).ToArray()));
        var oracle = JsonSerializer.Deserialize<Dictionary<string, long?[]?>>(RunPython(OracleScript, path, fixedJson))!;

        var mismatches = new List<string>();
        int compared = 0, oracleOnly = 0;
        foreach (var value in model.AllGraphs().SelectMany(g => g.Values))
        {
            if (!oracle.TryGetValue(value.Name, out var expected) || expected is null) continue;
            var actual = result.Get(value);
            if (actual.Dims is null)
            {
                if (expected.All(d => d is not null)) oracleOnly++;
                continue;
            }
            if (actual.Dims.Count != expected.Length)
            {
                mismatches.Add($"{value.Name}: rank {actual.Dims.Count} vs onnx {expected.Length}");
                continue;
            }
            for (int i = 0; i < expected.Length; i++)
            {
                if (expected[i] is not { } e || actual.Dims[i].Value is not { } a) continue;
                compared++;
                if (a != e) mismatches.Add($"{value.Name}: {actual} vs onnx [{string.Join(",", expected.Select(d => d?.ToString() ?? "?"))}]");
            }
            if (expected.All(d => d is not null) && !actual.IsFullyKnown) oracleOnly++;
        }

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} values disagree with ONNX:\n" + string.Join("\n", mismatches.Take(30)));
        Assert.True(compared > 100, $"only {compared} dims were compared");
        Assert.True(oracleOnly == 0, $"{oracleOnly} values ONNX knows fully are not fully known here");

        var convs = model.AllNodes().Where(n => n.OpType == "Conv" && n.Graph.Path.StartsWith(exercisedGraphs, StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(convs);
        var unknownConvs = convs.Where(n => !result.Get(n.Outputs[0]).IsFullyKnown).Select(n => n.DisplayName).ToArray();
        Assert.True(unknownConvs.Length == 0, "Conv outputs not fully known: " + string.Join(", ", unknownConvs));
    }

    /// <summary>
    /// Every value of the main graph made a graph output and run in ONNX Runtime at the fixed sizes:
    /// each inferred shape must be fully known and equal what the runtime produced.
    /// </summary>
    /// <summary>
    /// Sizes for which every main-graph value has one shape whatever the data: Silero VAD at 512 samples
    /// is left out, as its main If joins the 8 kHz branch, which 512 samples make invalid (see <see cref="Models"/>).
    /// </summary>
    public static TheoryData<string, string[]> RuntimeModelSizes()
    {
        var data = new TheoryData<string, string[]>();
        foreach (var row in Models())
            if (!(row[0] is "silero_vad_v5.onnx" && ((string[])row[1]).Contains("input=1,512"))) data.Add((string)row[0], (string[])row[1]);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(RuntimeModelSizes))]
    public void InferredShapesOfEveryMainGraphValueMatchOnnxRuntime(string name, string[] shapeSpecs)
    {
        string path = Shared.RealModel(name);
        var overrides = ShapeOverrides.Parse(shapeSpecs);
        var model = ModelReader.Load(path);
        var result = ShapeInference.Run(model, overrides);
        var proto = ModelReader.ParseFile(path);
        var exposed = OrtShapes.ExposeAllValues(proto, n => model.Graph.Find(n) is { } v ? result.Get(v).ElementType : null);
        var feeds = model.Graph.Inputs.Where(i => !i.IsInitializer).ToDictionary(
            i => i.Name, i => overrides.TryGetValue(i.Name, out var dims) ? dims.Select(d => d.Value!.Value).ToArray() : []);
        // Silero VAD's scalar sample rate picks its branch: 8 kHz goes with 256 samples.
        var sampleRate = new Dictionary<string, long[]> { ["sr"] = [8000] };
        var actual = OrtShapes.Run(exposed, feeds, sampleRate);

        var problems = new List<string>();
        foreach (var (valueName, dims) in actual)
        {
            var inferred = result.Get(model.Graph.Find(valueName)!);
            if (!inferred.IsFullyKnown || !inferred.Dims!.Select(d => d.Value!.Value).SequenceEqual(dims))
                problems.Add($"{valueName}: inferred {inferred}, ONNX Runtime [{string.Join(",", dims)}]");
        }
        int nodeOutputs = model.Graph.Nodes.Sum(n => n.Outputs.Count);
        Assert.True(actual.Count >= nodeOutputs, $"ONNX Runtime gave {actual.Count} of {nodeOutputs} values");
        Assert.True(problems.Count == 0, $"{problems.Count} of {actual.Count} values differ:\n" + string.Join("\n", problems.Take(30)));
    }

    private static string RunPython(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo(PythonOnnx.Interpreter!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"python exited with {process.ExitCode}: {stderr}");
        return stdout.Result;
    }

    public static TheoryData<string, string[]> ModelSizes()
    {
        var data = new TheoryData<string, string[]>();
        foreach (var row in Models()) data.Add((string)row[0], (string[])row[1]);
        return data;
    }
}
