using OnnxConvTool.Emit;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Ops;
using OnnxConvTool.Rewriting;

namespace OnnxConvTool.Rules;

/// <summary>Which scaffolding a <see cref="RestoreSpatialConv"/> match takes down.</summary>
internal enum SpatialScaffold
{
    /// <summary>Reshape to [N, …, D], a channel map (Conv1D, MatMul or Mul, optional bias Add), Reshape back to [N, M, d…].</summary>
    Flattened,
    /// <summary>A per-channel Mul (and bias Add) on NC… data: a depthwise 1x1 Conv.</summary>
    PerChannelScale,
    /// <summary>A 1x1 Conv reading every s-th pixel through a Slice (or a 1x1 AveragePool): a strided 1x1 Conv.</summary>
    Subsampled,
}

/// <summary>
/// A matched scaffold: the spatial input, the Conv's weight <c>[M, C/g, 1…]</c> and bias (a constant, or a run-time
/// weight of the Conv's rank), group, strides, and the nodes that go.
/// </summary>
internal sealed record SpatialConvMatch(SpatialScaffold Scaffold, Node Root, Value Input, int SpatialRank, long Group, long[] Strides,
    Tensor? Weight, Value? RuntimeWeight, Tensor? Bias, Value? RuntimeBias, Node? Strided, IReadOnlyList<Node> Removed);

/// <summary>
/// Replaces the scaffolding around a channel map on flattened or subsampled data (as <c>rewrite --to matmul</c> or
/// exporters emit it) with the spatial 1x1 Conv it stands for.
/// </summary>
/// <remarks>
/// <para>Algebra: <c>Reshape(W·Reshape(x, [N, C, D]) + b, [N, M, d₁…dₖ])</c> with D = d₁⋯dₖ is <c>Conv(x, W[M, C, 1…], b)</c>;
/// a batched <c>W[g, M/g, C/g]·Reshape(x, [N, g, C/g, D])</c> is the same Conv with group g; <c>Reshape(x, [N, g, 1, D])·W[g, m, 1]</c>
/// is a depthwise Conv with channel multiplier m; <c>x·W[C, 1…] + b[C, 1…]</c> on NC… data is a depthwise 1x1 Conv. A 1x1 Conv
/// of <c>Slice(x, 0, ∞, spatial axes, s)</c> (or of a 1x1 AveragePool with strides s) reads the pixels a stride-s 1x1 Conv
/// of x reads. The zero Pad the forward rule puts first is left to <c>fuse-pad-into-conv</c>.</para>
/// <para>Preconditions, each with its sentence: (1) default domain; (2) the reshape back takes the spatial dims
/// from the same tensor that was flattened (or the data has one spatial dim); (3) every intermediate has one consumer;
/// (4) the weight is a constant, or a run-time value whose rank is the Conv's with 1s past the channels; the bias a
/// constant per output channel; (5) a subsampling Slice starts at 0, runs to the end and steps over spatial axes only.</para>
/// </remarks>
internal sealed class RestoreSpatialConv : RewriteRule<SpatialConvMatch>
{
    public const string RuleId = "restore-spatial-conv";

    public override string Id => RuleId;

    public override string Summary => "Replaces Reshape/MatMul/Reshape, per-channel Mul/Add and Slice scaffolding around a channel map with the spatial 1x1 Conv.";

    public override IReadOnlyCollection<string> RootOpTypes { get; } = ["Reshape", "Add", "Mul", "Conv"];

    /// <summary>Structural pre-check: a Reshape of a channel map's output, a Conv reading a Slice or AveragePool, an Add or Mul with a constant operand.</summary>
    public override bool IsCandidate(Node node) => node.OpType switch
    {
        "Reshape" => node.Input(0)?.Producer?.OpType is "Conv" or "MatMul" or "Mul" or "Add",
        "Conv" => node.Input(0)?.Producer?.OpType is "Slice" or "AveragePool",
        "Add" or "Mul" => node.Inputs.Any(i => i is not null && (i.IsInitializer || i.Producer?.OpType == "Constant")),
        _ => false,
    };

    public override MatchResult<SpatialConvMatch> TryMatch(Node root, RewriteContext context)
    {
        if (FusionGuards.OnnxDomain(root) is { } domain) return MatchResult.Fail(domain);
        return root.OpType switch
        {
            "Reshape" => MatchFlattened(root, context),
            "Conv" => MatchSubsampled(root, context),
            _ => MatchPerChannel(root, context),
        };
    }

    private static MatchResult<SpatialConvMatch> MatchFlattened(Node root, RewriteContext context)
    {
        if (root.Input(0) is not { } mapped || root.Input(1) is not { } shape) return MatchResult.Fail($"'{root.DisplayName}' lacks an input");
        var removed = new List<Node> { root };
        // Optional bias Add, then the channel map.
        if (Intermediate(mapped, root, out var why) is not { } map) return MatchResult.Fail(why!);
        Tensor? biasTensor = null;
        Value? runtimeBias = null;
        if (map.OpType == "Add")
        {
            if (!TryConstantOperand(map, out var core, out biasTensor) && !TryReshapedOperand(map, context, out core, out runtimeBias, removed))
                return MatchResult.Fail($"'{map.DisplayName}' does not add a constant bias or a reshaped 1-D one");
            removed.Add(map);
            if (Intermediate(core, map, out why) is not { } inner) return MatchResult.Fail(why!);
            map = inner;
        }
        removed.Add(map);

        Value flat;
        Tensor? weight = null;
        Value? runtimeWeight = null;
        long group;
        long[] weightDims;
        switch (map.OpType)
        {
            case "Conv" when map.Input(0) is { } x1 && map.Input(1) is { } w1:
            {
                var w = Model.TryGetConstant(w1);
                if (w is null || w.Rank != 3 || map.GetInts("kernel_shape") is { } kernel && kernel.Any(d => d != 1))
                    return MatchResult.Fail($"'{map.DisplayName}' is not a Conv1D with a constant 1-wide kernel");
                var g = ConvGeometry.Read(map, new Shapes.TensorShape(w.ElementType, w.Dims.Select(Shapes.Dim.Known).ToArray()));
                if (g.Problem is { } problem) return MatchResult.Fail(problem);
                if (g.Strides.Any(s => s != 1) || g.Pads.Any(p => p != 0) || g.AutoPad is not (AutoPad.NotSet or AutoPad.Valid) || g.Dilations.Any(d => d != 1))
                    return MatchResult.Fail($"'{map.DisplayName}' strides, pads or dilates its flattened input");
                if (map.Input(2) is { } b1)
                {
                    if (biasTensor is not null || Model.TryGetConstant(b1) is not { } bt) return MatchResult.Fail($"'{map.DisplayName}' has a bias that is not a constant");
                    biasTensor = bt;
                }
                flat = x1;
                weight = w;
                group = g.Group;
                weightDims = [w.Dims[0], w.Dims[1]];
                break;
            }
            case "MatMul" when map.Input(0) is { } a && map.Input(1) is { } x2:
            {
                flat = x2;
                if (Model.TryGetConstant(a) is { } w && w.Rank is 2 or 3)
                    weight = w;
                else if (a.Producer is { OpType: "Reshape" } reshapeW && reshapeW.Input(0) is { } w0 && a.Uses.Count == 1)
                {
                    runtimeWeight = w0;
                    removed.Add(reshapeW);
                }
                else return MatchResult.Fail($"'{map.DisplayName}' multiplies by '{a.Name}', neither a constant nor a reshaped weight");
                var dims = weight is not null ? weight.Dims.ToArray() : context.StaticDims(a);
                if (dims is null || dims.Length is not (2 or 3)) return MatchResult.Fail($"the shape of the weight '{a.Name}' is unknown or not 2-D or 3-D");
                group = dims.Length == 3 ? dims[0] : 1;
                weightDims = dims.Length == 3 ? [dims[0] * dims[1], dims[2]] : dims;
                break;
            }
            case "Mul" when TryConstantOperand(map, out var data, out var scale) && scale!.Rank == 3 && scale.Dims[2] == 1:
            {
                flat = data;
                weight = scale;
                group = scale.Dims[0];
                weightDims = [scale.Dims[0] * scale.Dims[1], 1];
                break;
            }
            default:
                return MatchResult.Fail($"'{root.DisplayName}' reshapes the output of a {map.OpType}, not of a channel map");
        }
        // The flattening Reshape and where the spatial dims come back from.
        if (flat.Producer is not { OpType: "Reshape", IsOnnxDomain: true } flatten || flatten.Input(0) is not { } x || flat.Uses.Count != 1 || flat.IsGraphOutput)
            return MatchResult.Fail($"'{flat.Name}' does not come from a Reshape that only the channel map reads");
        if (flatten.Input(1) is not { } flatShapeValue || Model.TryGetConstant(flatShapeValue)?.ToInt64Array() is not { } flatShape)
            return MatchResult.Fail($"'{flatten.DisplayName}' reshapes to a shape that is not a constant");
        long inPerGroup = weightDims[1];
        long[] expected = map.OpType == "Mul" ? [0, group, 1, -1] : group == 1 ? [0, 0, -1] : [0, group, inPerGroup, -1];
        if (!flatShape.SequenceEqual(expected))
            return MatchResult.Fail($"'{flatten.DisplayName}' reshapes to [{string.Join(",", flatShape)}], not [{string.Join(",", expected)}]");
        removed.Add(flatten);

        int? rank = context.ShapeOf(x).Rank;
        if (Model.TryGetConstant(shape)?.ToInt64Array() is { } back)
        {
            if (rank != 3 || !back.SequenceEqual([0, weightDims[0], -1]))
                return MatchResult.Fail($"'{root.DisplayName}' reshapes to [{string.Join(",", back)}], not [0,{weightDims[0]},-1] of rank-3 data");
        }
        else if (SpatialDimsOf(shape, x, weightDims[0], group, out var shapeNodes) is { } notSpatial) return MatchResult.Fail(notSpatial);
        else
        {
            foreach (var n in shapeNodes) removed.Add(n);
            if (rank is null) return MatchResult.Fail($"the rank of '{x.Name}' is unknown");
        }
        int k = rank!.Value - 2;
        if (runtimeWeight is not null)
        {
            var weightShape = context.ShapeOf(runtimeWeight);
            if (weightShape.Rank != k + 2 || weightShape.Dims!.Skip(2).Any(d => d.Value != 1))
                return MatchResult.Fail($"the run-time weight '{runtimeWeight.Name}' is not of shape [M, C/group, 1…] for {k} spatial dims");
        }
        // An added bias must hold one value per output channel laid out along the channel axes ([M,1] or [g,M/g,1]).
        if (biasTensor is not null && map.OpType != "Conv" && (biasTensor.ElementCount != weightDims[0] || biasTensor.Dims is not [.., 1] || biasTensor.Rank > 3))
            return MatchResult.Fail($"the bias '{biasTensor.Name}' of shape {biasTensor.FormatDims()} is not one value per output channel");
        Tensor? convWeight = weight is null ? null : WeightMath.Reshaped(weight, [weightDims[0], weightDims[1], .. Enumerable.Repeat(1L, k)], weight.Name + "_spatial");
        Tensor? convBias = biasTensor is null ? null : WeightMath.Reshaped(biasTensor, [weightDims[0]], biasTensor.Name + "_spatial");
        return new SpatialConvMatch(SpatialScaffold.Flattened, root, x, k, group, Enumerable.Repeat(1L, k).ToArray(), convWeight, runtimeWeight, convBias,
            runtimeBias, null, removed);
    }

    /// <summary>
    /// Null when <paramref name="shape"/> is <c>Concat([0, 0 or M], Shape(x)[2:])</c> (Shape with start/end, or a Gather of
    /// the full shape), with the nodes computing it in <paramref name="nodes"/>; else why not.
    /// </summary>
    private static string? SpatialDimsOf(Value shape, Value x, long outChannels, long group, out List<Node> nodes)
    {
        nodes = [];
        string fail = $"the shape '{shape.Name}' is not the batch, {outChannels} channels and the spatial dims of '{x.Name}'";
        if (shape.Producer is not { OpType: "Concat" } concat || concat.Inputs.Count != 2 || concat.Input(0) is not { } head || concat.Input(1) is not { } tail)
            return fail;
        if (Model.TryGetConstant(head)?.ToInt64Array() is not { Length: 2 } prefix || prefix[0] != 0 || (prefix[1] != 0 && prefix[1] != outChannels)
            || (prefix[1] == 0 && group != 1))
            return fail;
        nodes.Add(concat);
        if (tail.Producer is { OpType: "Shape" } sliceShape && ReferenceEquals(sliceShape.Input(0), x) && sliceShape.GetInt("start", 0) == 2)
            nodes.Add(sliceShape);
        else if (tail.Producer is { OpType: "Gather" } gather && gather.Input(0)?.Producer is { OpType: "Shape" } full && ReferenceEquals(full.Input(0), x)
            && !full.HasAttribute("start") && gather.Input(1) is { } indices && Model.TryGetConstant(indices)?.ToInt64Array() is { } picked
            && picked.Select((p, i) => p == i + 2).All(b => b))
        {
            nodes.Add(gather);
            nodes.Add(full);
        }
        else return fail;
        return null;
    }

    /// <summary><paramref name="value"/>'s producer, when this is its only consumer, in the same graph; else null with why.</summary>
    private static Node? Intermediate(Value value, Node consumer, out string? why)
    {
        why = null;
        if (value.Producer is not { IsOnnxDomain: true } producer || !ReferenceEquals(producer.Graph, consumer.Graph))
        {
            why = $"'{value.Name}' is not computed by a node of the graph";
            return null;
        }
        if (FusionGuards.SingleConsumer(value) is { } shared)
        {
            why = shared;
            return null;
        }
        return producer;
    }

    /// <summary>
    /// An Add with one operand a Reshape (read only here) of a 1-D run-time value: the other operand and that value;
    /// the Reshape joins <paramref name="removed"/>.
    /// </summary>
    private static bool TryReshapedOperand(Node add, RewriteContext context, out Value other, out Value? bias, List<Node> removed)
    {
        other = null!;
        bias = null;
        if (add.Inputs.Count != 2) return false;
        for (int i = 0; i < 2; i++)
            if (add.Input(i) is { Producer: { OpType: "Reshape", IsOnnxDomain: true } reshape } operand && operand.Uses.Count == 1 && !operand.IsGraphOutput
                && reshape.Input(0) is { } source && context.ShapeOf(source).Rank == 1 && add.Input(1 - i) is { } rest)
            {
                (other, bias) = (rest, source);
                removed.Add(reshape);
                return true;
            }
        return false;
    }

    /// <summary>A binary node with one constant operand: the other operand and the constant.</summary>
    private static bool TryConstantOperand(Node node, out Value other, out Tensor? constant)
    {
        other = null!;
        constant = null;
        if (node.Inputs.Count != 2 || node.Input(0) is not { } a || node.Input(1) is not { } b) return false;
        if (Model.TryGetConstant(b) is { } cb && FusionGuards.ConstantWeight(b, "operand") is null) (other, constant) = (a, cb);
        else if (Model.TryGetConstant(a) is { } ca && FusionGuards.ConstantWeight(a, "operand") is null) (other, constant) = (b, ca);
        return constant is not null;
    }

    private static MatchResult<SpatialConvMatch> MatchPerChannel(Node root, RewriteContext context)
    {
        var removed = new List<Node> { root };
        Node mul = root;
        Tensor? bias = null;
        if (root.OpType == "Add")
        {
            if (!TryConstantOperand(root, out var core, out bias)) return MatchResult.Fail($"'{root.DisplayName}' does not add a constant");
            if (Intermediate(core, root, out var why) is not { OpType: "Mul" } inner) return MatchResult.Fail(why ?? $"'{root.DisplayName}' does not add to a Mul");
            mul = inner;
            removed.Add(mul);
        }
        else if (root.Outputs[0].Uses is [{ Node: { OpType: "Add" } next }] && !root.Outputs[0].IsGraphOutput && TryConstantOperand(next, out _, out _))
            return MatchResult.Fail($"'{root.DisplayName}' is matched together with the Add '{next.DisplayName}' after it");
        if (!TryConstantOperand(mul, out var x, out var scale)) return MatchResult.Fail($"'{mul.DisplayName}' does not scale by a constant");
        int? rank = context.ShapeOf(x).Rank;
        if (rank is not (>= 3 and <= 5)) return MatchResult.Fail($"'{x.Name}' has rank {rank?.ToString() ?? "unknown"}, not 3 to 5 (NC and 1 to 3 spatial dims)");
        var channels = context.ShapeOf(x).Dims![1].Value;
        if (channels is not { } c) return MatchResult.Fail($"the channels of '{x.Name}' are unknown");
        if (!FloatElements.IsSupported(scale!.ElementType)) return MatchResult.Fail($"the scale '{scale.Name}' is not a float tensor");
        // Exactly [C, 1…] (rank − 1 dims): the form the forward rule emits; other broadcasts stay a Mul.
        long[] perChannel = [c, .. Enumerable.Repeat(1L, rank.Value - 2)];
        if (!scale.Dims.SequenceEqual(perChannel)) return MatchResult.Fail($"the scale '{scale.Name}' has shape {scale.FormatDims()}, not [{string.Join(",", perChannel)}]");
        if (bias is not null && (!bias.Dims.SequenceEqual(perChannel) || bias.ElementType != scale.ElementType))
            return MatchResult.Fail($"the bias '{bias.Name}' has shape {bias.FormatDims()}, not [{string.Join(",", perChannel)}]");
        int k = rank.Value - 2;
        var weight = WeightMath.Reshaped(scale, [c, 1, .. Enumerable.Repeat(1L, k)], scale.Name + "_depthwise");
        var convBias = bias is null ? null : WeightMath.Reshaped(bias, [c], bias.Name + "_depthwise");
        return new SpatialConvMatch(SpatialScaffold.PerChannelScale, root, x, k, c, Enumerable.Repeat(1L, k).ToArray(), weight, null, convBias, null, null, removed);
    }

    private static MatchResult<SpatialConvMatch> MatchSubsampled(Node conv, RewriteContext context)
    {
        if (conv.Input(0) is not { } input || conv.Input(1) is not { } w) return MatchResult.Fail($"'{conv.DisplayName}' lacks an input");
        var geometry = ConvGeometry.Read(conv, context.ShapeOf(w));
        if (geometry.Problem is { } problem) return MatchResult.Fail(problem);
        if (!geometry.IsPointwise) return MatchResult.Fail($"the kernel is {geometry.KernelText}, not 1x1");
        if (geometry.Strides.Any(s => s != 1) || geometry.Pads.Any(p => p != 0) || geometry.AutoPad is not (AutoPad.NotSet or AutoPad.Valid))
            return MatchResult.Fail($"'{conv.DisplayName}' already strides or pads");
        if (Intermediate(input, conv, out var why) is not { } sampler) return MatchResult.Fail(why!);
        int k = geometry.SpatialRank;
        long[]? steps = sampler.OpType switch
        {
            "Slice" => SliceSteps(sampler, k, context.Opset),
            "AveragePool" when sampler.GetInts("kernel_shape") is { } kernel && kernel.All(d => d == 1) && (sampler.GetInts("pads") ?? []).All(p => p == 0)
                && sampler.GetString("auto_pad", "NOTSET") is "NOTSET" or "VALID" => sampler.GetInts("strides") ?? Enumerable.Repeat(1L, k).ToArray(),
            _ => null,
        };
        if (steps is null || steps.Length != k) return MatchResult.Fail($"'{conv.DisplayName}' reads '{input.Name}' from a {sampler.OpType} that is not a subsampling of every spatial axis from 0 to the end");
        return new SpatialConvMatch(SpatialScaffold.Subsampled, conv, sampler.Input(0)!, k, geometry.Group, steps, null, null, null, null, conv, [sampler]);
    }

    /// <summary>The steps of a Slice from 0 to the end over exactly the spatial axes 2…k+1; null otherwise.</summary>
    private static long[]? SliceSteps(Node slice, int k, int opset)
    {
        long[]? Ints(string name) => AttrOrInput.Ints(slice, name, opset).Values;
        if (Ints("starts") is not { } starts || Ints("ends") is not { } ends || Ints("axes") is not { } axes) return null;
        long[] steps = Ints("steps") ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        if (axes.Length != k || !axes.Select((a, i) => a == i + 2).All(b => b)) return null;
        if (starts.Any(s => s != 0) || ends.Any(e => e < int.MaxValue) || steps.Any(s => s < 1)) return null;
        return steps;
    }

    public override string Describe(SpatialConvMatch match) => match.Scaffold switch
    {
        SpatialScaffold.Flattened => $"{match.SpatialRank}-D 1x1 Conv{(match.Group > 1 ? $" in {match.Group} groups" : "")} on '{match.Input.Name}' instead of {match.Removed.Count} flattening nodes",
        SpatialScaffold.PerChannelScale => $"depthwise 1x1 Conv over {match.Group} channels instead of {(match.Bias is null ? "Mul" : "Mul and Add")}",
        _ => $"1x1 Conv with strides [{string.Join(",", match.Strides)}] instead of a {match.Removed[0].OpType}",
    };

    public override void Rewrite(SpatialConvMatch match, GraphRewriter rewriter)
    {
        if (match.Strided is { } strided)
        {
            var copy = rewriter.CopyNode(strided, new Dictionary<int, Value?> { [0] = match.Input });
            copy.SetAttribute("strides", match.Strides);
            rewriter.ReplaceAllUsesWith(strided.Outputs[0], copy.Outputs[0], keepName: true);
            rewriter.RemoveNode(strided);
            rewriter.RemoveNode(match.Removed[0]);
            return;
        }
        var ops = rewriter.BuilderBefore(match.Root);
        var weight = match.Weight is { } w ? ops.Constant(w) : match.RuntimeWeight!;
        var bias = match.Bias is { } b ? ops.Constant(b) : match.RuntimeBias;
        var y = ops.Conv(match.Input, weight, bias, kernelShape: Enumerable.Repeat(1L, match.SpatialRank).ToArray(), group: match.Group);
        rewriter.ReplaceAllUsesWith(match.Root.Outputs[0], y, keepName: true);
        // Consumers first: a node goes once nothing reads it any more (shape nodes may still feed other consumers).
        var pending = match.Removed.ToList();
        for (bool progress = true; progress;)
        {
            progress = false;
            foreach (var node in pending.ToArray())
                if (node.Outputs.All(o => o.IsUnused))
                {
                    rewriter.RemoveNode(node);
                    pending.Remove(node);
                    progress = true;
                }
        }
    }
}
