using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

/// <summary>
/// The project's sample models (models/), inferred with their symbolic dims: every main-graph value has
/// a known or symbolic shape, and it evaluates to what ONNX Runtime produces at concrete sizes.
/// </summary>
public sealed class SampleModelShapeTests
{
    public static TheoryData<string> SampleNames()
    {
        var data = new TheoryData<string>();
        foreach (var sample in SampleModels.All) data.Add(sample.FileName);
        return data;
    }

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void SymbolicShapesOfEveryValueEvaluateToOnnxRuntimeShapes(string fileName)
    {
        var builder = SampleModels.Get(fileName).Create();
        var model = builder.ToIr(fileName);
        var result = ShapeInference.Run(model);
        Assert.Empty(result.UnsupportedOps);
        var exposed = OrtShapes.ExposeAllValues(builder.Build(), n => model.Graph.Find(n) is { } v ? result.Get(v).ElementType : null);

        foreach (var sizes in new[] { new Dictionary<string, long> { ["N"] = 1, ["H"] = 32, ["W"] = 24 }, new() { ["N"] = 3, ["H"] = 17, ["W"] = 9 } })
        {
            var feeds = model.Graph.Inputs.Where(i => !i.IsInitializer).ToDictionary(
                i => i.Name, i => result.Get(i).Dims!.Select(d => d.Value ?? sizes[d.Symbol!]).ToArray());
            var actual = OrtShapes.Run(exposed, feeds);
            Assert.Equal(model.Graph.Nodes.Sum(n => n.Outputs.Count), actual.Count);
            foreach (var (name, dims) in actual)
            {
                var inferred = result.Get(model.Graph.Find(name)!);
                Assert.True(inferred.Dims is not null && inferred.Dims.All(d => d.IsKnown || d.IsSymbolic), $"{name}: {inferred} has unknown dims");
                var evaluated = inferred.Dims!.Select(d => d.Value ?? SymbolicDims.Evaluate(d.Symbol!, sizes)).ToArray();
                Assert.True(evaluated.SequenceEqual(dims), $"{name}: inferred {inferred} = [{string.Join(",", evaluated)}], ONNX Runtime [{string.Join(",", dims)}]");
            }
        }
    }
}
