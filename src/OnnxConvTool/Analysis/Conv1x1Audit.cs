using System.Globalization;
using OnnxConvTool.Ir;
using OnnxConvTool.Numerics;
using OnnxConvTool.Onnx;
using OnnxConvTool.Ops;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Analysis;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Finds every Conv whose kernel is all ones, in every graph and subgraph, and says what each does:
/// geometry, cost, where its weight comes from, its role and the numerical rank of its weight.
/// Reads the model only; never modifies it.
/// </summary>
public static class Conv1x1Audit
{
    /// <param name="modelLabel">How the report names the model (defaults to its source path).</param>
    /// <summary>Finds every 1x1 Conv in <paramref name="model"/> (subgraphs included) and describes its geometry, cost, role, weight rank and which rewrites and fusions apply.</summary>
    /// <param name="model">The model to audit; it is not modified.</param>
    /// <param name="options">Input dims, batch assumption and rank computation (null: the defaults).</param>
    public static AuditReport Run(Model model, AuditOptions? options = null, string? modelLabel = null)
    {
        options ??= new AuditOptions();
        var overrides = options.ShapeOverrides ?? new Dictionary<string, IReadOnlyList<Dim>>();
        var assumedBatchOne = options.AssumeBatchOne ? InputsWithFreeBatch(model, overrides) : [];
        var effective = new Dictionary<string, IReadOnlyList<Dim>>(overrides, StringComparer.Ordinal);
        foreach (var input in assumedBatchOne)
            effective[input.Name] = [Dim.Known(1), .. TensorShape.FromType(input.Type).Dims!.Skip(1)];
        var shapes = ShapeInference.Run(model, effective, options.InputValues);
        var notTaken = BranchesNotTaken(model, shapes);

        int conv = 0, kernelUnknown = 0, convTranspose = 0, matMul = 0, gemm = 0, macsUnknown = 0;
        long totalMacs = 0;
        var pending = new List<(Node Node, ConvGeometry Geometry)>();
        var layers = new List<(Node Node, long? Macs)>();
        foreach (var node in model.AllNodes())
        {
            if (!CostModel.CountsMacs(node) || InBranchNotTaken(node, notTaken)) continue;
            switch (node.OpType)
            {
                case "Conv": conv++; break;
                case "ConvTranspose": convTranspose++; break;
                case "MatMul": matMul++; break;
                default: gemm++; break;
            }
            long? nodeMacs = CostModel.Macs(node, shapes);
            layers.Add((node, nodeMacs));
            if (nodeMacs is { } macs) totalMacs = checked(totalMacs + macs);
            else macsUnknown++;
            if (node.OpType != "Conv") continue;
            var geometry = ConvGeometry.Read(node, CostModel.ShapeOf(node.Input(1), shapes));
            if (geometry.Kernel is null) kernelUnknown++;
            else if (geometry.IsPointwise) pending.Add((node, geometry));
        }

        long? allMacs = macsUnknown == 0 ? totalMacs : null;
        var ranks = new NumericalRank?[pending.Count];
        if (options.ComputeWeightRank)
        {
            int ranked = 0;
            options.Progress?.Report(new WorkProgress("weight ranks", 0, pending.Count));
            ranks = WeightRanks.Compute(pending.Select(p => (p.Node.Input(1), p.Geometry.Group)).ToList(), options.RankWorkers ?? WeightRanks.DefaultWorkers,
                _ => options.Progress?.Report(new WorkProgress("weight ranks", Interlocked.Increment(ref ranked), pending.Count)));
        }
        var rows = pending.Select((p, i) => Describe(p.Node, p.Geometry, shapes, allMacs, ranks[i], options)).ToList();

        long? conv1x1Macs = rows.All(r => r.Macs is not null) ? rows.Sum(r => r.Macs!.Value) : null;
        long? conv1x1Params = rows.All(r => r.Params is not null) ? rows.Sum(r => r.Params!.Value) : null;
        var roles = Enum.GetValues<Conv1x1Role>().ToDictionary(RoleName, role => rows.Count(r => r.Role == role));
        var rowIndex = pending.Select((p, i) => (p.Node, i)).ToDictionary(p => p.Node, p => p.i);
        return new AuditReport
        {
            Model = modelLabel ?? model.SourcePath ?? "",
            Opset = model.OnnxOpset,
            ShapeOverrides = overrides,
            AssumedBatchOne = assumedBatchOne.Select(v => v.Name).ToArray(),
            BranchesNotTaken = notTaken.Select(g => g.Path).Order(StringComparer.Ordinal).ToArray(),
            UnsupportedShapeOps = shapes.UnsupportedOps.ToArray(),
            Conv1x1 = rows,
            Layers = layers.Select(l => new LayerCost(l.Node.DisplayName, l.Node.Graph.Path, l.Node.OpType, l.Macs,
                rowIndex.TryGetValue(l.Node, out int index) ? index : null)).ToArray(),
            Totals = new AuditTotals
            {
                Conv = conv,
                Conv1x1 = rows.Count,
                ConvKernelUnknown = kernelUnknown,
                ConvTranspose = convTranspose,
                MatMul = matMul,
                Gemm = gemm,
                Macs = allMacs,
                Conv1x1Macs = conv1x1Macs,
                Conv1x1MacShare = Share(conv1x1Macs, allMacs),
                MacOpsUnknown = macsUnknown,
                Conv1x1Params = conv1x1Params,
                RankDeficient = rows.Count(r => r.RankDeficient == true),
                Roles = roles,
            },
        };
    }

    /// <summary>Graph inputs whose leading (batch) dim is symbolic or unknown and that --shape does not fix.</summary>
    /// <summary>The branch each If with a known condition (a constant, or computed from --value inputs) never takes.</summary>
    private static HashSet<Graph> BranchesNotTaken(Model model, ShapeInferenceResult shapes)
    {
        var notTaken = new HashSet<Graph>();
        foreach (var node in model.AllNodes())
        {
            if (node is not { IsOnnxDomain: true, OpType: "If" } || InBranchNotTaken(node, notTaken) || node.Input(0) is not { } condition) continue;
            if (shapes.TryGetInts(condition) is not [var taken]) continue;
            if (node.Subgraphs.TryGetValue(taken != 0 ? "else_branch" : "then_branch", out var branch)) notTaken.UnionWith(branch);
        }
        return notTaken;
    }

    private static bool InBranchNotTaken(Node node, HashSet<Graph> notTaken)
    {
        for (var graph = node.Graph; graph is not null; graph = graph.Parent)
            if (notTaken.Contains(graph)) return true;
        return false;
    }

    private static List<Value> InputsWithFreeBatch(Model model, IReadOnlyDictionary<string, IReadOnlyList<Dim>> overrides) =>
        model.Graph.Inputs
            .Where(v => !v.IsInitializer && !overrides.ContainsKey(v.Name))
            .Where(v => TensorShape.FromType(v.Type).Dims is { Count: > 0 } dims && !dims[0].IsKnown)
            .ToList();

    /// <summary>The role's name in reports and JSON (kebab-case).</summary>
    public static string RoleName(Conv1x1Role role) => role switch
    {
        Conv1x1Role.ProjectionHead => "projection-head",
        _ => role.ToString().ToLowerInvariant(),
    };

    /// <summary>The JSON name of a weight source: <c>initializer</c>, <c>constant</c> or <c>dynamic</c>.</summary>
    public static string WeightSourceName(WeightSource source) => source.ToString().ToLowerInvariant();

    private static Conv1x1Row Describe(Node node, ConvGeometry geometry, ShapeInferenceResult shapes, long? allMacs,
        NumericalRank? weightRank, AuditOptions options)
    {
        var weightValue = node.Input(1);
        var weightShape = CostModel.ShapeOf(weightValue, shapes);
        var inputShape = CostModel.ShapeOf(node.Input(0), shapes);
        var outputShape = shapes.Get(node.Outputs[0]);
        int rank = geometry.SpatialRank;
        long group = geometry.Group;

        long? outChannels = geometry.OutChannels ?? Channel(outputShape);
        long? inChannels = geometry.InChannels ?? Channel(inputShape);
        var inputSpatial = Spatial(inputShape, rank);
        var outputSpatial = Spatial(outputShape, rank);

        long? macs = CostModel.Macs(node, shapes);
        var bias = node.Input(2);
        long? weightElements = weightShape.ElementCount;
        long? biasElements = bias is null ? 0 : CostModel.ShapeOf(bias, shapes).ElementCount ?? outChannels;
        long? parameters = weightElements is null || biasElements is null ? null : weightElements + biasElements;

        var source = weightValue is null ? WeightSource.Dynamic : Model.GetConstantSource(weightValue) switch
        {
            ConstantSource.Initializer => WeightSource.Initializer,
            ConstantSource.ConstantNode => WeightSource.Constant,
            _ => WeightSource.Dynamic,
        };
        var elementType = weightShape.ElementType ?? weightValue?.ElementType;

        bool depthwise = group > 1 && inChannels == group;
        bool onUnitMap = IsAllOnes(inputSpatial) || (inputSpatial is null || !inputSpatial.All(d => d.IsKnown)) && IsAllOnes(outputSpatial);
        var (role, detail) = Classify(inChannels, outChannels, group, depthwise, onUnitMap);

        return new Conv1x1Row
        {
            Conv = node,
            Node = node.DisplayName,
            Graph = node.Graph.Path,
            Rank = rank,
            InChannels = inChannels,
            OutChannels = outChannels,
            Group = group,
            Depthwise = depthwise,
            Strides = geometry.Strides,
            Pads = geometry.Pads,
            Dilations = geometry.Dilations,
            AutoPad = geometry.AutoPadText,
            InputSpatial = inputSpatial,
            OutputSpatial = outputSpatial,
            Macs = macs,
            MacShare = Share(macs, allMacs),
            Params = parameters,
            Weight = source,
            WeightType = elementType is { } t ? ElementTypes.Name(t) : null,
            Bias = bias is not null,
            Role = role,
            RoleDetail = detail,
            ChannelRatio = inChannels is > 0 && outChannels is not null ? (double)outChannels.Value / inChannels.Value : null,
            WeightRank = weightRank?.Rank,
            FullRank = (long?)weightRank?.FullRank ?? (inChannels is null || outChannels is null ? null : Math.Min(inChannels.Value, outChannels.Value)),
            RankDeficient = weightRank?.IsDeficient,
            Rewrites = options.RewriteChecks.Count == 0 ? null : options.RewriteChecks.Select(c => c.Check(node)).ToArray(),
            Fusions = options.FusionChecks?.Select(c => c.Check(node)).ToArray(),
        };
    }

    /// <summary>
    /// Scaling first (one input channel, or depthwise): the conv multiplies channels by constants and mixes
    /// nothing. Then a conv on a 1×1 map is a projection head (a fully connected layer), whatever its
    /// channel counts. Otherwise the channel counts decide: reduction, expansion or mixing.
    /// </summary>
    private static (Conv1x1Role Role, string Detail) Classify(long? c, long? m, long group, bool depthwise, bool onUnitMap)
    {
        if (c is null || m is null) return (Conv1x1Role.Unknown, "channel counts unknown");
        string channels = $"{c}→{m}";
        string groups = group > 1 && !depthwise ? $", in {group} groups" : "";
        if (c == 1 && group == 1)
            return (Conv1x1Role.Scaling, m == 1 ? "the input times one constant" : $"1 input channel times {m} constants, one per output channel");
        if (depthwise)
            return (Conv1x1Role.Scaling, m == c ? "per-channel scale (depthwise)" : $"per-channel scale, {Ratio(m.Value, c.Value)} constants per channel (depthwise)");
        if (onUnitMap)
            return (Conv1x1Role.ProjectionHead, $"{channels} on a 1×1 map: a fully connected layer{groups}");
        if (m < c) return (Conv1x1Role.Reduction, $"{channels}, {Ratio(c.Value, m.Value)}× fewer channels{groups}");
        if (m > c) return (Conv1x1Role.Expansion, $"{channels}, {Ratio(m.Value, c.Value)}× more channels{groups}");
        return (Conv1x1Role.Mixing, $"{channels}, mixes channels{groups}");
    }

    private static string Ratio(long a, long b) => ((double)a / b).ToString("0.##", CultureInfo.InvariantCulture);

    private static long? Channel(TensorShape shape) => shape.Dims is { Count: > 1 } d ? d[1].Value : null;

    private static IReadOnlyList<Dim>? Spatial(TensorShape shape, int rank) =>
        shape.Dims is { } dims && dims.Count == rank + 2 ? dims.Skip(2).ToArray() : null;

    private static bool IsAllOnes(IReadOnlyList<Dim>? dims) => dims is { Count: > 0 } && dims.All(d => d.Value == 1);

    private static double? Share(long? part, long? whole) => part is null || whole is null || whole == 0 ? null : (double)part.Value / whole.Value;
}
