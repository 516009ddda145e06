using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Shapes;

/// <summary>
/// Every case of <see cref="ShapeCases"/>: inferred output shapes against the shapes ONNX Runtime
/// produces when it runs the model (symbolic dims evaluated at each case's sizes).
/// </summary>
public sealed class OpShapeTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (string name in ShapeCases.All.Keys) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void InferredShapesMatchOnnxRuntime(string name)
    {
        var shapeCase = ShapeCases.All[name];
        var builder = new TestModelBuilder(shapeCase.Opset);
        shapeCase.Build(builder);
        var model = builder.ToIr();
        var result = ShapeInference.Run(model);
        Assert.Empty(result.UnsupportedOps);

        foreach (var sizes in shapeCase.Sizes)
        {
            var feeds = model.Graph.Inputs.Where(i => !i.IsInitializer).ToDictionary(
                i => i.Name,
                i => result.Get(i).Dims!.Select(d => d.Value ?? sizes[d.Symbol!]).ToArray());
            var actual = OrtShapes.Run(builder.Build(), feeds);
            int unknown = 0;
            foreach (var output in model.Graph.Outputs)
            {
                var inferred = result.Get(output);
                long[] expected = actual[output.Name];
                Assert.True(inferred.Dims is not null, $"{output.Name}: rank unknown, ONNX Runtime gives [{string.Join(",", expected)}]");
                Assert.True(inferred.Dims.Count == expected.Length, $"{output.Name}: inferred {inferred}, ONNX Runtime gives [{string.Join(",", expected)}]");
                for (int i = 0; i < expected.Length; i++)
                {
                    var dim = inferred.Dims[i];
                    if (!dim.IsKnown && !dim.IsSymbolic)
                    {
                        unknown++;
                        continue;
                    }
                    long value = dim.Value ?? SymbolicDims.Evaluate(dim.Symbol!, sizes);
                    Assert.True(value == expected[i],
                        $"{output.Name}: inferred {inferred} (dim {i} = {value} at {Describe(sizes)}), ONNX Runtime gives [{string.Join(",", expected)}]");
                }
                Assert.NotNull(inferred.ElementType);
            }
            Assert.Equal(shapeCase.UnknownDims, unknown);
        }
    }

    private static string Describe(IReadOnlyDictionary<string, long> sizes) => string.Join(",", sizes.Select(s => $"{s.Key}={s.Value}"));
}
