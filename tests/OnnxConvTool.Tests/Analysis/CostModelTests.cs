using OnnxConvTool.Analysis;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

using DataType = TensorProto.Types.DataType;

/// <summary>MACs against numbers worked out by hand. Intermediate shapes are declared, so the counts do not depend on inference.</summary>
public sealed class CostModelTests
{
    [Fact]
    public void MnistExampleCostsSixteenMacsPerPixel()
    {
        var b = new TestModelBuilder(seed: 1);
        string y = b.Conv(b.Input("x", 1, 1, 28, 28), 1, 16, [1, 1]);
        b.Output(y, DataType.Float, 1, 16, 28, 28);
        var report = Conv1x1Audit.Run(b.ToIr());

        // 16 output channels × 28·28 pixels × 1 input channel.
        Assert.Equal(12_544, Assert.Single(report.Conv1x1).Macs);
        Assert.Equal(12_544, report.Totals.Macs);
        Assert.Equal(1.0, report.Totals.Conv1x1MacShare);
    }

    [Fact]
    public void EveryCountedOpAddsItsHandComputedMacsAndSharesAreOfTheTotal()
    {
        var b = new TestModelBuilder(seed: 2);
        // Conv 3x3: 3→4 channels on 8×8 without padding → 4×6×6 outputs × 3·9 = 3888.
        string a = b.Conv(b.Input("x", 1, 3, 8, 8), 3, 4, [3, 3]);
        Declare(b, a, 1, 4, 6, 6);
        // Conv 1x1 stride 2: 4→16 on 6×6 → 16×3×3 outputs × 4 = 576.
        string c = b.Conv(a, 4, 16, [1, 1], attributes: Attr.Ints("strides", 2, 2));
        Declare(b, c, 1, 16, 3, 3);
        // ConvTranspose: X [1,16,3,3], W [16,2,2,2] → 16·9 inputs × 2·4 = 1152.
        string t = b.Node("ConvTranspose", [c, b.RandomInitializer("Wt", [16, 2, 2, 2])], Attr.Ints("kernel_shape", 2, 2));
        Declare(b, t, 1, 2, 4, 4);
        // MatMul: [1,2,4,4] × [4,5] → [1,2,4,5], 40 outputs × K=4 = 160.
        string m = b.Node("MatMul", [t, b.RandomInitializer("Wm", [4, 5])]);
        Declare(b, m, 1, 2, 4, 5);
        // Gemm: A [2,20] (after Reshape), B [7,20] with transB → 2·7·20 = 280.
        string r = b.Node("Reshape", [m, b.Initializer(TestModelBuilder.Int64Tensor("shape", [2], [2, 20]))]);
        Declare(b, r, 2, 20);
        b.Output(b.Node("Gemm", [r, b.RandomInitializer("Wg", [7, 20])], Attr.Int("transB", 1)));
        var report = Conv1x1Audit.Run(b.ToIr());

        const long total = 3888 + 576 + 1152 + 160 + 280;
        var row = Assert.Single(report.Conv1x1);
        Assert.Equal(576, row.Macs);
        Assert.Equal(total, report.Totals.Macs);
        Assert.Equal(576, report.Totals.Conv1x1Macs);
        Assert.Equal(576.0 / total, row.MacShare!.Value, 12);
        Assert.Equal(576.0 / total, report.Totals.Conv1x1MacShare!.Value, 12);
        Assert.Equal(0, report.Totals.MacOpsUnknown);
        Assert.Equal((2, 1, 1, 1), (report.Totals.Conv, report.Totals.ConvTranspose, report.Totals.MatMul, report.Totals.Gemm));
    }

    [Fact]
    public void GroupedConvCountsOnlyTheChannelsOfItsGroup()
    {
        var b = new TestModelBuilder(seed: 3);
        string y = b.Conv(b.Input("x", 2, 12, 5, 5), 12, 8, [1, 1], group: 4);
        b.Output(y, DataType.Float, 2, 8, 5, 5);
        // Batch 2 × 8 outputs × 25 pixels × 12/4 input channels per group.
        Assert.Equal(2 * 8 * 25 * 3, Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1).Macs);
    }

    [Fact]
    public void SymbolicDimsLeaveMacsUnknownAndTheSharesNull()
    {
        var b = new TestModelBuilder(seed: 4);
        string a = b.Conv(b.Input("x", 1, 4, 6, 6), 4, 4, [1, 1]);
        b.Output(a, DataType.Float, 1, 4, 6, 6);
        string c = b.Conv(b.Input("z", 1, 4, "H", 6), 4, 4, [3, 3], attributes: Attr.Ints("pads", 1, 1, 1, 1));
        b.Output(c, DataType.Float, 1, 4, "H", 6);
        var report = Conv1x1Audit.Run(b.ToIr());

        Assert.Equal(4 * 36 * 4, Assert.Single(report.Conv1x1).Macs);
        Assert.Null(report.Totals.Macs);
        Assert.Null(report.Conv1x1[0].MacShare);
        Assert.Null(report.Totals.Conv1x1MacShare);
        Assert.Equal(1, report.Totals.MacOpsUnknown);
    }

    [Fact]
    public void SpatialSizesKeepSymbolicNames()
    {
        var b = new TestModelBuilder(seed: 5);
        string y = b.Conv(b.Input("x", "N", 4, "H", "W"), 4, 8, [1, 1]);
        b.Output(y, DataType.Float, "N", 8, "H", "W");
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(["H", "W"], row.InputSpatial!.Select(d => d.Symbol));
        Assert.Equal(["H", "W"], row.OutputSpatial!.Select(d => d.Symbol));
        Assert.Null(row.Macs);
    }

    [Fact]
    public void SymbolicBatchOfAnInputIsTakenAsOneUnlessShapeFixesIt()
    {
        var b = new TestModelBuilder(seed: 6);
        string x = b.Input("x", "N", 4, 6, 6);
        string z = b.Input("z", 2, 4, 6, 6);
        b.Output(b.Conv(x, 4, 8, [1, 1]));
        b.Output(b.Conv(z, 4, 8, [1, 1]));
        var model = b.ToIr();

        Assert.Equal(["x"], Conv1x1Audit.Run(model).AssumedBatchOne);
        Assert.Empty(Conv1x1Audit.Run(model, new AuditOptions { AssumeBatchOne = false }).AssumedBatchOne);
        var fixedByShape = new Dictionary<string, IReadOnlyList<Dim>> { ["x"] = [Dim.Known(3), Dim.Known(4), Dim.Known(6), Dim.Known(6)] };
        var report = Conv1x1Audit.Run(model, new AuditOptions { ShapeOverrides = fixedByShape });
        Assert.Empty(report.AssumedBatchOne);
        Assert.Equal(fixedByShape["x"], report.ShapeOverrides["x"]);
    }

    private static void Declare(TestModelBuilder b, string name, params object[] dims) =>
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo(name, DataType.Float, dims));
}
