using System.Text.Json.Serialization;
using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Analysis;

/// <summary>
/// The result of <see cref="Conv1x1Audit"/>. Serialised by <see cref="AuditJson"/>, it is the documented
/// JSON contract of <c>onnxconv audit --format json</c> (audit-report.schema.json beside this file).
/// </summary>
public sealed record AuditReport
{
    /// <summary>Bumped when a field changes meaning or disappears; adding fields keeps the version.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The version of this JSON contract (<see cref="CurrentSchemaVersion"/>).</summary>
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>The model path as the user gave it.</summary>
    public required string Model { get; init; }

    /// <summary>The imported version of the default ONNX domain.</summary>
    public required int Opset { get; init; }

    /// <summary>Input dims fixed with <c>--shape</c>, by input name.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<Dim>> ShapeOverrides { get; init; }

    /// <summary>
    /// Graph inputs whose symbolic or unknown leading (batch) dim was taken as 1, so MACs are per example;
    /// <c>--shape</c> on an input replaces the assumption.
    /// </summary>
    public required IReadOnlyList<string> AssumedBatchOne { get; init; }

    /// <summary>Subgraphs (by path) that never run: the other branch of an If whose condition is known. Their nodes are left out.</summary>
    public IReadOnlyList<string> BranchesNotTaken { get; init; } = [];

    /// <summary>Op types shape inference does not cover: values after them have unknown shapes.</summary>
    public required IReadOnlyList<string> UnsupportedShapeOps { get; init; }

    /// <summary>Every 1x1 Conv, in graph order (subgraphs after the node that holds them).</summary>
    public required IReadOnlyList<Conv1x1Row> Conv1x1 { get; init; }

    /// <summary>Op counts and MAC totals over the whole model.</summary>
    public required AuditTotals Totals { get; init; }

    /// <summary>
    /// Every Conv, ConvTranspose, MatMul and Gemm in graph order (each graph's nodes, subgraphs after their parent) with
    /// its MACs: the per-layer chart of the HTML report. Not serialised: one entry per op would swamp the JSON.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<LayerCost> Layers { get; init; } = [];
}

/// <summary>One Conv, ConvTranspose, MatMul or Gemm: its MACs (null when a dim is unknown) and, for a 1x1 Conv, its index in <see cref="AuditReport.Conv1x1"/>.</summary>
public sealed record LayerCost(string Node, string Graph, string OpType, long? Macs, int? Conv1x1Index);

/// <summary>One Conv whose kernel is all ones.</summary>
public sealed record Conv1x1Row
{
    /// <summary>The node itself, for callers that go on to rewrite it; not serialised.</summary>
    [JsonIgnore]
    public Node? Conv { get; init; }

    /// <summary>Node name (op type and first output when the node has no name).</summary>
    public required string Node { get; init; }

    /// <summary>Graph path: <c>main</c>, or e.g. <c>main/If_0.then_branch</c> for a subgraph.</summary>
    public required string Graph { get; init; }

    /// <summary>Spatial dimensions: 1 for Conv1D, 2 for Conv2D, 3 for Conv3D.</summary>
    public required int Rank { get; init; }

    /// <summary>C, the input channels (null when neither the weight's nor the input's shape gives them).</summary>
    public required long? InChannels { get; init; }

    /// <summary>M, the output channels.</summary>
    public required long? OutChannels { get; init; }

    /// <summary>The <c>group</c> attribute.</summary>
    public required long Group { get; init; }

    /// <summary>True when group &gt; 1 and group = C: one filter bank per input channel.</summary>
    public required bool Depthwise { get; init; }

    /// <summary>The <c>strides</c> attribute (ones when absent).</summary>
    public required IReadOnlyList<long> Strides { get; init; }

    /// <summary>Begin pads of every spatial axis, then end pads (ONNX order).</summary>
    public required IReadOnlyList<long> Pads { get; init; }

    /// <summary>The <c>dilations</c> attribute (ones when absent).</summary>
    public required IReadOnlyList<long> Dilations { get; init; }

    /// <summary>NOTSET, SAME_UPPER, SAME_LOWER or VALID.</summary>
    public required string AutoPad { get; init; }

    /// <summary>Spatial dims of the input (numbers, symbolic names, or null when unknown); null when even the rank is unknown.</summary>
    public required IReadOnlyList<Dim>? InputSpatial { get; init; }

    /// <summary>Output spatial dims (null when unknown).</summary>
    public required IReadOnlyList<Dim>? OutputSpatial { get; init; }

    /// <summary>Multiply-accumulates for the whole batch (see <see cref="AuditReport.AssumedBatchOne"/>); null when a dim is unknown or symbolic.</summary>
    public required long? Macs { get; init; }

    /// <summary>This conv's share of all Conv/ConvTranspose/MatMul/Gemm MACs (0–1); null unless every count is known.</summary>
    public required double? MacShare { get; init; }

    /// <summary>Weight elements plus bias elements; null when the weight's shape is unknown.</summary>
    public required long? Params { get; init; }

    /// <summary>Where the weight comes from: an initializer, a Constant node, or computed at run time.</summary>
    public required WeightSource Weight { get; init; }

    /// <summary>Element type of the weight (float32, float16, …), null when unknown.</summary>
    public required string? WeightType { get; init; }

    /// <summary>True when the Conv has a bias input.</summary>
    public required bool Bias { get; init; }

    /// <summary>What the 1x1 conv does in the network (expansion, projection, depthwise, ...).</summary>
    public required Conv1x1Role Role { get; init; }

    /// <summary>The role in words, e.g. "384→96, 4× fewer channels".</summary>
    public required string RoleDetail { get; init; }

    /// <summary>M / C; below 1 for a reduction, above 1 for an expansion.</summary>
    public required double? ChannelRatio { get; init; }

    /// <summary>Numerical rank of the M×C weight matrix (block-diagonal when grouped); null for a dynamic weight or when not asked for.</summary>
    public required int? WeightRank { get; init; }

    /// <summary>min(M, C): the rank a weight can have at most.</summary>
    public required long? FullRank { get; init; }

    /// <summary>True when the weight's rank is below min(C, M): the conv could be factored into two smaller ones.</summary>
    public required bool? RankDeficient { get; init; }

    /// <summary>Per rewrite rule: whether it applies to this conv, why not, or what it would do. Absent when no rule was asked.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<RewriteApplicability>? Rewrites { get; init; }

    /// <summary>
    /// Per fold rule of the catalogue: whether it would fuse this conv with a neighbour, why not, or what it would do.
    /// Absent when no fold rule was asked; an empty list when the fold set has no rules.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<RewriteApplicability>? Fusions { get; init; }

    /// <summary><c>Conv1D</c>, <c>Conv2D</c> or <c>Conv3D</c>.</summary>
    [JsonIgnore]
    public string Kind => $"Conv{Rank}D";
}

/// <summary>Counts over the whole model (every graph and subgraph).</summary>
public sealed record AuditTotals
{
    /// <summary>All Conv nodes.</summary>
    public required int Conv { get; init; }

    /// <summary>Conv nodes whose kernel is all ones (the rows).</summary>
    public required int Conv1x1 { get; init; }

    /// <summary>Conv nodes whose kernel size is unknown (no kernel_shape and a weight of unknown shape).</summary>
    public required int ConvKernelUnknown { get; init; }

    /// <summary>ConvTranspose nodes.</summary>
    public required int ConvTranspose { get; init; }
    /// <summary>MatMul nodes.</summary>
    public required int MatMul { get; init; }
    /// <summary>Gemm nodes.</summary>
    public required int Gemm { get; init; }

    /// <summary>MACs of all Conv/ConvTranspose/MatMul/Gemm nodes; null when any of them is unknown.</summary>
    public required long? Macs { get; init; }

    /// <summary>MACs of the 1x1 convolutions; null when any of them is unknown.</summary>
    public required long? Conv1x1Macs { get; init; }

    /// <summary>conv1x1Macs / macs; null unless both are known.</summary>
    public required double? Conv1x1MacShare { get; init; }

    /// <summary>Conv/ConvTranspose/MatMul/Gemm nodes whose MACs are unknown (dynamic or symbolic dims).</summary>
    public required int MacOpsUnknown { get; init; }

    /// <summary>Parameters of the 1x1 convolutions; null when any is unknown.</summary>
    public required long? Conv1x1Params { get; init; }

    /// <summary>1x1 convolutions whose weight is rank-deficient.</summary>
    public required int RankDeficient { get; init; }

    /// <summary>1x1 convolutions per role (every role listed, zero included).</summary>
    public required IReadOnlyDictionary<string, int> Roles { get; init; }
}

/// <summary>What a 1x1 convolution does with its channels.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Conv1x1Role>))]
public enum Conv1x1Role
{
    /// <summary>One input channel (every output channel is the input times one constant), or depthwise: a per-channel scale.</summary>
    [JsonStringEnumMemberName("scaling")] Scaling,
    /// <summary>Fewer output than input channels.</summary>
    [JsonStringEnumMemberName("reduction")] Reduction,
    /// <summary>More output than input channels.</summary>
    [JsonStringEnumMemberName("expansion")] Expansion,
    /// <summary>As many output as input channels: a channel mix.</summary>
    [JsonStringEnumMemberName("mixing")] Mixing,
    /// <summary>On a 1×1 spatial map (after a global pool): a fully connected layer.</summary>
    [JsonStringEnumMemberName("projection-head")] ProjectionHead,
    /// <summary>The channel counts are unknown.</summary>
    [JsonStringEnumMemberName("unknown")] Unknown,
}

/// <summary>Where a weight comes from.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WeightSource>))]
public enum WeightSource
{
    /// <summary>An initializer that no graph input can override.</summary>
    [JsonStringEnumMemberName("initializer")] Initializer,
    /// <summary>A <c>Constant</c> node.</summary>
    [JsonStringEnumMemberName("constant")] Constant,
    /// <summary>Computed at run time, or an initializer a graph input can override.</summary>
    [JsonStringEnumMemberName("dynamic")] Dynamic,
}

/// <summary>Whether a rewrite rule applies to a 1x1 conv: when not, <see cref="Reason"/>; when it does, what it would do (<see cref="Plan"/>).</summary>
public sealed record RewriteApplicability(string Rule, bool Applies, string? Reason, string? Plan);

/// <summary>A rewrite rule's applicability check, run by the audit on every 1x1 convolution (the <c>rewrites</c> field).</summary>
public interface IConv1x1RewriteCheck
{
    /// <summary>The rule's stable kebab-case id, e.g. <c>conv1x1-to-matmul</c>.</summary>
    string RuleId { get; }

    /// <summary>Must not modify the graph.</summary>
    RewriteApplicability Check(Node conv);
}

/// <summary>Options of <see cref="Conv1x1Audit.Run"/>.</summary>
public sealed record AuditOptions
{
    /// <summary>Input dims by input name (<c>--shape</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Dim>>? ShapeOverrides { get; init; }

    /// <summary>
    /// Takes a symbolic or unknown leading dim of each graph input as 1 (unless <see cref="ShapeOverrides"/> gives the
    /// input), so MACs are counted per example, as papers quote them, instead of staying unknown for a dynamic batch.
    /// </summary>
    public bool AssumeBatchOne { get; init; } = true;

    /// <summary>Computes each weight's numerical rank (an SVD per conv); off for a quick summary.</summary>
    public bool ComputeWeightRank { get; init; } = true;

    /// <summary>Weights ranked at once, each by its own worker; null: one per core.</summary>
    public int? RankWorkers { get; init; }

    /// <summary>
    /// Main-graph inputs filled with one constant (<c>--value</c>): an If whose condition they decide runs one
    /// branch, and the other branch's nodes leave the audit.
    /// </summary>
    public IReadOnlyDictionary<string, double>? InputValues { get; init; }

    /// <summary>Rules whose applicability is reported per conv; empty leaves <c>rewrites</c> out.</summary>
    public IReadOnlyList<IConv1x1RewriteCheck> RewriteChecks { get; init; } = [];

    /// <summary>Fold rules whose applicability is reported per conv (the <c>fusions</c> field); null leaves it out.</summary>
    public IReadOnlyList<IConv1x1RewriteCheck>? FusionChecks { get; init; }

    /// <summary>Told after each weight's rank, from the worker threads that compute them.</summary>
    public IProgress<WorkProgress>? Progress { get; init; }
}
