using OnnxConvTool.Analysis;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Analysis;

using DataType = TensorProto.Types.DataType;

public sealed class Conv1x1RoleTests
{
    [Fact]
    public void MnistExampleOneChannelToSixteenIsScaling()
    {
        var b = new TestModelBuilder(seed: 3);
        string y = b.Conv(b.Input("x", 1, 1, 28, 28), 1, 16, [1, 1]);
        b.Output(y);
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(Conv1x1Role.Scaling, row.Role);
        Assert.Equal((1L, 16L), (row.InChannels, row.OutChannels));
        Assert.False(row.Depthwise);
        Assert.Equal(WeightSource.Initializer, row.Weight);
        Assert.Equal(16 + 16, row.Params);
        Assert.Equal(1, row.WeightRank);
        Assert.Equal(1, row.FullRank);
        Assert.Equal(false, row.RankDeficient);
    }

    [Theory]
    [InlineData(8, 1)]
    [InlineData(8, 2)]
    public void DepthwiseOneByOneIsAPerChannelScale(int channels, int multiplier)
    {
        var b = new TestModelBuilder(seed: 4);
        string y = b.Conv(b.Input("x", 1, channels, 5, 5), channels, channels * multiplier, [1, 1], group: channels);
        b.Output(y);
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(Conv1x1Role.Scaling, row.Role);
        Assert.True(row.Depthwise);
        Assert.Equal(channels, row.Group);
        Assert.Contains("depthwise", row.RoleDetail);
        Assert.Equal(channels, row.WeightRank);
    }

    [Fact]
    public void FewerOutputChannelsIsAReductionWithItsRatio()
    {
        var row = SingleConv(inChannels: 64, outChannels: 16);
        Assert.Equal(Conv1x1Role.Reduction, row.Role);
        Assert.Equal(0.25, row.ChannelRatio);
        Assert.Contains("64→16, 4× fewer channels", row.RoleDetail);
    }

    [Fact]
    public void MoreOutputChannelsIsAnExpansion()
    {
        var row = SingleConv(inChannels: 16, outChannels: 96);
        Assert.Equal(Conv1x1Role.Expansion, row.Role);
        Assert.Equal(6.0, row.ChannelRatio);
        Assert.Contains("6× more channels", row.RoleDetail);
    }

    [Fact]
    public void EqualChannelCountsIsMixing()
    {
        var row = SingleConv(inChannels: 32, outChannels: 32);
        Assert.Equal(Conv1x1Role.Mixing, row.Role);
        Assert.Equal(1.0, row.ChannelRatio);
    }

    [Fact]
    public void GroupedConvKeepsItsChannelRoleAndSaysGroups()
    {
        var b = new TestModelBuilder(seed: 5);
        b.Output(b.Conv(b.Input("x", 1, 16, 4, 4), 16, 32, [1, 1], group: 4));
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);
        Assert.Equal(Conv1x1Role.Expansion, row.Role);
        Assert.False(row.Depthwise);
        Assert.Contains("in 4 groups", row.RoleDetail);
        Assert.Equal(16, row.WeightRank);
        Assert.Equal(16, row.FullRank);
    }

    [Fact]
    public void ConvOnAOneByOneMapAfterGlobalPoolIsAProjectionHead()
    {
        var b = new TestModelBuilder(seed: 6);
        string pooled = b.Node("GlobalAveragePool", [b.Input("x", 1, 32, 7, 7)]);
        b.Graph.ValueInfo.Add(TestModelBuilder.ValueInfo(pooled, DataType.Float, [1, 32, 1, 1]));
        b.Output(b.Conv(pooled, 32, 10, [1, 1]));
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);

        Assert.Equal(Conv1x1Role.ProjectionHead, row.Role);
        Assert.Equal([Dim.Known(1), Dim.Known(1)], row.InputSpatial);
    }

    [Fact]
    public void SameConvOnALargerMapIsNotAProjectionHead()
    {
        var b = new TestModelBuilder(seed: 6);
        b.Output(b.Conv(b.Input("x", 1, 32, 7, 7), 32, 10, [1, 1]));
        Assert.Equal(Conv1x1Role.Reduction, Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1).Role);
    }

    [Fact]
    public void RankOneWeightIsReportedRankDeficient()
    {
        // W = u vᵀ: every output channel is a multiple of the same combination of inputs.
        double[] u = [1, -2, 0.5, 3, 1.5, -1];
        double[] v = [0.25, -1, 2, 0.75];
        var weights = u.SelectMany(ui => v.Select(vj => ui * vj)).ToArray();
        var row = ConvWithWeight(weights, outChannels: 6, inChannels: 4);

        Assert.Equal(1, row.WeightRank);
        Assert.Equal(4, row.FullRank);
        Assert.Equal(true, row.RankDeficient);
    }

    [Fact]
    public void DuplicatedOutputChannelMakesTheWeightOneShortOfFullRank()
    {
        var random = new Random(11);
        var weights = Enumerable.Range(0, 5 * 8).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        Array.Copy(weights, 0, weights, 4 * 8, 8);
        var row = ConvWithWeight(weights, outChannels: 5, inChannels: 8);

        Assert.Equal(4, row.WeightRank);
        Assert.Equal(5, row.FullRank);
        Assert.Equal(true, row.RankDeficient);
    }

    [Fact]
    public void RandomWeightIsFullRank()
    {
        var row = SingleConv(inChannels: 24, outChannels: 40);
        Assert.Equal(24, row.WeightRank);
        Assert.Equal(false, row.RankDeficient);
    }

    [Fact]
    public void UnknownChannelCountsGiveRoleUnknown()
    {
        var b = new TestModelBuilder(seed: 8);
        string w = b.Input("w", "M", "C", 1, 1);
        b.Output(b.Node("Conv", [b.Input("x", "N", "C", 4, 4), w], Attr.Ints("kernel_shape", 1, 1)));
        var row = Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);
        Assert.Equal(Conv1x1Role.Unknown, row.Role);
        Assert.Null(row.InChannels);
        Assert.Null(row.Params);
    }

    private static Conv1x1Row SingleConv(int inChannels, int outChannels)
    {
        var b = new TestModelBuilder(seed: inChannels * 1000 + outChannels);
        b.Output(b.Conv(b.Input("x", 1, inChannels, 6, 6), inChannels, outChannels, [1, 1]));
        return Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);
    }

    private static Conv1x1Row ConvWithWeight(double[] weights, int outChannels, int inChannels)
    {
        var b = new TestModelBuilder(seed: 9);
        string w = b.Initializer(TestModelBuilder.TensorOf("W", [outChannels, inChannels, 1, 1], weights));
        b.Output(b.Node("Conv", [b.Input("x", 1, inChannels, 3, 3), w], Attr.Ints("kernel_shape", 1, 1)));
        return Assert.Single(Conv1x1Audit.Run(b.ToIr()).Conv1x1);
    }
}
