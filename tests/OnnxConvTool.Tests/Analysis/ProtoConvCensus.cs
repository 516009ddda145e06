using OnnxConvTool.Onnx;

namespace OnnxConvTool.Tests.Analysis;

/// <summary>
/// An independent count of the 1x1 convolutions in a model, read straight from the generated protobuf
/// classes (no IR, no audit code): for the audit tests to compare against.
/// </summary>
internal static class ProtoConvCensus
{
    public sealed record ConvEntry(string Node, string Graph, long InChannels, long OutChannels, string WeightSource);

    public sealed record Census(int ConvCount, List<ConvEntry> Conv1x1, int ConvTranspose, int MatMul, int Gemm);

    public static Census Take(string path)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var census = new Census(0, [], 0, 0, 0);
        int conv = 0, convTranspose = 0, matMul = 0, gemm = 0;
        Walk(model.Graph, "main", new Scope(null));
        return census with { ConvCount = conv, ConvTranspose = convTranspose, MatMul = matMul, Gemm = gemm };

        void Walk(GraphProto graph, string graphPath, Scope outer)
        {
            var scope = new Scope(outer);
            foreach (var input in graph.Input) scope.Inputs.Add(input.Name);
            foreach (var init in graph.Initializer) scope.Initializers[init.Name] = init;
            foreach (var node in graph.Node)
                if (node.OpType == "Constant" && node.Attribute.FirstOrDefault(a => a.Name == "value") is { } value)
                    scope.Constants[node.Output[0]] = value.T;

            foreach (var node in graph.Node)
            {
                string display = node.Name.Length > 0 ? node.Name : $"{node.OpType}->{(node.Output.Count > 0 ? node.Output[0] : "?")}";
                bool onnxDomain = node.Domain is "" or "ai.onnx";
                if (onnxDomain)
                {
                    if (node.OpType == "ConvTranspose") convTranspose++;
                    if (node.OpType == "MatMul") matMul++;
                    if (node.OpType == "Gemm") gemm++;
                }
                if (onnxDomain && node.OpType == "Conv")
                {
                    conv++;
                    var (weight, source) = scope.Lookup(node.Input[1]);
                    var kernelAttribute = node.Attribute.FirstOrDefault(a => a.Name == "kernel_shape");
                    IEnumerable<long>? kernel = kernelAttribute is not null ? kernelAttribute.Ints : weight?.Dims.Skip(2);
                    long group = node.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
                    if (kernel is not null && kernel.Any() && kernel.All(k => k == 1) && weight is not null)
                        census.Conv1x1.Add(new ConvEntry(display, graphPath, weight.Dims[1] * group, weight.Dims[0], source));
                }
                foreach (var attribute in node.Attribute)
                {
                    if (attribute.G is not null && attribute.Type == AttributeProto.Types.AttributeType.Graph)
                        Walk(attribute.G, $"{graphPath}/{display}.{attribute.Name}", scope);
                    for (int i = 0; i < attribute.Graphs.Count; i++)
                        Walk(attribute.Graphs[i], $"{graphPath}/{display}.{attribute.Name}[{i}]", scope);
                }
            }
        }
    }

    private sealed class Scope(Scope? outer)
    {
        public HashSet<string> Inputs { get; } = [];
        public Dictionary<string, TensorProto> Initializers { get; } = [];
        public Dictionary<string, TensorProto> Constants { get; } = [];

        /// <summary>The weight tensor (when stored in the file) and "initializer", "constant" or "dynamic".</summary>
        public (TensorProto? Tensor, string Source) Lookup(string name)
        {
            for (var scope = this; scope is not null; scope = scope.Outer)
            {
                if (scope.Initializers.TryGetValue(name, out var init)) return (init, scope.Inputs.Contains(name) ? "dynamic" : "initializer");
                if (scope.Constants.TryGetValue(name, out var constant)) return (constant, "constant");
                if (scope.Inputs.Contains(name)) return (null, "dynamic");
            }
            return (null, "dynamic");
        }

        private Scope? Outer => outer;
    }
}
