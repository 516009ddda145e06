using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// The audit's ranking of many weights: ranks equal numpy's on shapes that cross the Gram panel width, tall and wide,
/// grouped and of every stored float type; at most the given number of workers; the same ranks whatever the worker
/// count and wherever the weight's bytes live (inline, memory-mapped, external data).
/// </summary>
public sealed class WeightRanksTests
{
    /// <summary>(out channels, in channels per group, group, rank of each group's block, stored type).</summary>
    private static readonly (int M, int C, int Group, int Rank, DataType Type)[] Weights =
    [
        (300, 520, 1, 200, DataType.Float),  // wide, two Gram panels
        (520, 300, 1, 120, DataType.Float),  // tall: the Gram matrix of the columns
        (257, 257, 1, 200, DataType.Float),  // an odd order
        (96, 48, 2, 20, DataType.Float16),
        (64, 40, 4, 5, DataType.Bfloat16),  // its tolerance (160 · 2⁻⁷ · σmax) exceeds σmax: rank 0
        (40, 70, 1, 10, DataType.Double),    // float64: Golub–Kahan
        (8, 8, 1, 0, DataType.Float),        // all zeros
        (1, 300, 1, 1, DataType.Float),
    ];

    private static TestModelBuilder LowRankConvs()
    {
        var builder = new TestModelBuilder(opset: 13, seed: 7);
        var random = new Random(7);
        for (int i = 0; i < Weights.Length; i++)
        {
            var (m, c, group, rank, type) = Weights[i];
            var values = new double[m * c];
            int blockRows = m / group;
            for (int g = 0; g < group; g++)
            {
                // A block of the given rank: (blockRows × rank) · (rank × c).
                var left = Enumerable.Range(0, blockRows * rank).Select(_ => random.NextDouble() * 2 - 1).ToArray();
                var right = Enumerable.Range(0, rank * c).Select(_ => random.NextDouble() * 2 - 1).ToArray();
                for (int r = 0; r < blockRows; r++)
                    for (int k = 0; k < rank; k++)
                        for (int j = 0; j < c; j++)
                            values[(g * blockRows + r) * c + j] += left[r * rank + k] * right[k * c + j];
            }
            string x = builder.Input($"x{i}", type, 1, c * group, 2, 2);
            string w = builder.Initializer(TestModelBuilder.TensorOf($"w{i}", [m, c, 1, 1], values, type));
            string y = builder.Node("Conv", [x, w], Attr.Ints("kernel_shape", 1, 1), Attr.Int("group", group));
            builder.Output(y, type, 1, m, 2, 2);
        }
        return builder;
    }

    [SkippableFact]
    public void RanksEqualNumpyOnPanelCrossingTallWideGroupedAndEveryFloatType()
    {
        using var folder = new TempDirectory();
        string path = LowRankConvs().Save(folder.File("low-rank.onnx"));
        var report = Conv1x1Audit.Run(ModelReader.Load(path));
        var numpy = RealModelAuditTests.NumpyRanks(path);

        Assert.Equal(Weights.Length, report.Conv1x1.Count);
        foreach (var row in report.Conv1x1)
        {
            if (row.WeightType == "bfloat16") continue; // numpy has no bfloat16; checked against the float64 matrix below
            Assert.True(numpy.TryGetValue((row.Graph, row.Node), out int expected), $"numpy has no rank for {row.Node}");
            Assert.Equal(expected, row.WeightRank);
        }
        var designed = Weights.Select((w, i) => (w, i)).Where(p => p.w.Type is DataType.Float or DataType.Double).ToList();
        Assert.Equal(designed.Select(p => p.w.Rank * p.w.Group), designed.Select(p => report.Conv1x1[p.i].WeightRank!.Value));
    }

    [Fact]
    public void RankOfBfloat16ValuesEqualsRankOfTheirFloat64Matrix()
    {
        var model = LowRankConvs().ToIr();
        int index = Array.FindIndex(Weights, w => w.Type == DataType.Bfloat16);
        var (m, c, group, _, _) = Weights[index];
        var tensor = Model.TryGetConstant(model.Graph.Find($"w{index}")!)!;
        var fromRaw = MatrixRank.ComputeBlockDiagonal(tensor.GetRawBytes().Span, DataType.Bfloat16, m / group, c, group, FloatElements.Ulp(DataType.Bfloat16, 1.0), new RankWorkspace());
        var fromDoubles = MatrixRank.ComputeBlockDiagonal(tensor.ToDoubleArray(), m / group, c, group, FloatElements.Ulp(DataType.Bfloat16, 1.0));

        Assert.Equal(fromDoubles, fromRaw);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AtMostTheGivenWorkersRankAndTheRanksDoNotDependOnTheirNumber(int workers)
    {
        var model = LowRankConvs().ToIr();
        var weights = Enumerable.Range(0, Weights.Length).Select(i => ((Value?)model.Graph.Find($"w{i}"), (long)Weights[i].Group)).ToList();
        var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, byte>();
        var done = new System.Collections.Concurrent.ConcurrentBag<int>();

        var ranks = WeightRanks.Compute(weights, workers, i =>
        {
            threads.TryAdd(Environment.CurrentManagedThreadId, 0);
            done.Add(i);
        });

        Assert.InRange(threads.Count, 1, workers);
        Assert.Equal(Enumerable.Range(0, Weights.Length), done.Order());
        var oneByOne = weights.Select(w => WeightRanks.Rank(w.Item1!, w.Item2, new RankWorkspace())).ToList();
        Assert.Equal(oneByOne, ranks);
        Assert.All(ranks, r => Assert.NotNull(r));
    }

    [Fact]
    public void TheAuditUsesOneWorkerPerCoreAtMost()
    {
        var model = LowRankConvs().ToIr();
        var one = Conv1x1Audit.Run(model, new AuditOptions { RankWorkers = 1 });
        var perCore = Conv1x1Audit.Run(model);

        Assert.Equal(Environment.ProcessorCount, WeightRanks.DefaultWorkers);
        Assert.Equal(one.Conv1x1.Select(r => r.WeightRank), perCore.Conv1x1.Select(r => r.WeightRank));
    }

    [Fact]
    public void AWorkspaceIsReusedForWeightsItHasRankedBefore()
    {
        var model = LowRankConvs().ToIr();
        var workspace = new RankWorkspace();
        void RankAll()
        {
            for (int i = 0; i < Weights.Length; i++) WeightRanks.Rank(model.Graph.Find($"w{i}")!, Weights[i].Group, workspace);
        }
        RankAll();
        long held = workspace.HeldBytes;
        RankAll();

        Assert.True(held > 0);
        Assert.Equal(held, workspace.HeldBytes);
    }

    /// <summary>The model saved with its weights inline (mapped when loaded) and again with external data.</summary>
    private static (string Inline, string External) SaveInlineAndExternal(TestModelBuilder builder, TempDirectory folder)
    {
        string inline = builder.Save(folder.File("inline.onnx"));
        string external = folder.File("external.onnx");
        ModelWriter.Save(ModelReader.Load(inline), external, new SaveOptions { ExternalData = ExternalDataMode.External });
        return (inline, external);
    }

    [Fact]
    public void RanksAreTheSameForInlineMappedAndExternalWeights()
    {
        using var folder = new TempDirectory();
        var builder = LowRankConvs();
        var (inline, external) = SaveInlineAndExternal(builder, folder);

        var fromMemory = Conv1x1Audit.Run(builder.ToIr()).Conv1x1.Select(r => r.WeightRank).ToList();
        var fromMapping = Conv1x1Audit.Run(ModelReader.Load(inline)).Conv1x1.Select(r => r.WeightRank).ToList();
        var fromExternal = Conv1x1Audit.Run(ModelReader.Load(external)).Conv1x1.Select(r => r.WeightRank).ToList();

        Assert.Equal(fromMemory, fromMapping);
        Assert.Equal(fromMemory, fromExternal);
    }

    [Fact]
    public void ReadRawBytesGivesTheStoredBytesFromEveryPlace()
    {
        using var folder = new TempDirectory();
        var builder = LowRankConvs();
        var (inline, external) = SaveInlineAndExternal(builder, folder);

        foreach (var model in new[] { builder.ToIr(), ModelReader.Load(inline), ModelReader.Load(external) })
        {
            var tensor = Model.TryGetConstant(model.Graph.Find("w0")!)!;
            var bytes = new byte[tensor.ByteCount];
            tensor.ReadRawBytes(bytes);
            Assert.Equal(builder.Build().Graph.Initializer.Single(t => t.Name == "w0").RawData.ToByteArray(), bytes);
        }
    }
}
