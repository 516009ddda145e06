using OnnxConvTool.Onnx;

namespace OnnxConvTool.TestKit;

/// <summary>
/// Subgraph bodies (If branches, Loop and Scan bodies): a child builder writes into its own GraphProto but
/// draws weights from the same seeded generator and names from the same counter as its parent, so names
/// never collide across scopes (ONNX requires that) and the whole model stays reproducible. Nodes in a body
/// may read any value of an enclosing graph by name.
/// </summary>
public sealed partial class TestModelBuilder
{
    private TestModelBuilder(TestModelBuilder parent, string graphName)
    {
        _random = parent._random;
        _names = parent._names;
        _graph = new GraphProto { Name = graphName };
        _model = new ModelProto { IrVersion = parent._model.IrVersion, ProducerName = parent._model.ProducerName, Graph = _graph };
        _model.OpsetImport.AddRange(parent._model.OpsetImport);
        Opset = parent.Opset;
    }

    /// <summary>
    /// A builder for a subgraph body. Add its inputs (Loop/Scan) and outputs with <see cref="Input(string, object[])"/>
    /// and <see cref="Output"/>; pass <see cref="Graph"/> to a graph attribute, or use <see cref="If"/>.
    /// Build/Save on the child give a standalone model of the body alone.
    /// </summary>
    public TestModelBuilder Subgraph(string graphName) => new(this, graphName);

    /// <summary>An If node choosing between two branch bodies; returns its outputs, one per branch output.</summary>
    public string[] If(string condition, TestModelBuilder thenBranch, TestModelBuilder elseBranch, string? name = null)
    {
        int count = thenBranch.Graph.Output.Count;
        if (count == 0 || elseBranch.Graph.Output.Count != count)
            throw new InvalidOperationException($"If branches must have the same, non-zero number of outputs (then: {count}, else: {elseBranch.Graph.Output.Count})");
        name ??= UniqueName("If");
        var outputs = Enumerable.Range(0, count).Select(i => UniqueName("if_out")).ToArray();
        return NamedNode(name, "If", [condition], outputs,
            Attr.Graph("then_branch", thenBranch.Graph), Attr.Graph("else_branch", elseBranch.Graph));
    }
}

/// <summary>A counter shared by a builder and its subgraph builders.</summary>
internal sealed class NameCounter
{
    private int _next;

    public int Next() => _next++;
}
