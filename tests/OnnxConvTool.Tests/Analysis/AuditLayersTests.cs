using OnnxConvTool.Analysis;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

/// <summary>The audit's per-layer MACs (the HTML report's chart): every MAC op in graph order, 1x1 convs tied to their rows.</summary>
public sealed class AuditLayersTests
{
    [Fact]
    public void ListsEveryConvMatMulAndGemmInGraphOrderWithMacsThatAddUpToTheTotal()
    {
        var b = new TestModelBuilder(opset: 13, seed: 77);
        string x = b.Input("x", 1, 8, 6, 6);
        x = b.Relu(b.HeConv(x, 8, 16, kernel: 1, name: "pw"));
        x = b.HeConv(x, 16, 16, kernel: 3, name: "k3");
        x = b.HeConv(b.GlobalAveragePool(x), 16, 4, kernel: 1, name: "head");
        x = b.Gemm(b.MatMul(b.Flatten(x), 4, 5, name: "mm"), 5, 2, name: "fc");
        b.FloatOutput(x, 1, 2);

        var audit = Conv1x1Audit.Run(b.ToIr(), new AuditOptions { ComputeWeightRank = false });

        Assert.Equal(["pw", "k3", "head", "mm", "fc"], audit.Layers.Select(l => l.Node));
        Assert.Equal(["Conv", "Conv", "Conv", "MatMul", "Gemm"], audit.Layers.Select(l => l.OpType));
        // 1x1 8→16 on 6x6, 3x3 16→16 on 6x6, 1x1 16→4 on 1x1, [1,4]·[4,5], [1,5]·[5,2]
        Assert.Equal([36L * 16 * 8, 36L * 16 * 16 * 9, 4L * 16, 4L * 5, 5L * 2], audit.Layers.Select(l => l.Macs!.Value));
        Assert.Equal(audit.Totals.Macs, audit.Layers.Sum(l => l.Macs));
        Assert.Equal([0, null, 1, null, null], audit.Layers.Select(l => l.Conv1x1Index));
        Assert.All(audit.Layers.Where(l => l.Conv1x1Index is not null), l => Assert.Equal(l.Node, audit.Conv1x1[l.Conv1x1Index!.Value].Node));
    }

    [Fact]
    public void LeavesAnUnknownCountNullAndTheJsonWithoutLayers()
    {
        var b = new TestModelBuilder(opset: 13, seed: 78);
        string x = b.Input("x", 1, 8, "H", "W");
        b.FloatOutput(b.HeConv(x, 8, 4, kernel: 1, name: "pw"), 1, 4, "H", "W");

        var audit = Conv1x1Audit.Run(b.ToIr(), new AuditOptions { ComputeWeightRank = false });

        var layer = Assert.Single(audit.Layers);
        Assert.Null(layer.Macs);
        Assert.DoesNotContain("\"layers\"", AuditJson.Serialize(audit), StringComparison.Ordinal);
    }
}
