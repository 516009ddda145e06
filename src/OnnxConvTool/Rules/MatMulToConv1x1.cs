using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules;

using DataType = TensorProto.Types.DataType;

/// <summary>Where the channel axis of the data operand sits.</summary>
internal enum MatMulLayout
{
    /// <summary><c>X[…, K] · W[K, M]</c> (MatMul with the weight on the right, or Gemm): channels last.</summary>
    ChannelsLast,
    /// <summary><c>W[M, K] · X[N, K, L]</c> (MatMul with the weight on the left): already NCL.</summary>
    ChannelsFirst,
}

/// <summary>A matched MatMul/Gemm with its folded bias, as an out-channels × in-channels weight and a bias per out channel.</summary>
internal sealed record MatMulConvMatch(
    Node Root,
    Node? BiasAdd,
    Value Data,
    int DataRank,
    MatMulLayout Layout,
    bool TransposeData,
    double[] Weight,
    long OutChannels,
    long InChannels,
    double[]? Bias,
    DataType ElementType);

/// <summary>
/// Replaces a MatMul or Gemm with a constant 2-D weight (and the bias Add that follows it) with a 1x1 Conv,
/// for toolchains that want convolutions.
/// </summary>
/// <remarks>
/// <para>Algebra: <c>Y[…, m] = Σ_k X[…, k]·B[k, m] + c[m]</c> is a 1x1 Conv with weight <c>W[m, k, 1…] = B[k, m]</c>
/// once the channel axis is moved to position 1: rank 2 [N,K] becomes [N,K,1,1] by a Reshape (and back to
/// [N,M]); ranks 3 to 5 [N, s1…, K] are transposed to [N, K, s1…] and back. Gemm folds alpha into W and beta·C
/// into the bias (transA transposes the data first, transB the weight). <c>W[M,K]·X[N,K,L]</c> is already a
/// Conv1D on NCL data. The pattern is rooted at the MatMul/Gemm and takes in the Add that is its only consumer.</para>
/// <para>Preconditions, each with its sentence: (1) default ONNX domain; (2) the weight is a constant 2-D
/// tensor that no graph input overrides; (3) the data's rank is known and between 2 and 5 (3 for a weight
/// on the left); (4) a Gemm's C (and a folded Add's constant) broadcast along the out channels only;
/// (5) the element type is a float type that Conv accepts at the model's opset (bfloat16 from opset 22).</para>
/// </remarks>
internal sealed class MatMulToConv1x1 : RewriteRule<MatMulConvMatch>
{
    public const string RuleId = "matmul-to-conv1x1";

    public override string Id => RuleId;

    public override string Summary => "Replaces a MatMul or Gemm with a constant 2-D weight (and its bias Add) with a 1x1 Conv.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["MatMul", "Gemm"];

    public override bool IsCandidate(Node node) => node.OpType is "MatMul" or "Gemm";

    public override MatchResult<MatMulConvMatch> TryMatch(Node root, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(root) is { } domain) return MatchResult.Fail(domain);
        if (root.Input(0) is not { } a || root.Input(1) is not { } b || root.Outputs.Count != 1)
            return MatchResult.Fail($"'{root.DisplayName}' lacks an input or has more than one output");
        int opset = context.Opset;
        if (opset < OpsetVersion.MultidirectionalBroadcast)
            return MatchResult.Fail($"the model imports opset {opset}; the rewrite needs opset {OpsetVersion.MultidirectionalBroadcast} or newer");

        bool gemm = root.OpType == "Gemm";
        Value data, weightValue;
        MatMulLayout layout;
        static bool ConstantLike(Value v) => v.IsInitializer || Model.TryGetConstant(v) is not null;
        if (gemm || ConstantLike(b)) { data = a; weightValue = b; layout = MatMulLayout.ChannelsLast; }
        else if (ConstantLike(a)) { data = b; weightValue = a; layout = MatMulLayout.ChannelsFirst; }
        else return MatchResult.Fail($"neither input of '{root.DisplayName}' is a constant weight");

        if (FusionGuards.ConstantWeight(weightValue, "weight") is { } notConstant) return MatchResult.Fail(notConstant);
        var weightTensor = Model.TryGetConstant(weightValue)!;
        if (weightTensor.Rank != 2) return MatchResult.Fail($"the weight '{weightValue.Name}' has rank {weightTensor.Rank}, not 2");
        var type = weightTensor.ElementType;
        if (!ElementTypes.IsFloatingPoint(type)) return MatchResult.Fail($"the element type is {ElementTypes.Name(type)}, not a float type");
        foreach (string op in new[] { "Conv", "Transpose", "Reshape" })
            if (OpsetVersion.WhyCannotEmit(op, type, opset) is { } typeProblem) return MatchResult.Fail(typeProblem);

        int? rank = context.ShapeOf(data).Rank;
        if (rank is null) return MatchResult.Fail($"the rank of '{data.Name}' is unknown");
        if (layout == MatMulLayout.ChannelsFirst && rank != 3)
            return MatchResult.Fail($"the weight is on the left and '{data.Name}' has rank {rank}; only rank 3 [N,K,L] becomes a Conv1D");
        if (rank is < 2 or > 5) return MatchResult.Fail($"'{data.Name}' has rank {rank}; only ranks 2 to 5 map onto a Conv");

        var values = weightTensor.ToDoubleArray();
        long rows = weightTensor.Dims[0], cols = weightTensor.Dims[1];
        bool transA = gemm && root.GetInt("transA", 0) != 0;
        bool transB = gemm && root.GetInt("transB", 0) != 0;
        double alpha = gemm ? root.GetFloat("alpha", 1f) : 1, beta = gemm ? root.GetFloat("beta", 1f) : 1;
        if (gemm && rank != 2) return MatchResult.Fail($"Gemm input '{data.Name}' has rank {rank}, not 2");

        // W[m, k] for the Conv.
        long outChannels, inChannels;
        double[] w;
        if (layout == MatMulLayout.ChannelsFirst || transB)
        {
            (outChannels, inChannels) = (rows, cols);
            w = values;
        }
        else
        {
            (outChannels, inChannels) = (cols, rows);
            w = WeightMath.Transpose(values, rows, cols);
        }
        if (alpha != 1) w = Array.ConvertAll(w, v => v * alpha);

        double[]? bias = null;
        if (gemm && root.Input(2) is { } c)
        {
            if (FusionGuards.ConstantWeight(c, "bias") is { } cProblem) return MatchResult.Fail(cProblem);
            var perChannel = PerChannel(Model.TryGetConstant(c)!, 2, 1, outChannels);
            if (perChannel is null) return MatchResult.Fail($"Gemm's C '{c.Name}' does not broadcast along the out channels only");
            bias = perChannel.Select(v => v * beta).ToArray();
        }

        Node? add = null;
        var output = root.Outputs[0];
        if (output.Uses.Count == 1 && !output.IsGraphOutput && output.Uses[0].Node is { OpType: "Add", IsOnnxDomain: true } consumer
            && consumer.Inputs.Count == 2 && ReferenceEquals(consumer.Graph, root.Graph))
        {
            var other = consumer.Inputs[1 - output.Uses[0].InputIndex];
            if (other is not null && Model.TryGetConstant(other) is { } addend && FusionGuards.ConstantWeight(other, "bias") is null
                && PerChannel(addend, rank.Value, layout == MatMulLayout.ChannelsLast ? rank.Value - 1 : 1, outChannels) is { } addBias)
            {
                add = consumer;
                bias = bias is null ? addBias : bias.Zip(addBias, (x, y) => x + y).ToArray();
            }
        }
        return new MatMulConvMatch(root, add, data, rank.Value, layout, transA, w, outChannels, inChannels, bias, type);
    }

    /// <summary>The per-out-channel values of a constant that broadcasts along the channel axis only, else null.</summary>
    private static double[]? PerChannel(Tensor tensor, int rank, int channelAxis, long channels) =>
        WeightMath.PerChannel(tensor.Dims, tensor.ToDoubleArray(), rank, channelAxis, channels, out _);

    public override string Describe(MatMulConvMatch match) =>
        $"1x1 Conv{(match.Layout == MatMulLayout.ChannelsFirst ? "1D" : "")} with a [{match.OutChannels},{match.InChannels}] weight"
        + (match.Bias is null ? "" : match.BiasAdd is null ? ", bias from C" : ", bias Add folded")
        + (match.DataRank == 2 ? ", input reshaped to [N,K,1,1]" : match.Layout == MatMulLayout.ChannelsLast ? $", rank-{match.DataRank} input transposed to channels-first" : "");

    public override void Rewrite(MatMulConvMatch match, GraphRewriter rewriter)
    {
        var ops = rewriter.BuilderBefore(match.Root);
        int r = match.DataRank;
        var x = match.Data;
        if (match.TransposeData) x = ops.Transpose(x, 1, 0);
        int spatial = match.Layout == MatMulLayout.ChannelsFirst ? 1 : r == 2 ? 2 : r - 2;
        long[] ones = Enumerable.Repeat(1L, spatial).ToArray();
        string name = match.Root.Inputs[match.Layout == MatMulLayout.ChannelsFirst ? 0 : 1]!.Name;
        var w = ops.Constant(Tensor.FromValues(name + "_conv", match.ElementType, [match.OutChannels, match.InChannels, .. ones], match.Weight));
        var b = match.Bias is null ? null : ops.Constant(Tensor.FromValues(name + "_conv_bias", match.ElementType, [match.OutChannels], match.Bias));

        Value y;
        if (match.Layout == MatMulLayout.ChannelsFirst)
            y = ops.Conv(x, w, b, kernelShape: ones);
        else if (r == 2)
            y = ops.Reshape(ops.Conv(ops.Reshape(x, 0, match.InChannels, 1, 1), w, b, kernelShape: ones), 0, match.OutChannels);
        else
        {
            long[] toChannelsFirst = [0, r - 1, .. Enumerable.Range(1, r - 2).Select(i => (long)i)];
            long[] back = [0, .. Enumerable.Range(2, r - 2).Select(i => (long)i), 1];
            y = ops.Transpose(ops.Conv(ops.Transpose(x, toChannelsFirst), w, b, kernelShape: ones), back);
        }
        var last = match.BiasAdd ?? match.Root;
        rewriter.ReplaceAllUsesWith(last.Outputs[0], y, keepName: true);
        if (match.BiasAdd is not null) rewriter.RemoveNode(match.BiasAdd);
        rewriter.RemoveNode(match.Root);
    }
}
