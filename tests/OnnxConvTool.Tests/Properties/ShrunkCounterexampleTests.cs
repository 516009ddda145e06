using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Properties;

using DataType = TensorProto.Types.DataType;

/// <summary>Cases the property tests shrank to, kept as they were printed, with the behaviour they pin down.</summary>
public sealed class ShrunkCounterexampleTests
{
    /// <summary>
    /// Shrunk from seed 20261132: a grouped 1x1 Conv with SAME_UPPER padding and dilation [2, 1] after a global pool.
    /// ONNX Runtime refuses dilation with SAME padding, so the original cannot run; with a 1x1 kernel dilation
    /// changes nothing, so the rewrite must equal the same model without dilation.
    /// </summary>
    [Fact]
    public void DilatedPointwiseConvWithSamePaddingRewritesLikeTheUndilatedOne()
    {
        var spec = new GraphSpec(DataType.Float, 11, 2, 2, [2, 5],
            [new GlobalPoolSpec(), new ConvSpec(6, 2, [1, 1], [1, 1], [0, 0, 0, 0], [2, 1], true, WeightStorage.GraphInput, "SAME_UPPER")], 442);
        var undilated = spec with { Layers = [spec.Layers[0], ((ConvSpec)spec.Layers[1]) with { Dilations = [1, 1] }] };
        foreach (var rule in new IRewriteRule[] { new Conv1x1ToMatMul(), new Conv1x1ToGemm() })
        {
            var (_, after, result) = RewriteHarness.Run(RandomConvGraphs.Build(spec), rule);
            Assert.Equal(1, result.AppliedCount);
            Equivalence.AssertEquivalent(RandomConvGraphs.Build(undilated).ToIr(), after);
        }
    }
}
