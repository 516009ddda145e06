using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Rules.Folds;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Rewriting;

namespace OnnxConvTool.Tests.Rules.Folds;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// <c>fold-constants</c>: each op it evaluates, at the opsets where its form or semantics differ, checked against
/// ONNX Runtime computing the same node at run time; and each refusal with its sentence.
/// </summary>
public sealed class FoldConstantsTests
{
    private static readonly long[] Matrix = [2, 3];

    /// <summary>
    /// A model that computes <c>y</c> from constants with <paramref name="build"/> (which returns the value to
    /// output), passes it through an Identity to the graph output, and also outputs <c>x + x</c> so it has an input.
    /// </summary>
    private static TestModelBuilder Computing(int opset, DataType outputType, int outputRank, Func<TestModelBuilder, string> build)
    {
        var b = new TestModelBuilder(opset, seed: 61);
        b.Input("x", 2L, 3L);
        b.Node("Add", ["x", "x"], ["z"]);
        b.Output("z", DataType.Float, 2, 3);
        b.Node("Identity", [build(b)], ["y"]);
        FoldHarness.Output(b, "y", outputRank, outputType);
        return b;
    }

    private static string Floats(TestModelBuilder b, string name, long[] dims, params double[] values) =>
        b.Initializer(TestModelBuilder.TensorOf(name, dims, values));

    private static string Ints(TestModelBuilder b, string name, params long[] values) =>
        b.ConstantNode(TestModelBuilder.Int64Tensor(name, [values.Length], values));

    /// <summary>Folds with the rule alone as every fold test does (<see cref="FoldHarness.AssertFolds"/>: <paramref name="folds"/> applied, ORT equivalence, the checker) and asserts no node but the Identity and the Add is left.</summary>
    private static Model AssertFolds(TestModelBuilder builder, int folds)
    {
        var (after, _, _) = FoldHarness.AssertFolds(builder, [new FoldConstants()], folds);
        Assert.Equal(["Add", "Identity"], after.Graph.Nodes.Where(n => n.OpType != "Constant").Select(n => n.OpType).Order());
        return after;
    }

    /// <summary>The rule refuses the one <paramref name="opType"/> node with a sentence ending in <paramref name="reasonEnd"/> (node names are generated) and changes nothing.</summary>
    private static void AssertRefuses(TestModelBuilder builder, string opType, string reasonEnd)
    {
        var model = builder.ToIr();
        int nodes = model.Graph.Nodes.Count;
        var outcome = Assert.Single(RewriteDriver.Run(model, [new FoldConstants()]).Outcomes, o => o.OpType == opType);
        Assert.Equal(CandidateStatus.NotApplicable, outcome.Status);
        Assert.EndsWith(reasonEnd, outcome.Detail, StringComparison.Ordinal);
        Assert.Equal(nodes, model.Graph.Nodes.Count);
    }

    private static Tensor Folded(Model model) => model.Graph.Nodes.Single(n => n.OpType == "Identity").Inputs[0]!.Initializer!;

    [SkippableTheory]
    [InlineData(11)]
    [InlineData(13)]
    public void GathersWithNegativeIndicesAndUnsqueezesInBothAxesForms(int opset)
    {
        var folded = Folded(AssertFolds(Computing(opset, DataType.Float, 4, b =>
        {
            string data = Floats(b, "data", Matrix, 1, 2, 3, 4, 5, 6);
            string gathered = b.Node("Gather", [data, b.ConstantNode(TestModelBuilder.Int64Tensor("idx", [2], [-1, 0]))], Attr.Int("axis", 1));
            return opset < 13
                ? b.Node("Unsqueeze", [gathered], Attr.Ints("axes", 0, -1))
                : b.Node("Unsqueeze", [gathered, Ints(b, "axes", 0, -1)]);
        }), folds: 2));
        Assert.Equal([1L, 2, 2, 1], folded.Dims);
        Assert.Equal([3.0, 1, 6, 4], folded.ToDoubleArray());
    }

    [SkippableTheory]
    [InlineData(11, true)]
    [InlineData(13, true)]
    [InlineData(13, false)]
    public void SqueezesGivenAxesOrEveryUnitAxis(int opset, bool withAxes)
    {
        var folded = Folded(AssertFolds(Computing(opset, DataType.Float, 2, b =>
        {
            string data = Floats(b, "data", [1, 2, 1, 3], 1, 2, 3, 4, 5, 6);
            return !withAxes ? b.Node("Squeeze", [data])
                : opset < 13 ? b.Node("Squeeze", [data], Attr.Ints("axes", 0, -2))
                : b.Node("Squeeze", [data, Ints(b, "axes", 0, -2)]);
        }), folds: 1));
        Assert.Equal(Matrix, folded.Dims);
    }

    [SkippableTheory]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(13)]
    public void SlicesWithTheAttributeFormOrClampedNegativeStepInputs(int opset)
    {
        var folded = Folded(AssertFolds(Computing(opset, DataType.Float, 2, b =>
        {
            string data = Floats(b, "data", [3, 4], Enumerable.Range(0, 12).Select(i => (double)i).ToArray());
            if (opset < 10) return b.Node("Slice", [data], Attr.Ints("starts", 1, -3), Attr.Ints("ends", 1000, -1), Attr.Ints("axes", 0, 1));
            return b.Node("Slice", [data, Ints(b, "starts", -1, long.MaxValue), Ints(b, "ends", 0, -1000), Ints(b, "axes", 0, -1), Ints(b, "steps", -2, -3)]);
        }), folds: 1));
        if (opset < 10) Assert.Equal([5.0, 6, 9, 10], folded.ToDoubleArray());
        else Assert.Equal([11.0, 8], folded.ToDoubleArray());
    }

    [SkippableTheory]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(18)]
    public void SplitsByAttributeInputOrUnevenNumOutputsAndConcatenatesOnANegativeAxis(int opset)
    {
        var folded = Folded(AssertFolds(Computing(opset, DataType.Float, 2, b =>
        {
            string data = Floats(b, "data", [2, 5], Enumerable.Range(0, 10).Select(i => (double)i).ToArray());
            string[] parts = opset switch
            {
                < 13 => b.Node("Split", [data], ["p0", "p1"], Attr.Int("axis", 1), Attr.Ints("split", 3, 2)),
                < 18 => b.Node("Split", [data, Ints(b, "split", 3, 2)], ["p0", "p1"], Attr.Int("axis", -1)),
                _ => b.Node("Split", [data], ["p0", "p1"], Attr.Int("axis", 1), Attr.Int("num_outputs", 2)),
            };
            return b.Node("Concat", [parts[1], parts[0]], Attr.Int("axis", -1));
        }), folds: 2));
        Assert.Equal([3.0, 4, 0, 1, 2, 8, 9, 5, 6, 7], folded.ToDoubleArray());
    }

    [SkippableFact]
    public void ReshapesWithCopiedAndInferredDimsAndTransposes()
    {
        var folded = Folded(AssertFolds(Computing(13, DataType.Float, 3, b =>
        {
            string data = Floats(b, "data", [2, 3, 2], Enumerable.Range(0, 12).Select(i => (double)i).ToArray());
            string reshaped = b.Node("Reshape", [data, Ints(b, "shape", 0, -1, 1)]);
            return b.Node("Transpose", [reshaped], Attr.Ints("perm", 1, 0, 2));
        }), folds: 2));
        Assert.Equal([6L, 2, 1], folded.Dims);
        Assert.Equal([0.0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11], folded.ToDoubleArray());
    }

    [SkippableTheory]
    [InlineData(DataType.Int32)]
    [InlineData(DataType.Bool)]
    [InlineData(DataType.Float16)]
    public void CastsTruncateTowardZeroRoundOnceAndTestForZero(DataType to)
    {
        var folded = Folded(AssertFolds(Computing(13, to, 1, b =>
            b.Node("Cast", [Floats(b, "data", [5], -2.7, 0, 0.5, 100.9, 65519.9)], Attr.Int("to", (long)to))), folds: 1));
        Assert.Equal(to, folded.ElementType);
        double[] expected = to switch
        {
            DataType.Bool => [1, 0, 1, 1, 1],
            DataType.Float16 => [-2.69921875, 0, 0.5, 100.875, 65504],
            _ => [-2, 0, 0, 100, 65519],
        };
        Assert.Equal(expected, folded.ToDoubleArray());
    }

    [SkippableFact]
    public void CastsIntegersDownByWrapping()
    {
        var folded = Folded(AssertFolds(Computing(13, DataType.Int8, 1, b =>
            b.Node("Cast", [Ints(b, "data", 127, 128, -129, 300)], Attr.Int("to", (long)DataType.Int8))), folds: 1));
        Assert.Equal([127L, -128, 127, 44], folded.ToInt64Array());
    }

    [SkippableFact]
    public void FoldsShapeArithmeticOfAStaticShapeIntoConstantOfShapeAndRange()
    {
        var folded = Folded(AssertFolds(Computing(15, DataType.Int64, 2, b =>
        {
            string shape = b.Node("Shape", ["x"], Attr.Int("start", -1));
            string size = b.Node("Size", ["x"]);
            string range = b.Node("Range", [b.ConstantNode(TestModelBuilder.Int64Tensor("r0", [], [10])), size,
                b.ConstantNode(TestModelBuilder.Int64Tensor("r1", [], [-3]))]);
            string rows = b.Node("Concat", [Ints(b, "two", 2), shape], Attr.Int("axis", 0));
            string filled = b.Node("ConstantOfShape", [rows], Attr.Tensor("value", TestModelBuilder.Int64Tensor("", [1], [7])));
            string empty = b.Node("Size", [range]);
            return b.Node("Add", [filled, empty]);
        }), folds: 7));
        Assert.Equal([2L, 3], folded.Dims);
        Assert.All(folded.ToInt64Array(), v => Assert.Equal(9, v));
    }

    [SkippableFact]
    public void ComputesBroadcastArithmeticInTheElementTypeAndReportsItsDeviation()
    {
        var model = Computing(13, DataType.Float, 2, b =>
        {
            string a = Floats(b, "a", Matrix, 1, 2, 3, 4, 5, 6);
            string c = Floats(b, "c", [3], 0.1, 0.2, 0.3);
            string sum = b.Node("Add", [a, c]);
            string scaled = b.Node("Mul", [sum, Floats(b, "s", [], 3)]);
            string shifted = b.Node("Sub", [scaled, Floats(b, "t", [2, 1], 1, 2)]);
            return b.Node("Div", [shifted, Floats(b, "d", [], 7)]);
        });
        var after = model.ToIr();
        var result = RewriteDriver.Run(after, [new FoldConstants()], new RewriteOptions { Fixpoint = true });
        Assert.Equal(4, result.AppliedCount);
        Assert.All(result.Outcomes.Where(o => o.Status == CandidateStatus.Applied), o => Assert.InRange(o.DeviationUlps!.Value, 0, 0.5));
        Equivalence.AssertEquivalent(model.ToIr(), after, new() { Rtol = 0, Atol = 0 });
    }

    [SkippableFact]
    public void DividesIntegersTowardZeroAndComparesAndNegates()
    {
        var folded = Folded(AssertFolds(Computing(13, DataType.Bool, 1, b =>
        {
            string q = b.Node("Div", [Ints(b, "n", -7, 7, 6), Ints(b, "d", 2, -2, 3)]);
            return b.Node("Not", [b.Node("Equal", [q, Ints(b, "e", -3, -4, 2)])]);
        }), folds: 3));
        Assert.Equal([0L, 1, 0], folded.ToInt64Array());
    }

    [SkippableFact]
    public void RefusesAResultAboveTheSizeCap()
    {
        var b = Computing(13, DataType.Float, 2, b => b.Node("ConstantOfShape", [Ints(b, "shape", 1025, 1024)]));
        AssertRefuses(b, "ConstantOfShape",
            "' would store 1,049,600 elements, more than the 1,048,576 a constant fold may write");
        var huge = Computing(13, DataType.Float, 2, b => b.Node("ConstantOfShape", [Ints(b, "shape", 1L << 40, 1L << 40)]));
        AssertRefuses(huge, "ConstantOfShape", "' would store more than the 1,048,576 elements a constant fold may write");
    }

    [SkippableFact]
    public void RefusesAnInitializerAGraphInputOverridesUnlessAskedTo()
    {
        var b = new TestModelBuilder(8, seed: 61, irVersion: 3);
        b.Input("w", 2L);
        b.Initializer(TestModelBuilder.TensorOf("w", [2], [1, 2]));
        b.Node("Add", ["w", b.Initializer(TestModelBuilder.TensorOf("one", [2], [1, 1]))], ["s"]);
        b.Node("Identity", ["s"], ["y"]);
        b.Output("y", DataType.Float, 2);
        FoldHarness.AssertRefuses(b, new FoldConstants(), "Add",
            "the input 'w' is also a graph input, so a caller may override it (IR < 4 lists initializers as inputs; folding those must be asked for explicitly)");
        var model = b.ToIr();
        var result = RewriteDriver.Run(model, [new FoldConstants()], new RewriteOptions { FoldOverridableInitializers = true });
        Assert.Equal(1, result.AppliedCount);
    }

    [SkippableFact]
    public void RefusesTheShapeOfAValueWhoseDimsAreNotKnown()
    {
        var b = new TestModelBuilder(13, seed: 61);
        b.Input("x", "N", 3L);
        b.Node("Shape", ["x"], ["s"]);
        b.Node("Identity", ["s"], ["y"]);
        b.Output("y", DataType.Int64, 1);
        FoldHarness.AssertRefuses(b, new FoldConstants(), "Shape",
            "the shape of 'x' is not known ahead of time (the input 'x' is computed at run time, not a constant)");
    }

    [SkippableFact]
    public void RefusesAnIntegerDivisionByZeroAndIgnoresNodesReadingRunTimeValues()
    {
        var b = new TestModelBuilder(13, seed: 61);
        b.Node("Div", [b.ConstantNode(TestModelBuilder.Int64Tensor("n", [1], [1])), b.ConstantNode(TestModelBuilder.Int64Tensor("d", [1], [0]))], ["q"]);
        b.Node("Identity", ["q"], ["y"]);
        b.Output("y", DataType.Int64, 1);
        AssertRefuses(b, "Div", "' divides an integer by zero");

        var output = new TestModelBuilder(13, seed: 61);
        output.Node("Neg", [output.ConstantNode(TestModelBuilder.Int64Tensor("n", [1], [1]))], ["m"]);
        output.Node("Unsqueeze", ["m", output.ConstantNode(TestModelBuilder.Int64Tensor("a", [1], [0]))], ["y"]);
        output.Output("y", DataType.Int64, 2);
        var reading = output.ToIr();
        var outcomes = RewriteDriver.Run(reading, [new FoldConstants()], new RewriteOptions { Fixpoint = true }).Outcomes;
        Assert.DoesNotContain(outcomes, o => o.OpType == "Unsqueeze");
        Assert.Equal(4, reading.Graph.Nodes.Count);
    }

    [SkippableFact]
    public void KeepsANodeThatNamesAGraphOutput()
    {
        var b = new TestModelBuilder(13, seed: 61);
        b.Node("Unsqueeze", [b.ConstantNode(TestModelBuilder.Int64Tensor("n", [1], [1])), b.ConstantNode(TestModelBuilder.Int64Tensor("a", [1], [0]))], ["y"]);
        b.Output("y", DataType.Int64, 2);
        FoldHarness.AssertRefuses(b, new FoldConstants(), "Unsqueeze", "'y' is a graph output, so the node that names it stays");
    }

    [SkippableFact]
    public void TheFoldSetStartsWithIt() =>
        Assert.Equal(FoldConstants.RuleId, RuleCatalog.Set(RuleCatalog.FoldSet)[0].Id);
}
