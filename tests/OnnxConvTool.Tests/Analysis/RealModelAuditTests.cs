using System.Globalization;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

public sealed class RealModelAuditTests
{
    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void AuditFindsExactlyTheOneByOneConvsAnIndependentCountFinds(string name)
    {
        string path = Shared.RealModel(name);
        var census = ProtoConvCensus.Take(path);
        var report = Conv1x1Audit.Run(ModelReader.Load(path));

        Assert.Equal(census.ConvCount, report.Totals.Conv);
        Assert.Equal(census.ConvTranspose, report.Totals.ConvTranspose);
        Assert.Equal(census.MatMul, report.Totals.MatMul);
        Assert.Equal(census.Gemm, report.Totals.Gemm);
        Assert.Equal(census.Conv1x1.Count, report.Totals.Conv1x1);
        var expected = census.Conv1x1.Select(c => $"{c.Graph} | {c.Node} | {c.InChannels}->{c.OutChannels} | {c.WeightSource}").Order(StringComparer.Ordinal);
        var actual = report.Conv1x1.Select(r => $"{r.Graph} | {r.Node} | {r.InChannels}->{r.OutChannels} | {Conv1x1Audit.WeightSourceName(r.Weight)}").Order(StringComparer.Ordinal);
        Assert.Equal(expected, actual);
    }

    public static TheoryData<string> SampleModelNames()
    {
        var data = new TheoryData<string>();
        foreach (var sample in SampleModels.All) data.Add(sample.FileName);
        return data;
    }

    [Theory]
    [MemberData(nameof(SampleModelNames))]
    public void AuditOfEachSampleModelAgreesWithAnIndependentCount(string fileName)
    {
        string path = SampleModels.Get(fileName).CommittedPath;
        var census = ProtoConvCensus.Take(path);
        var report = Conv1x1Audit.Run(ModelReader.Load(path));

        Assert.Equal(census.ConvCount, report.Totals.Conv);
        Assert.NotEmpty(census.Conv1x1);
        Assert.Equal(
            census.Conv1x1.Select(c => $"{c.Graph} | {c.Node} | {c.InChannels}->{c.OutChannels} | {c.WeightSource}"),
            report.Conv1x1.Select(r => $"{r.Graph} | {r.Node} | {r.InChannels}->{r.OutChannels} | {Conv1x1Audit.WeightSourceName(r.Weight)}"));
    }

    [SkippableFact]
    public void PaddleOcrDetectorHas62ConvOf42AreOneByOneWithConstantNodeWeights()
    {
        // Figures from ../shared/models/README.md.
        var report = Conv1x1Audit.Run(ModelReader.Load(Shared.RealModel("ch_PP-OCRv4_det_infer.onnx")));
        Assert.Equal(62, report.Totals.Conv);
        Assert.Equal(42, report.Totals.Conv1x1);
        Assert.All(report.Conv1x1, r => Assert.Equal(WeightSource.Constant, r.Weight));
        Assert.All(report.Conv1x1, r => Assert.Equal("main", r.Graph));
    }

    [SkippableFact]
    public void SileroOneByOneConvsInsideIfBranchesAreFoundWithTheirGraphPaths()
    {
        string path = Shared.RealModel("silero_vad_v5.onnx");
        var report = Conv1x1Audit.Run(ModelReader.Load(path));
        var inSubgraphs = ProtoConvCensus.Take(path).Conv1x1.Where(c => c.Graph != "main").ToList();

        Assert.NotEmpty(inSubgraphs);
        Assert.Equal(inSubgraphs.Count, report.Conv1x1.Count(r => r.Graph != "main"));
        Assert.Contains(report.Conv1x1, r => r.Graph.EndsWith(".then_branch", StringComparison.Ordinal));
        Assert.Contains(report.Conv1x1, r => r.Graph.EndsWith(".else_branch", StringComparison.Ordinal));
        foreach (var row in report.Conv1x1.Where(r => r.Graph != "main"))
        {
            Assert.StartsWith("main/", row.Graph);
            Assert.Equal(row.Graph, row.Conv!.Graph.Path);
            Assert.NotNull(row.Conv.Graph.OwnerNode);
            Assert.Equal("If", row.Conv.Graph.OwnerNode!.OpType);
        }
    }

    /// <summary>numpy (float64 SVD, numpy's tolerance with float32 eps) is the reference for every weight rank.</summary>
    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void WeightRanksEqualNumpy(string name)
    {
        string path = Shared.RealModel(name);
        var report = Conv1x1Audit.Run(ModelReader.Load(path));
        var expected = NumpyRanks(path);

        Assert.Equal(expected.Count, report.Conv1x1.Count(r => r.WeightRank is not null));
        foreach (var row in report.Conv1x1.Where(r => r.WeightRank is not null))
            Assert.True(expected.TryGetValue((row.Graph, row.Node), out int rank) && rank == row.WeightRank,
                $"{row.Graph} {row.Node}: audit rank {row.WeightRank}, numpy {(expected.TryGetValue((row.Graph, row.Node), out int r) ? r : -1)}");
    }

    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void InspectCountsNodesAndParametersLikeTheReferenceLibrary(string name)
    {
        string path = Shared.RealModel(name);
        var inspection = ModelInspection.Of(ModelReader.Load(path));
        var fields = NumpyScript.Run(InspectScript, path).Trim().Split('\t');

        Assert.Equal(int.Parse(fields[0], CultureInfo.InvariantCulture), inspection.Nodes);
        Assert.Equal(int.Parse(fields[1], CultureInfo.InvariantCulture), inspection.NodesInSubgraphs);
        Assert.Equal(int.Parse(fields[2], CultureInfo.InvariantCulture), inspection.Subgraphs);
        Assert.Equal(long.Parse(fields[3], CultureInfo.InvariantCulture), inspection.Parameters.Tensors);
        Assert.Equal(long.Parse(fields[4], CultureInfo.InvariantCulture), inspection.Parameters.Elements);
        Assert.Equal(long.Parse(fields[5], CultureInfo.InvariantCulture), inspection.Parameters.Bytes);
        Assert.Equal(int.Parse(fields[6], CultureInfo.InvariantCulture), inspection.OpTypes.GetValueOrDefault("Conv"));
        var census = ProtoConvCensus.Take(path);
        Assert.StartsWith($"1x1 convolutions: {census.Conv1x1.Count} of {census.ConvCount} Conv", inspection.Conv1x1.ToSentence());
    }

    /// <summary>numpy's rank of every constant 1x1 conv weight in the model, by (graph path, node display name).</summary>
    internal static Dictionary<(string Graph, string Node), int> NumpyRanks(string path) =>
        NumpyScript.Run(NumpyRankScript, path)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .ToDictionary(f => (f[0], f[1]), f => int.Parse(f[2], CultureInfo.InvariantCulture));

    private const string NumpyRankScript = """
        import sys, numpy as np, onnx
        from onnx import numpy_helper
        EPS = {1: np.finfo(np.float32).eps, 11: np.finfo(np.float64).eps, 10: np.finfo(np.float16).eps, 16: 2.0 ** -7}
        model = onnx.load(sys.argv[1])
        def display(n):
            return n.name if n.name else n.op_type + "->" + (n.output[0] if n.output else "?")
        def walk(g, path, consts):
            consts = dict(consts)
            inputs = {i.name for i in g.input}
            for t in g.initializer:
                if t.name not in inputs: consts[t.name] = t
            for n in g.node:
                if n.op_type == "Constant":
                    for a in n.attribute:
                        if a.name == "value": consts[n.output[0]] = a.t
            for n in g.node:
                if n.op_type == "Conv" and n.input[1] in consts:
                    t = consts[n.input[1]]
                    w = numpy_helper.to_array(t).astype(np.float64)
                    ks = [list(a.ints) for a in n.attribute if a.name == "kernel_shape"]
                    kernel = ks[0] if ks else list(w.shape[2:])
                    if kernel and all(k == 1 for k in kernel):
                        group = ([a.i for a in n.attribute if a.name == "group"] or [1])[0]
                        m, cg = w.shape[0], w.shape[1]
                        blocks = w.reshape(m, cg)
                        full = np.zeros((m, cg * group))
                        for b in range(group):
                            rows = slice(b * m // group, (b + 1) * m // group)
                            full[rows, b * cg:(b + 1) * cg] = blocks[rows]
                        s = np.linalg.svd(full, compute_uv=False)
                        tol = s.max() * max(full.shape) * EPS[t.data_type] if s.size else 0
                        print(path + "\t" + display(n) + "\t" + str(int((s > tol).sum())))
                for a in n.attribute:
                    if a.type == onnx.AttributeProto.GRAPH: walk(a.g, path + "/" + display(n) + "." + a.name, consts)
                    for i, sub in enumerate(a.graphs): walk(sub, path + "/" + display(n) + "." + a.name + "[" + str(i) + "]", consts)
        walk(model.graph, "main", {})
        """;

    private const string InspectScript = """
        import sys, numpy as np, onnx
        from onnx import numpy_helper
        model = onnx.load(sys.argv[1])
        counts = dict(nodes=0, sub=0, graphs=-1, tensors=0, elements=0, bytes=0, conv=0)
        def add(t):
            a = numpy_helper.to_array(t)
            counts["tensors"] += 1; counts["elements"] += a.size; counts["bytes"] += a.nbytes
        def walk(g, depth):
            counts["graphs"] += 1
            for t in g.initializer: add(t)
            for n in g.node:
                counts["nodes"] += 1
                if depth > 0: counts["sub"] += 1
                if n.op_type == "Conv": counts["conv"] += 1
                if n.op_type == "Constant":
                    for a in n.attribute:
                        if a.name == "value": add(a.t)
                        if a.name in ("value_float", "value_int"): counts["tensors"] += 1; counts["elements"] += 1; counts["bytes"] += 4 if a.name == "value_float" else 8
                        if a.name in ("value_floats", "value_ints"):
                            k = len(a.floats) if a.name == "value_floats" else len(a.ints)
                            counts["tensors"] += 1; counts["elements"] += k; counts["bytes"] += k * (4 if a.name == "value_floats" else 8)
                for a in n.attribute:
                    if a.type == onnx.AttributeProto.GRAPH: walk(a.g, depth + 1)
                    for sub in a.graphs: walk(sub, depth + 1)
        walk(model.graph, 0)
        print("\t".join(str(counts[k]) for k in ["nodes", "sub", "graphs", "tensors", "elements", "bytes", "conv"]))
        """;
}
