using System.Globalization;
using OnnxConvTool.Ir;
using OnnxConvTool.Ops;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// The figures behind <c>RuntimeCost</c> (the cost model's terms beyond MACs), measured under ONNX Runtime at its full
/// optimisation with one intra-op thread, interleaved, thread CPU time: (1) the calibration of its three constants —
/// time per MAC of a large 1x1 Conv, time per extra op (a chain of 16 tiny Convs against one), time per value a Split
/// moves (a Conv then a Split against the Conv alone); (2) the check: sibling 1x1 Convs of real shapes against one
/// stacked Conv and a Split, beside what <c>RuntimeCost</c> predicts for them.
/// </summary>
internal static class RuntimeCostBenchmark
{
    public const string Description = "calibrates the cost model's per-MAC, per-op and per-moved-value times under ONNX Runtime and checks them on sibling 1x1 Convs vs Conv + Split";

    private const int Rounds = 400;

    /// <summary>Siblings on [1, Channels, Size, Size]; merged with a Split, or (Padded) a 1x1 and a 3x3 feeding one Concat, merged by centre-padding the 1x1.</summary>
    private sealed record SiblingCase(string Name, long Channels, long[] Outputs, long Size, bool Padded = false);

    private static readonly SiblingCase[] Cases =
    [
        new("BlazeFace 16×16 heads", 88, [32, 2], 16),
        new("BlazeFace 8×8 heads", 96, [96, 6], 8),
        new("GoogLeNet 3a 1x1s", 192, [64, 96, 16], 28),
        new("builder Inception 1x1s", 256, [64, 96, 32], 28),
        new("small 4-way", 32, [16, 16, 16, 16], 8),
        new("1x1 + 3x3 → Concat, small", 8, [8, 8], 4, Padded: true),
        new("1x1 + 3x3 → Concat, Inception-sized", 64, [64, 64], 28, Padded: true),
    ];

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        output.WriteLine($"runtime cost: {Description}");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
        Calibrate(context);
        output.WriteLine();
        output.WriteLine("| siblings | input | outputs | n | siblings CPU µs | merged CPU µs | merged ÷ siblings, CPU [95% CI] | measured saving | predicted saving (RuntimeCost) |");
        output.WriteLine("|---|---|---|---:|---:|---:|---|---:|---:|");
        foreach (var c in Cases)
        {
            var cpu = Time(context, Siblings(c, merged: false), Siblings(c, merged: true));
            long positions = c.Size * c.Size;
            double predicted = c.Padded
                ? RuntimeCost.SavedNanoseconds(-c.Outputs[0] * c.Channels * 8 * positions, 1, 0)
                : RuntimeCost.SavedNanoseconds(0, c.Outputs.Length - 2, 2 * c.Outputs.Sum() * positions);
            double measured = 1e6 * (ProcessComparison.Median(cpu[0]) - ProcessComparison.Median(cpu[1]));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.Name} | [1,{c.Channels},{c.Size},{c.Size}] | {string.Join("+", c.Outputs)} | {c.Outputs.Length} | {1000 * ProcessComparison.Median(cpu[0]):0.0} | {1000 * ProcessComparison.Median(cpu[1]):0.0} | {PairedRatio.Of(cpu[1], cpu[0])} | {RuntimeCost.Format(measured)} | {RuntimeCost.Format(predicted)} |"));
        }
        output.WriteLine();
        output.WriteLine($"load average at end: {MachineInfo.LoadAverage()}");
        return 0;
    }

    private static List<List<double>> Time(BenchmarkContext context, params Model[] models)
    {
        var subjects = models.Select(m => new LatencySubject(m, OptimizationLevel.All)).ToList();
        var timings = LatencyBenchmark.Interleave(subjects, new BenchOptions { Runs = Math.Max(Rounds, context.Runs), Warmup = 20 });
        return timings.Runs.Select(runs => runs.Select(r => r.ThreadCpuMs).ToList()).ToList();
    }

    /// <summary>Per-pair differences (b − a) in nanoseconds divided by <paramref name="units"/>: median and quartiles.</summary>
    private static string PerUnit(List<double> a, List<double> b, double units)
    {
        var d = a.Zip(b, (x, y) => (y - x) * 1e6 / units).Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"{d[d.Count / 2]:0.0000} ns (quartiles {d[d.Count / 4]:0.0000}, {d[3 * d.Count / 4]:0.0000})");
    }

    private static void Calibrate(BenchmarkContext context)
    {
        var output = context.Out;
        // Per MAC: a 256→256 1x1 Conv at 28×28 (51.4 M MACs) against a 256→8 one (1.6 M MACs), same input.
        const long c = 256, size = 28;
        long macsWide = c * c * size * size, macsNarrow = c * 8 * size * size;
        var mac = Time(context, SingleConv(c, 8, size), SingleConv(c, c, size));
        output.WriteLine($"time per MAC (1x1 Conv 256→256 vs 256→8 at 28×28, {macsWide - macsNarrow:N0} MACs apart): {PerUnit(mac[0], mac[1], macsWide - macsNarrow)}");
        // Per op: 17 chained 4→4 1x1 Convs (each with its ReLU, which ORT fuses) at 1×1 against 1.
        var op = Time(context, TinyChain(1), TinyChain(17));
        output.WriteLine($"time per op (17 vs 1 chained 4→4 Conv+ReLU at 1×1): {PerUnit(op[0], op[1], 16)}");
        // Per moved value: a ReLU on [1,256,28,28] then a Split in two halves, against the ReLU alone.
        var split = Time(context, SingleRelu(c, size, split: false), SingleRelu(c, size, split: true));
        output.WriteLine($"time per value a Split moves (read + write of {c * size * size:N0} values, one op): {PerUnit(split[0], split[1], c * size * size)} (its op time included)");
    }

    private static Model SingleConv(long c, long m, long size)
    {
        var b = new TestModelBuilder(13, seed: 7);
        b.Input("x", 1L, c, size, size);
        b.Output(b.Conv("x", c, m, [1, 1]), dims: [1L, m, size, size]);
        return b.ToIr();
    }

    private static Model SingleRelu(long c, long size, bool split)
    {
        var b = new TestModelBuilder(13, seed: 7);
        b.Input("x", 1L, c, size, size);
        string y = b.Relu("x");
        if (split)
        {
            b.Node("Split", [y, b.Initializer(TestModelBuilder.Int64Tensor("split", [2], [c / 2, c / 2]))], ["y0", "y1"], Attr.Int("axis", 1));
            b.Output("y0", dims: [1L, c / 2, size, size]);
            b.Output("y1", dims: [1L, c / 2, size, size]);
        }
        else b.Output(y, dims: [1L, c, size, size]);
        return b.ToIr();
    }

    private static Model TinyChain(int length)
    {
        var b = new TestModelBuilder(13, seed: 9);
        string y = b.Input("x", 1L, 4L, 1L, 1L);
        for (int i = 0; i < length; i++) y = b.Relu(b.Conv(y, 4, 4, [1, 1]));
        b.Output(y, dims: [1L, 4L, 1L, 1L]);
        return b.ToIr();
    }

    /// <summary>The siblings reading one input (each output a graph output), or their stacked Conv and a Split.</summary>
    private static Model Siblings(SiblingCase c, bool merged)
    {
        var b = new TestModelBuilder(13, seed: 5);
        b.Input("x", 1L, c.Channels, c.Size, c.Size);
        if (c.Padded)
        {
            var pads = Attr.Ints("pads", 1, 1, 1, 1);
            string joined = merged
                ? b.Conv("x", c.Channels, c.Outputs.Sum(), [3, 3], attributes: pads)
                : b.Concat(1, [b.Conv("x", c.Channels, c.Outputs[0], [1, 1]), b.Conv("x", c.Channels, c.Outputs[1], [3, 3], attributes: pads)]);
            b.Output(joined, dims: [1L, c.Outputs.Sum(), c.Size, c.Size]);
            return b.ToIr();
        }
        string[] names;
        if (merged)
        {
            string stacked = b.Conv("x", c.Channels, c.Outputs.Sum(), [1, 1]);
            names = Enumerable.Range(0, c.Outputs.Length).Select(i => $"y{i}").ToArray();
            b.Node("Split", [stacked, b.Initializer(TestModelBuilder.Int64Tensor("split", [c.Outputs.Length], c.Outputs))], names, Attr.Int("axis", 1));
        }
        else
        {
            names = c.Outputs.Select(m => b.Conv("x", c.Channels, m, [1, 1])).ToArray();
        }
        for (int i = 0; i < c.Outputs.Length; i++) b.Output(names[i], dims: [1L, c.Outputs[i], c.Size, c.Size]);
        return b.ToIr();
    }
}
