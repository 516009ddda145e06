using System.Globalization;
using System.Text;
using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Analysis;

/// <summary>What a model is at a glance: the data behind <c>onnxconv inspect</c>.</summary>
public sealed record ModelInspection
{
    /// <summary>The model path as the user gave it.</summary>
    public required string Model { get; init; }
    /// <summary>The producer name and version the model declares.</summary>
    public required string Producer { get; init; }
    /// <summary>The ONNX IR version the model declares.</summary>
    public required long IrVersion { get; init; }
    /// <summary>Every imported opset: domain (empty for standard ONNX) and version.</summary>
    public required IReadOnlyList<OpsetEntry> Opsets { get; init; }

    /// <summary>Graph inputs a caller feeds (initializers listed as inputs, in IR &lt; 4 models, are left out and counted in <see cref="InitializerInputs"/>).</summary>
    public required IReadOnlyList<TensorInfo> Inputs { get; init; }

    /// <summary>Initializers also listed as graph inputs (they can be overridden at run time).</summary>
    public required int InitializerInputs { get; init; }
    /// <summary>The graph outputs.</summary>
    public required IReadOnlyList<TensorInfo> Outputs { get; init; }

    /// <summary>Nodes in every graph, subgraphs included.</summary>
    public required int Nodes { get; init; }

    /// <summary>Nodes inside If/Loop/Scan subgraphs.</summary>
    public required int NodesInSubgraphs { get; init; }

    /// <summary>Node count per op type (domain-qualified outside the ONNX domain), most frequent first.</summary>
    public required IReadOnlyDictionary<string, int> OpTypes { get; init; }

    /// <summary>Of <see cref="OpTypes"/>, the nodes inside subgraphs (op types with none are left out).</summary>
    public required IReadOnlyDictionary<string, int> OpTypesInSubgraphs { get; init; }

    /// <summary>Graphs besides the main one (If branches, Loop and Scan bodies).</summary>
    public required int Subgraphs { get; init; }

    /// <summary>Weight tensors: count, elements, bytes.</summary>
    public required ParameterSummary Parameters { get; init; }
    /// <summary>The 1x1 convolutions' count and share of MACs.</summary>
    public required Conv1x1Summary Conv1x1 { get; init; }

    /// <summary>
    /// Builds the inspection; the 1x1 summary comes from <see cref="Conv1x1Audit"/> without the rank computation, with
    /// <paramref name="shapeOverrides"/> fixing input dims for the MAC count.
    /// </summary>
    public static ModelInspection Of(Model model, string? modelLabel = null, IReadOnlyDictionary<string, IReadOnlyList<Dim>>? shapeOverrides = null)
    {
        var graphs = model.AllGraphs().ToList();
        var opTypes = new Dictionary<string, int>(StringComparer.Ordinal);
        var opTypesInSubgraphs = new Dictionary<string, int>(StringComparer.Ordinal);
        int nodes = 0, nodesInSubgraphs = 0;
        foreach (var graph in graphs)
            foreach (var node in graph.Nodes)
            {
                nodes++;
                string key = node.IsOnnxDomain ? node.OpType : $"{node.Domain}.{node.OpType}";
                opTypes[key] = opTypes.GetValueOrDefault(key) + 1;
                if (graph.Parent is null) continue;
                nodesInSubgraphs++;
                opTypesInSubgraphs[key] = opTypesInSubgraphs.GetValueOrDefault(key) + 1;
            }

        long tensors = 0, elements = 0, bytes = 0;
        foreach (var graph in graphs)
        {
            foreach (var value in graph.Initializers)
                Add(value.Initializer!);
            foreach (var node in graph.Nodes)
                if (node is { OpType: "Constant", IsOnnxDomain: true } && Ir.Model.TryGetConstant(node.Outputs[0]) is { } constant)
                    Add(constant);
        }

        var audit = Conv1x1Audit.Run(model, new AuditOptions { ComputeWeightRank = false, ShapeOverrides = shapeOverrides }, modelLabel);
        return new ModelInspection
        {
            Model = modelLabel ?? model.SourcePath ?? "",
            Producer = model.Producer,
            IrVersion = model.IrVersion,
            Opsets = model.Shell.OpsetImport.Select(o => new OpsetEntry(o.Domain.Length == 0 ? "ai.onnx" : o.Domain, o.Version)).ToArray(),
            Inputs = model.Graph.Inputs.Where(v => !v.IsInitializer).Select(Describe).ToArray(),
            InitializerInputs = model.Graph.Inputs.Count(v => v.IsInitializer),
            Outputs = model.Graph.Outputs.Select(Describe).ToArray(),
            Nodes = nodes,
            NodesInSubgraphs = nodesInSubgraphs,
            OpTypes = opTypes.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)
                .ToDictionary(p => p.Key, p => p.Value),
            OpTypesInSubgraphs = opTypes.Keys.Where(opTypesInSubgraphs.ContainsKey).OrderByDescending(k => opTypes[k]).ThenBy(k => k, StringComparer.Ordinal)
                .ToDictionary(k => k, k => opTypesInSubgraphs[k]),
            Subgraphs = graphs.Count - 1,
            Parameters = new ParameterSummary(tensors, elements, bytes),
            Conv1x1 = new Conv1x1Summary(audit.Totals.Conv, audit.Totals.Conv1x1, audit.Totals.Macs, audit.Totals.Conv1x1Macs,
                audit.Totals.Conv1x1MacShare, audit.Totals.MacOpsUnknown),
        };

        void Add(Tensor tensor)
        {
            tensors++;
            elements += tensor.ElementCount;
            bytes += Math.Max(tensor.ByteCount, 0);
        }
    }

    private static TensorInfo Describe(Value value)
    {
        var shape = TensorShape.FromType(value.Type);
        string type = value.Type switch
        {
            { TensorType: { } t } => t.HasElemType ? ElementTypes.Name(t.ElemType) : "tensor",
            { SequenceType: not null } => "sequence",
            { MapType: not null } => "map",
            { OptionalType: not null } => "optional",
            _ => "unknown",
        };
        return new TensorInfo(value.Name, type, shape.Dims);
    }

    /// <summary>The plain-text report of <c>onnxconv inspect</c>.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        void Line(string label, string value) => text.Append(label.PadRight(12)).Append(value).Append('\n');
        Line("model", Model);
        Line("producer", Producer.Length > 0 ? Producer : "(not recorded)");
        Line("ir_version", IrVersion.ToString(CultureInfo.InvariantCulture));
        Line("opsets", string.Join(", ", Opsets.Select(o => $"{o.Domain} {o.Version}")));
        WriteTensors(text, "inputs", Inputs);
        if (InitializerInputs > 0) text.Append(' ', 12).Append($"(and {InitializerInputs} initializers listed as inputs)\n");
        WriteTensors(text, "outputs", Outputs);
        Line("nodes", $"{Nodes}" + (NodesInSubgraphs > 0 ? $" ({NodesInSubgraphs} in subgraphs)" : ""));
        int width = OpTypes.Keys.Select(k => k.Length).DefaultIfEmpty(0).Max();
        int countWidth = OpTypes.Values.Select(c => c.ToString(CultureInfo.InvariantCulture).Length).DefaultIfEmpty(0).Max();
        foreach (var (op, count) in OpTypes)
        {
            text.Append(' ', 12).Append(op.PadRight(width + 2)).Append(count.ToString(CultureInfo.InvariantCulture).PadLeft(countWidth));
            if (OpTypesInSubgraphs.TryGetValue(op, out int inner)) text.Append($"  ({inner} in subgraphs)");
            text.Append('\n');
        }
        Line("parameters", $"{Parameters.Elements:N0} in {Parameters.Tensors} tensors, {Humanize.Bytes(Parameters.Bytes)}");
        Line("subgraphs", Subgraphs.ToString(CultureInfo.InvariantCulture));
        text.Append(Conv1x1.ToSentence()).Append('\n');
        return text.ToString();
    }

    private static void WriteTensors(StringBuilder text, string label, IReadOnlyList<TensorInfo> tensors)
    {
        if (tensors.Count == 0)
        {
            text.Append(label.PadRight(12)).Append("(none)\n");
            return;
        }
        int nameWidth = tensors.Max(t => t.Name.Length), typeWidth = tensors.Max(t => t.Type.Length);
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            text.Append((i == 0 ? label : "").PadRight(12)).Append(t.Name.PadRight(nameWidth + 2)).Append(t.Type.PadRight(typeWidth + 2))
                .Append(t.Shape is null ? "(shape not declared)" : "[" + string.Join(",", t.Shape) + "]").Append('\n');
        }
    }
}

/// <summary>An imported opset: its domain (empty for standard ONNX) and version.</summary>
public sealed record OpsetEntry(string Domain, long Version);

/// <summary>A graph input or output: name, element type, and dims (numbers, symbolic names, or null when unknown).</summary>
public sealed record TensorInfo(string Name, string Type, IReadOnlyList<Dim>? Shape);

/// <summary>Initializers and Constant-node tensors in every graph: how many, their elements, their bytes.</summary>
public sealed record ParameterSummary(long Tensors, long Elements, long Bytes);

/// <summary>The one-line 1x1 summary of <c>inspect</c>.</summary>
public sealed record Conv1x1Summary(int Conv, int Conv1x1, long? Macs, long? Conv1x1Macs, double? Conv1x1MacShare, int MacOpsUnknown)
{
    /// <summary>The one-line summary <c>inspect</c> prints.</summary>
    public string ToSentence()
    {
        string head = $"1x1 convolutions: {Conv1x1} of {Conv} Conv";
        if (Conv1x1MacShare is { } share)
            return $"{head}, {share.ToString("P1", CultureInfo.InvariantCulture).Replace(" ", "")} of MACs in Conv/ConvTranspose/MatMul/Gemm ({Humanize.Count(Conv1x1Macs!.Value)} of {Humanize.Count(Macs!.Value)})";
        if (MacOpsUnknown > 0)
            return $"{head}; MAC share unknown: {MacOpsUnknown} ops have dynamic dims (fix them with audit --shape)";
        return $"{head}; the model has no MACs in Conv/ConvTranspose/MatMul/Gemm";
    }
}

/// <summary>Short human forms of large numbers for text reports (JSON keeps exact numbers).</summary>
internal static class Humanize
{
    public static string Count(long value) => value switch
    {
        >= 1_000_000_000 => Format(value / 1e9, "G"),
        >= 1_000_000 => Format(value / 1e6, "M"),
        >= 10_000 => Format(value / 1e3, "K"),
        _ => value.ToString(CultureInfo.InvariantCulture),
    };

    public static string Bytes(long value) => value switch
    {
        >= 1L << 30 => Format(value / (double)(1L << 30), " GiB"),
        >= 1L << 20 => Format(value / (double)(1L << 20), " MiB"),
        >= 1L << 10 => Format(value / (double)(1L << 10), " KiB"),
        _ => $"{value} B",
    };

    private static string Format(double value, string unit) =>
        value.ToString(value >= 100 ? "0" : value >= 10 ? "0.#" : "0.##", CultureInfo.InvariantCulture) + unit;
}
