using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Properties;

using DataType = TensorProto.Types.DataType;

/// <summary>load → save → load is the identity on random conv graphs: nothing lost, nothing reordered, nothing added.</summary>
public sealed class RoundTripPropertyTests
{
    private const int Graphs = 300;

    [Fact]
    public void LoadSaveLoadOfRandomGraphsIsTheIdentity()
    {
        PropertyRunner.Check(RandomConvGraphs.Specs(DataType.Float, DataType.Float16, DataType.Double), AssertRoundTripIsIdentity,
            PropertyRunner.Iterations(Graphs), spec => spec.ToCSharp());
    }

    /// <summary>
    /// The first save equals the input message field for field, the second save is byte-identical to the first,
    /// and both loads give the same graph (nodes, attributes, values, constants).
    /// </summary>
    internal static void AssertRoundTripIsIdentity(GraphSpec spec)
    {
        var original = RandomConvGraphs.Build(spec).Build();
        var first = ModelReader.Build(original.Clone(), "original.onnx", Directory.GetCurrentDirectory());
        byte[] firstSave = ModelWriter.ToBytes(first);
        Assert.Equal(original, ModelProto.Parser.ParseFrom(firstSave));

        var second = ModelReader.Build(ModelProto.Parser.ParseFrom(firstSave), "saved.onnx", Directory.GetCurrentDirectory());
        Assert.Equal(firstSave, ModelWriter.ToBytes(second));
        Assert.Equal(Describe(first), Describe(second));
    }

    private static string Describe(Model model) =>
        string.Join("\n---\n", model.AllGraphs().Select(g =>
            $"{g.Path}: in {string.Join(",", g.Inputs.Select(v => v.Name))} out {string.Join(",", g.Outputs.Select(v => v.Name))}\n{RewriteHarness.Dump(g)}\n" +
            string.Join("\n", g.Nodes.Select(n => $"{n.DisplayName}: {string.Join(" ", n.Proto.Attribute.Select(a => a.ToString()))}"))));
}
