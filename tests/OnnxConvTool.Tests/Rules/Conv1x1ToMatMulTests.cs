using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Oracle;
using OnnxConvTool.Tests.Rewriting;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Rules;

using DataType = TensorProto.Types.DataType;

public sealed class Conv1x1ToMatMulTests
{
    public static readonly int[] Opsets = [9, 11, 13, 17, 21];

    /// <summary>IR version 3 opsets: constants must be Constant nodes or initializers listed as inputs.</summary>
    private static readonly int[] LegacyOpsets = [7, 8];

    /// <summary>A model variant: how to build it at an opset, and the verify runs that must find it equivalent (default: one with verify's defaults).</summary>
    /// <remarks>
    /// ONNX Runtime 1.31 has no CPU Conv for double, so that variant is compared with its float twin instead: the
    /// same seeded weights and inputs in float32, at tolerances float32 arithmetic can meet.
    /// </remarks>
    internal sealed record Variant(string Name, Action<TestModelBuilder> Build, VerifyOptions[]? Runs = null, int MinOpset = 7,
        Action<TestModelBuilder>? FloatTwin = null);

    private static readonly Dictionary<string, Variant> Variants = new[]
    {
        new Variant("dense-2d-bias-batch2", b => { b.Input("x", 2, 8, 5, 7); b.Node("Relu", [b.Conv("x", 8, 6, [1, 1])], ["y"]); Out(b, "y", 4); }),
        new Variant("dense-1d-no-bias", b => { b.Input("x", 3, 8, 9); b.Node("Relu", [b.Conv("x", 8, 5, [1], bias: false)], ["y"]); Out(b, "y", 3); }),
        new Variant("dense-3d-bias", b => { b.Input("x", 2, 4, 3, 5, 2); b.Node("Relu", [b.Conv("x", 4, 6, [1, 1, 1])], ["y"]); Out(b, "y", 5); }),
        new Variant("grouped-2d", b => { b.Input("x", 2, 8, 4, 5); b.Node("Relu", [b.Conv("x", 8, 6, [1, 1], group: 2)], ["y"]); Out(b, "y", 4); }),
        new Variant("grouped-1d-no-bias", b => { b.Input("x", 2, 9, 7); b.Node("Relu", [b.Conv("x", 9, 6, [1], group: 3, bias: false)], ["y"]); Out(b, "y", 3); }),
        new Variant("depthwise-2d", b => { b.Input("x", 2, 4, 5, 3); b.Node("Relu", [b.Conv("x", 4, 4, [1, 1], group: 4)], ["y"]); Out(b, "y", 4); }),
        new Variant("depthwise-multiplier-2d", b => { b.Input("x", 2, 4, 5, 3); b.Node("Relu", [b.Conv("x", 4, 12, [1, 1], group: 4)], ["y"]); Out(b, "y", 4); }),
        new Variant("depthwise-multiplier-1d", b => { b.Input("x", 2, 3, 6); b.Node("Relu", [b.Conv("x", 3, 6, [1], group: 3, bias: false)], ["y"]); Out(b, "y", 3); }),
        new Variant("stride-2", b => { b.Input("x", 2, 4, 7, 6); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: Attr.Ints("strides", 2, 2))], ["y"]); Out(b, "y", 4); }),
        new Variant("stride-and-pads", b => { b.Input("x", 1, 4, 7, 6); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: [Attr.Ints("strides", 2, 3), Attr.Ints("pads", 1, 0, 2, 1)])], ["y"]); Out(b, "y", 4); }),
        new Variant("pads-bias-at-border", b => { b.Input("x", 1, 3, 4, 4); b.Node("Relu", [b.Conv("x", 3, 4, [1, 1], attributes: Attr.Ints("pads", 1, 2, 1, 0))], ["y"]); Out(b, "y", 4); }),
        new Variant("pads-depthwise-3d", b => { b.Input("x", 1, 3, 2, 3, 2); b.Node("Relu", [b.Conv("x", 3, 3, [1, 1, 1], group: 3, attributes: Attr.Ints("pads", 0, 1, 0, 1, 0, 1))], ["y"]); Out(b, "y", 5); }),
        new Variant("same-upper-stride-2-dynamic", b => { b.Input("x", "N", 4, "H", "W"); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: [Attr.Ints("strides", 2, 2), Attr.String("auto_pad", "SAME_UPPER")])], ["y"]); Out(b, "y", 4); }),
        new Variant("same-lower-stride-2-dynamic", b => { b.Input("x", "N", 4, "H", "W"); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: [Attr.Ints("strides", 2, 2), Attr.String("auto_pad", "SAME_LOWER")])], ["y"]); Out(b, "y", 4); }),
        new Variant("same-upper-stride-3-static", b => { b.Input("x", 1, 4, 7, 8); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: [Attr.Ints("strides", 3, 3), Attr.String("auto_pad", "SAME_UPPER")])], ["y"]); Out(b, "y", 4); }),
        new Variant("same-lower-stride-4-static", b => { b.Input("x", 1, 4, 9, 5); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: [Attr.Ints("strides", 4, 4), Attr.String("auto_pad", "SAME_LOWER")])], ["y"]); Out(b, "y", 4); }),
        new Variant("valid-stride-2", b => { b.Input("x", 1, 4, 7, 7); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: [Attr.Ints("strides", 2, 2), Attr.String("auto_pad", "VALID")])], ["y"]); Out(b, "y", 4); }),
        new Variant("dilations-ignored", b => { b.Input("x", 1, 4, 5, 5); b.Node("Relu", [b.Conv("x", 4, 5, [1, 1], attributes: Attr.Ints("dilations", 2, 3))], ["y"]); Out(b, "y", 4); }),
        new Variant("dynamic-dims", b => { b.Input("x", "N", 6, "H", "W"); b.Node("Relu", [b.Conv("x", 6, 4, [1, 1])], ["y"]); Out(b, "y", 4); },
            [new(), new() { Shapes = new Dictionary<string, IReadOnlyList<Dim>> { ["x"] = [Dim.Symbolic("N"), Dim.Known(6), Dim.Known(1), Dim.Symbolic("W")] } }]),
        new Variant("downstream-flatten-and-reshape", b =>
        {
            b.Input("x", 2, 4, 3, 3);
            var c = b.Conv("x", 4, 6, [1, 1]);
            b.Node("Flatten", [c], ["f"], Attr.Int("axis", 1));
            b.Node("Reshape", [c, b.Initializer(TestModelBuilder.Int64Tensor("rs", [3], [0, 6, -1]))], ["r"]);
            Out(b, "f", 2);
            Out(b, "r", 3);
        }),
        new Variant("conv-output-is-graph-output", b => { b.Input("x", 2, 4, 3, 3); b.Node("Conv", ["x", b.RandomInitializer("w", [5, 4, 1, 1]), b.RandomInitializer("bias", [5])], ["y"], Attr.Ints("kernel_shape", 1, 1)); Out(b, "y", 4); }),
        new Variant("constant-node-weights", b => { b.Input("x", 2, 4, 3, 3); b.Node("Relu", [b.Conv("x", 4, 6, [1, 1], storage: WeightStorage.ConstantNode)], ["y"]); Out(b, "y", 4); }),
        new Variant("weight-initializer-also-input", b => { b.Input("x", 2, 4, 3, 3); b.Node("Relu", [b.Conv("x", 4, 6, [1, 1], storage: WeightStorage.GraphInput)], ["y"]); Out(b, "y", 4); }),
        new Variant("dynamic-weight-graph-input", b =>
        {
            b.Input("x", 2, 4, 3, 3);
            b.Input("w", 6, 4, 1, 1);
            b.Node("Conv", ["x", "w"], ["c"], Attr.Ints("kernel_shape", 1, 1));
            b.Node("Relu", ["c"], ["y"]);
            Out(b, "y", 4);
        }),
        new Variant("dynamic-weight-grouped", b =>
        {
            b.Input("x", 2, 4, 3, 3);
            b.Input("w", 6, 2, 1, 1);
            b.Input("bias", 6);
            b.Node("Conv", ["x", "w", "bias"], ["y"], Attr.Ints("kernel_shape", 1, 1), Attr.Int("group", 2));
            Out(b, "y", 4);
        }),
        new Variant("no-kernel-shape-attribute", b => { b.Input("x", 2, 4, 3, 3); b.Node("Conv", ["x", b.RandomInitializer("w", [3, 4, 1, 1])], ["y"]); Out(b, "y", 4); }),
        new Variant("shared-weight", b =>
        {
            b.Input("x", 2, 4, 3, 3);
            var w = b.RandomInitializer("w", [4, 4, 1, 1]);
            b.Node("Conv", ["x", w], ["c1"], Attr.Ints("kernel_shape", 1, 1));
            b.Node("Conv", ["c1", w], ["c2"], Attr.Ints("kernel_shape", 1, 1));
            b.Node("Identity", [w], ["wout"]);
            Out(b, "c2", 4);
            Out(b, "wout", 4);
        }),
        new Variant("float16", b => Typed(b, DataType.Float16)),
        new Variant("double", b => Typed(b, DataType.Double), FloatTwin: b => Typed(b, DataType.Float)),
        new Variant("inside-if-branches", BuildIf, [new() { Values = new Dictionary<string, double> { ["cond"] = 1 } }, new() { Values = new Dictionary<string, double> { ["cond"] = 0 } }], MinOpset: 11),
    }.ToDictionary(v => v.Name);

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var v in Variants.Values)
            foreach (int opset in LegacyOpsets.Concat(Opsets))
                if (opset >= v.MinOpset) data.Add(v.Name, opset);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void RewritesEveryVariantToAnEquivalentModelWithoutPointwiseConv(string variant, int opset)
    {
        var v = Variants[variant];
        var builder = new TestModelBuilder(opset, seed: variant.GetHashCode() & 0xFFFF);
        v.Build(builder);
        var (before, after, result) = RewriteHarness.ToMatMul(builder);

        int convsBefore = RewriteHarness.PointwiseConvCount(before);
        Assert.True(convsBefore > 0);
        Assert.Equal(0, RewriteHarness.PointwiseConvCount(after));
        Assert.Equal(convsBefore, result.AppliedCount);
        Assert.All(result.Outcomes, o => Assert.Equal(CandidateStatus.Applied, o.Status));
        if (v.FloatTwin is not null)
        {
            var twin = new TestModelBuilder(opset, seed: variant.GetHashCode() & 0xFFFF);
            v.FloatTwin(twin);
            // The float32 reference rounds at 1e-7 relative; over these short dot products 1e-5 / 1e-6 is its margin.
            Equivalence.AssertCloseToFloatTwin(twin.ToIr(), after, rtol: 1e-5, atol: 1e-6);
        }
        else
        {
            foreach (var options in v.Runs ?? [new VerifyOptions()]) Equivalence.AssertEquivalent(before, after, options);
        }
        // The builder's IR 3 models keep initializers out of the inputs, which that IR forbids; only judge the
        // rewrite where the original itself passes the checker.
        if (before.IrVersion >= 4 || PythonOracle.Check(before).Outcome != OnnxCheckOutcome.Invalid) PythonOracle.AssertValid(after);
    }

    public static TheoryData<string, int> RoundTripCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var v in Variants.Values)
            // Not IR 3 (opsets 7, 8): there the shapes the forward rule emits are initializers listed as graph inputs,
            // which a caller may override, so the reshapes around the channel map must stay.
            foreach (int opset in new[] { 9, 11, 13, 17, 21 })
                if (opset >= v.MinOpset) data.Add(v.Name, opset);
        return data;
    }

    /// <summary>
    /// <c>rewrite --to matmul</c> then <c>rewrite --to conv</c> gives the op counts <c>rewrite --to conv</c> gives on the
    /// original: the Conv comes back whole, with no flattening reshapes, subsampling or pads left around it.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(RoundTripCases))]
    public void RoundTripThroughMatMulRestoresTheSpatialConv(string variant, int opset)
    {
        var v = Variants[variant];
        var builder = new TestModelBuilder(opset, seed: 17);
        v.Build(builder);
        var direct = builder.ToIr();
        var toConv = new RewriteOptions { Fixpoint = true, ValidateAfterEachRewrite = true };
        RewriteDriver.Run(direct, RuleCatalog.ForTarget(RewriteTarget.Conv), toConv);
        var (before, roundTrip, _) = RewriteHarness.ToMatMul(builder);
        var back = RewriteDriver.Run(roundTrip, RuleCatalog.ForTarget(RewriteTarget.Conv), toConv);
        Assert.True(Counts(direct) == Counts(roundTrip),
            $"--to conv on the original: {Counts(direct)}\nafter the round trip: {Counts(roundTrip)}\n"
            + string.Join("\n", back.Outcomes.Where(o => o.Status != CandidateStatus.Applied).Select(o => $"{o.RuleId} {o.NodeName}: {o.Detail}")));
        if (opset == 13 && v.FloatTwin is null)
            foreach (var options in v.Runs ?? [new VerifyOptions()]) Equivalence.AssertEquivalent(before, roundTrip, options);
    }

    /// <summary>
    /// Conv1Ds inside If branches on a value whose rank inference cannot derive (the graph input declares no shape): the
    /// forward rule declares the rank each Conv proved in a value_info, which is saved with the model, so
    /// <c>rewrite --to conv</c> of the saved MatMul form restores both Convs.
    /// </summary>
    [SkippableFact]
    public void RoundTripRestoresConv1DsInsideIfBranchesWhoseInputRankOnlyTheConvProves()
    {
        var b = new TestModelBuilder(13, seed: 5);
        b.Input("x", DataType.Float, null!);
        b.Input("flag", DataType.Bool);
        TestModelBuilder Branch(string name)
        {
            var branch = b.Subgraph(name);
            branch.Output(branch.Conv(branch.Relu("x"), 4, 3, [1]), DataType.Float, "n", 3, "l");
            return branch;
        }
        b.Output(b.If("flag", Branch("then"), Branch("else"))[0], DataType.Float, "n", 3, "l");
        var direct = b.ToIr();
        var toConv = new RewriteOptions { Fixpoint = true, ValidateAfterEachRewrite = true };
        RewriteDriver.Run(direct, RuleCatalog.ForTarget(RewriteTarget.Conv), toConv);

        var (before, matMul, _) = RewriteHarness.ToMatMul(b);
        Assert.Equal(0, RewriteHarness.PointwiseConvCount(matMul));
        var saved = ModelReader.Build(ModelWriter.ToProto(matMul), "saved.onnx", ".");
        var back = RewriteDriver.Run(saved, RuleCatalog.ForTarget(RewriteTarget.Conv), toConv);
        Assert.True(Counts(direct) == Counts(saved), $"{Counts(direct)}\n{Counts(saved)}\n"
            + string.Join("\n", back.Outcomes.Where(o => o.Status != CandidateStatus.Applied).Select(o => $"{o.NodeName}: {o.Detail}")));
        Assert.Equal(2, RewriteHarness.PointwiseConvCount(saved));
        var shapes = new Dictionary<string, IReadOnlyList<Dim>> { ["x"] = [Dim.Known(2), Dim.Known(4), Dim.Known(5)] };
        foreach (double flag in new[] { 0.0, 1.0 })
            Equivalence.AssertEquivalent(before, saved, new VerifyOptions { Shapes = shapes, Values = new Dictionary<string, double> { ["flag"] = flag } });
    }

    /// <summary>Op counts without Constant nodes: the forward rule stores weights it rearranges as initializers, whatever held them before.</summary>
    private static string Counts(Model model) =>
        string.Join(", ", RewriteHarness.OpCounts(model).Where(p => p.Key != "Constant").OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"));

    /// <summary>An output of known rank with symbolic dims (the checker wants a shape on graph outputs).</summary>
    private static void Out(TestModelBuilder b, string name, int rank) =>
        b.Output(name, DataType.Float, Enumerable.Range(0, rank).Select(i => (object)$"{name}_d{i}").ToArray());

    private static void Typed(TestModelBuilder b, DataType type)
    {
        b.Input("x", type, 2, 4, 3, 3);
        b.Node("Relu", [b.Conv("x", 4, 6, [1, 1], group: 2, type: type, attributes: Attr.Ints("pads", 0, 1, 0, 1))], ["y"]);
        b.Output("y", type, 2, 6, 3, 5);
    }

    private static void BuildIf(TestModelBuilder b)
    {
        b.Input("x", 2, 4, 3, 3);
        b.Input("cond", DataType.Bool);
        var outerW = b.RandomInitializer("outer_w", [5, 4, 1, 1]);
        var outerB = b.RandomInitializer("outer_b", [5]);

        GraphProto Branch(string name, bool ownWeights)
        {
            var g = new GraphProto { Name = name };
            string w = outerW, bias = outerB;
            if (ownWeights)
            {
                w = $"{name}_w";
                bias = $"{name}_b";
                g.Initializer.Add(b.RandomTensor(w, [5, 4, 1, 1]));
                g.Initializer.Add(b.RandomTensor(bias, [5]));
            }
            var conv = new NodeProto { OpType = "Conv", Name = $"{name}_conv" };
            conv.Input.AddRange(["x", w, bias]);
            conv.Output.Add($"{name}_y");
            conv.Attribute.Add(Attr.Ints("kernel_shape", 1, 1));
            g.Node.Add(conv);
            g.Output.Add(TestModelBuilder.ValueInfo($"{name}_y", DataType.Float, [2, 5, 3, 3]));
            return g;
        }
        b.Node("If", ["cond"], ["y"], Attr.Graph("then_branch", Branch("then", ownWeights: false)), Attr.Graph("else_branch", Branch("else", ownWeights: true)));
        b.Output("y", DataType.Float, 2, 5, 3, 3);
    }
}
