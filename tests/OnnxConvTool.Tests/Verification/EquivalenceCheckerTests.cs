using System.Text.Json;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

public sealed class EquivalenceCheckerTests
{
    private static readonly VerifyOptions Defaults = new();

    private static VerificationReport Verify(TestModelBuilder reference, TestModelBuilder candidate, VerifyOptions? options = null) =>
        EquivalenceChecker.Verify(reference.Ir("reference.onnx"), candidate.Ir("candidate.onnx"), options ?? Defaults);

    [Fact]
    public void AModelIsEquivalentToAnIdenticalCopy()
    {
        var report = Verify(SmallModels.ConvNet(), SmallModels.ConvNet());
        Assert.True(report.Equivalent, report.RenderText());
        Assert.Equal(ExitCode.Ok, report.ExitCode);
        // Three random trials, then the edge-value trial (batch 4, square 64×64).
        Assert.Equal(["random", "random", "random", "edge values"], report.Trials.Select(t => t.Source));
        Assert.True(report.ComparedElements > 0);
        Assert.All(report.Trials, t => Assert.Equal(0, t.Outputs.Single().MaxAbsError));
        Assert.Equal(4, report.Trials.Select(t => string.Join(",", t.FreeDims.Values)).Distinct().Count());
        Assert.Equal(new Dictionary<string, long> { ["N"] = 4, ["H"] = 64, ["W"] = 64 }, report.Trials[^1].FreeDims);
        Assert.All(report.Trials, t => Assert.Equal(t.FreeDims["N"], t.Inputs.Single().Shape[0]));
    }

    [Fact]
    public void APerturbationOf1e3RelativeInOneWeightIsCaught()
    {
        var report = Verify(SmallModels.ConvNet(), SmallModels.ConvNet().Perturb("conv.weight", 1e-3));
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        Assert.Contains(report.Problems, p => p.Contains("output 'y'") && p.Contains("elements outside"));
        Assert.All(report.Trials, t => Assert.True(t.Outputs.Single().MaxRelError > 1e-4));
    }

    [Fact]
    public void AChangedOutputShapeIsCaught()
    {
        var candidate = SmallModels.ConvNet();
        candidate.Graph.Node[^1].Output[0] = "relu";
        candidate.Node("Flatten", ["relu"], ["y"]);
        var report = Verify(SmallModels.ConvNet(), candidate);
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        Assert.Contains("shape differs", report.Problems[0]);
    }

    [Fact]
    public void SwappedOutputsAreCaughtWhetherValuesOrPositionsAreSwapped()
    {
        var swappedValues = SmallModels.ConvNet(twoOutputs: true);
        swappedValues.Graph.Node.Single(n => n.OpType == "Relu").Output[0] = "z";
        swappedValues.Graph.Node.Single(n => n.OpType == "Sigmoid").Output[0] = "y";
        var values = Verify(SmallModels.ConvNet(twoOutputs: true), swappedValues);
        Assert.Equal(ExitCode.VerificationFoundDifference, values.ExitCode);
        Assert.Contains(values.Problems, p => p.Contains("output 'y'"));
        Assert.Contains(values.Problems, p => p.Contains("output 'z'"));

        var swappedPositions = SmallModels.ConvNet(twoOutputs: true);
        (swappedPositions.Graph.Output[0], swappedPositions.Graph.Output[1]) = (swappedPositions.Graph.Output[1].Clone(), swappedPositions.Graph.Output[0].Clone());
        var positions = Verify(SmallModels.ConvNet(twoOutputs: true), swappedPositions);
        Assert.Equal(ExitCode.VerificationFoundDifference, positions.ExitCode);
        Assert.Contains("the outputs are in a different order: reference (y, z), candidate (z, y)", positions.Problems);
        Assert.All(positions.Trials, t => Assert.All(t.Outputs, o => Assert.True(o.Passed)));
    }

    [Fact]
    public void ANanAppearingIsCaught()
    {
        // y = Relu(f) + 0·Log(f): equal where f > 0, NaN where f ≤ 0.
        var candidate = SmallModels.ConvNet();
        candidate.Graph.Node[^1].Output[0] = "relu";
        var log = candidate.Node("Log", ["features"]);
        var zero = candidate.Initializer(TestModelBuilder.TensorOf("zero", [], [0]));
        var masked = candidate.Node("Mul", [log, zero]);
        candidate.Node("Add", ["relu", masked], ["y"]);
        var report = Verify(SmallModels.ConvNet(), candidate);
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        var output = report.Trials[0].Outputs.Single();
        Assert.True(output.NanInfMismatches > 0);
        Assert.Equal(0, output.Mismatches);
        Assert.Null(output.SmallestPassingAtol);
        Assert.Contains("NaN/Inf mismatches", report.Problems[0]);
    }

    [Fact]
    public void MissingAndExtraOutputsAreDifferences()
    {
        var report = Verify(SmallModels.ConvNet(twoOutputs: true), SmallModels.ConvNet());
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        Assert.Contains("output 'z' of the reference is missing from the candidate", report.Problems);
        var extra = Verify(SmallModels.ConvNet(), SmallModels.ConvNet(twoOutputs: true));
        Assert.Contains("the candidate has an extra output 'z'", extra.Problems);
    }

    [Fact]
    public void ACandidateThatFailsWhereTheReferenceRunsIsDifferent()
    {
        // Adding zeros of shape [2,1,1,1] broadcasts like the batch only when N is 1 or 2; N = 3 makes ORT fail.
        var candidate = SmallModels.ConvNet();
        candidate.Graph.Node[^1].Output[0] = "relu";
        var zeros = candidate.Initializer(TestModelBuilder.TensorOf("zeros", [2, 1, 1, 1], [0, 0]));
        candidate.Node("Add", ["relu", zeros], ["y"]);
        var report = Verify(SmallModels.ConvNet(), candidate);
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        Assert.Contains(report.Trials, t => t.CandidateFailure is not null);
        Assert.Contains(report.Problems, p => p.Contains("the candidate failed on inputs the reference accepts"));
    }

    [Fact]
    public void AModelOnnxRuntimeCannotLoadGivesExit6()
    {
        var b = new TestModelBuilder();
        b.Input("x", 2, 3);
        b.Graph.Node.Add(new NodeProto { OpType = "NoSuchOp", Domain = "com.example", Name = "mystery", Input = { "x" }, Output = { "y" } });
        b.Output("y");
        var model = b.Build();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });
        var ir = OnnxConvTool.Ir.ModelReader.Build(model, "mystery.onnx", ".");
        var report = EquivalenceChecker.Verify(ir, ir, Defaults);
        Assert.Equal(ExitCode.VerificationCouldNotRun, report.ExitCode);
        Assert.StartsWith("ONNX Runtime cannot load mystery.onnx:", report.Problems.Single());
        Assert.False(report.Equivalent);
    }

    [Fact]
    public void AReferenceThatRunsOnNoInputsGivesExit6WithAHint()
    {
        var b = new TestModelBuilder();
        b.Input("x", "N", 3);
        var shape = b.Initializer(TestModelBuilder.Int64Tensor("shape", [2], [5, 7]));
        b.Node("Reshape", ["x", shape], ["y"]);
        b.Output("y");
        var report = Verify(b, b);
        Assert.Equal(ExitCode.VerificationCouldNotRun, report.ExitCode);
        Assert.Contains("ONNX Runtime cannot run reference.onnx on x float32[2,3]", report.Problems.Single());
        Assert.Contains("--shape", report.Problems.Single());
    }

    [Fact]
    public void ACheckThatComparedNothingIsNeverASuccess()
    {
        var b = new TestModelBuilder();
        b.Input("x", 4, 3);
        var starts = b.Initializer(TestModelBuilder.Int64Tensor("starts", [1], [0]));
        var ends = b.Initializer(TestModelBuilder.Int64Tensor("ends", [1], [0]));
        b.Node("Slice", ["x", starts, ends], ["y"]);
        b.Output("y");
        var report = Verify(b, b);
        Assert.Equal(ExitCode.VerificationCouldNotRun, report.ExitCode);
        Assert.Contains("nothing was compared", report.Problems.Single());
        Assert.Equal(0, report.ComparedElements);
    }

    [Fact]
    public void OutputsThatAreNaNEverywhereInBothModelsCompareNothing()
    {
        // Log of a negative constant: NaN in every element, whatever the input.
        var b = new TestModelBuilder();
        b.Input("x", "N", 3);
        var negative = b.Initializer(TestModelBuilder.TensorOf("negative", [], [-1]));
        var shifted = b.Node("Mul", ["x", "x"]);
        var below = b.Node("Sub", [negative, shifted]);
        b.Node("Log", [below], ["y"]);
        b.Output("y");
        var report = Verify(b, b);
        Assert.Equal(ExitCode.VerificationCouldNotRun, report.ExitCode);
        Assert.Contains("every output element was NaN or infinite in both models", report.Problems.Single());
    }

    [Fact]
    public void RejectedFreeDimsFallBackToMultiplesOf32AndTheReportSaysSo()
    {
        // Reshape to [N, C, -1, 32] needs H·W divisible by 32: 33×47 is not, 64×64 is.
        var b = new TestModelBuilder();
        b.Input("x", "N", 3, "H", "W");
        var shape = b.Initializer(TestModelBuilder.Int64Tensor("shape", [4], [0, 0, -1, 32]));
        b.Node("Reshape", ["x", shape], ["y"]);
        b.Output("y");
        var report = Verify(b, b);
        Assert.True(report.Equivalent, report.RenderText());
        var fallen = Assert.Single(report.Trials, t => t.Fallbacks.Count > 0);
        Assert.Contains("ONNX Runtime rejected", fallen.Fallbacks[0]);
        Assert.Contains("multiples of 32", fallen.Fallbacks[^1]);
        Assert.All(fallen.FreeDims.Where(d => d.Key != "N"), d => Assert.Equal(0, d.Value % 32));
        Assert.Contains("fallback:", report.RenderText());
    }

    [Fact]
    public void ASaturatedSigmoidCannotHideADifferenceInItsInput()
    {
        static TestModelBuilder Saturated()
        {
            var b = SmallModels.ConvNet();
            b.Graph.Node.RemoveAt(b.Graph.Node.Count - 1);
            b.Graph.Output.Clear();
            var shift = b.Initializer(TestModelBuilder.TensorOf("shift", [], [-40]));
            b.Node("Add", ["features", shift], ["logits"]);
            b.Node("Sigmoid", ["logits"], ["y"]);
            b.Output("y", DataType.Float, "N", 4, "H", "W");
            return b;
        }
        // Logits near -40 put the Sigmoid at ~4e-18, so even a 10% weight change moves y by far less than atol.
        var report = Verify(Saturated(), Saturated().Perturb("conv.weight", 0.1));
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        // On random inputs the Sigmoid saturates (the edge-value trial's ±100 inputs may pull it out of saturation).
        var random = report.Trials.Where(t => t.Source == "random").ToList();
        Assert.All(random, t => Assert.True(t.Outputs.Single().Passed));
        Assert.All(report.Trials, t => Assert.False(t.PreActivations.Single().Passed));
        Assert.Contains("'logits', the input of Sigmoid producing output 'y'", report.Problems[0]);
        Assert.Contains("saturates", report.Problems[0]);
        Assert.True(Verify(Saturated(), Saturated()).Equivalent);
    }

    [Fact]
    public void ExplicitTolerancesApplyToEveryOutput()
    {
        // The edge-value trial's ±100 inputs make a 1e-3 weight change worth ~0.2 on outputs near zero.
        var loose = Verify(SmallModels.ConvNet(), SmallModels.ConvNet().Perturb("conv.weight", 1e-3), new VerifyOptions { Rtol = 1e-2, Atol = 0.5 });
        Assert.True(loose.Equivalent, loose.RenderText());
        Assert.All(loose.Trials, t => Assert.Equal(1e-2, t.Outputs.Single().Rtol));
        Assert.All(loose.Trials, t => Assert.Equal(0.5, t.Outputs.Single().Atol));
    }

    [Fact]
    public void InputsTheCandidateLacksOrTypesDifferentlyAreDifferences()
    {
        var half = new TestModelBuilder();
        half.Input("x", DataType.Float16, "N", 3, "H", "W");
        half.Node("Cast", ["x"], ["xf"], Attr.Int("to", (long)DataType.Float));
        var w = half.Initializer(SmallModels.ConvNet().Graph.Initializer[0].Clone());
        var bias = half.Initializer(SmallModels.ConvNet().Graph.Initializer[1].Clone());
        half.Node("Conv", ["xf", w, bias], ["features"], Attr.Ints("kernel_shape", 1, 1));
        half.Node("Relu", ["features"], ["y"]);
        half.Output("y");
        var report = Verify(SmallModels.ConvNet(), half);
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        Assert.Contains("input 'x' is float32 in the reference, float16 in the candidate", report.Problems);
    }

    [Fact]
    public void BadOptionsAreUsageErrors()
    {
        Assert.Equal(ExitCode.UsageError, Assert.Throws<OnnxConvException>(() => Verify(SmallModels.ConvNet(), SmallModels.ConvNet(), new VerifyOptions { Trials = 0 })).ExitCode);
        Assert.Equal(ExitCode.UsageError, Assert.Throws<OnnxConvException>(() => Verify(SmallModels.ConvNet(), SmallModels.ConvNet(), new VerifyOptions { Rtol = -1 })).ExitCode);
    }

    [Fact]
    public void TheJsonReportParsesAndCarriesEveryStatistic()
    {
        var report = Verify(SmallModels.ConvNet(), SmallModels.ConvNet().Perturb("conv.weight", 1e-3), new VerifyOptions { Trials = 2 });
        using var json = JsonDocument.Parse(report.RenderJson());
        var root = json.RootElement;
        Assert.Equal("different", root.GetProperty("verdict").GetString());
        Assert.Equal(1, root.GetProperty("exitCode").GetInt32());
        var trial = root.GetProperty("trials")[0];
        Assert.Equal(2, trial.GetProperty("freeDims").GetProperty("N").GetInt64());
        var output = trial.GetProperty("outputs")[0];
        foreach (string field in new[] { "maxAbsError", "maxRelError", "meanAbsError", "mismatches", "nanInfMismatches", "smallestPassingAtol", "elements", "rtol", "atol" })
            Assert.Equal(JsonValueKind.Number, output.GetProperty(field).ValueKind);
        Assert.Equal(report.Trials[0].Outputs[0].MaxAbsError, output.GetProperty("maxAbsError").GetDouble());
        Assert.Contains("| output |", report.RenderMarkdown());
        Assert.Contains("result: different", report.RenderText());
    }
}

/// <summary>Models past the 2 GiB protobuf limit reach ONNX Runtime through a temporary file with external data.</summary>
[Collection(nameof(LargeModelPathTests))]
public sealed class LargeModelPathTests
{
    [Fact]
    public void ModelsGoThroughExternalDataFilesPastTheInlineLimit()
    {
        long saved = OrtRuntime.InlineLimit;
        OrtRuntime.InlineLimit = 0;
        int before = OrtRuntime.TemporaryFileSessions;
        try
        {
            var saturated = SmallModels.ConvNet(twoOutputs: true);
            var same = EquivalenceChecker.Verify(saturated.Ir(), SmallModels.ConvNet(twoOutputs: true).Ir(), new VerifyOptions { Trials = 1 });
            Assert.True(same.Equivalent, same.RenderText());
            Assert.Single(same.Trials[0].PreActivations);
            var different = EquivalenceChecker.Verify(saturated.Ir(), SmallModels.ConvNet(twoOutputs: true).Perturb("conv.weight", 1e-3).Ir(), new VerifyOptions { Trials = 1 });
            Assert.Equal(ExitCode.VerificationFoundDifference, different.ExitCode);
            Assert.True(OrtRuntime.TemporaryFileSessions - before >= 4);
        }
        finally
        {
            OrtRuntime.InlineLimit = saved;
        }
    }
}
