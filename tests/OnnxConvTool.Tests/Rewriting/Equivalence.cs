using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Rewriting;

using DataType = TensorProto.Types.DataType;

/// <summary>Numeric checks of rewrites through the product's <see cref="EquivalenceChecker"/>, the engine behind <c>verify</c> and <c>rewrite</c>.</summary>
internal static class Equivalence
{
    /// <summary>
    /// Asserts <see cref="EquivalenceChecker"/> finds the models equivalent (verify's defaults unless
    /// <paramref name="options"/> say otherwise: 3 trials, float32 rtol 1e-4 / atol 1e-5). When the reference
    /// has free dims, also asserts that every random trial gave them different values and that there were at least
    /// two trials, so a dynamic-shape rewrite is exercised at several sizes.
    /// </summary>
    public static VerificationReport AssertEquivalent(Model reference, Model candidate, VerifyOptions? options = null)
    {
        var report = EquivalenceChecker.Verify(reference, candidate, options ?? new VerifyOptions());
        Assert.True(report.Equivalent, report.RenderText());
        if (report.Trials.Any(t => t.FreeDims.Count > 0))
        {
            var sizes = report.Trials.Where(t => t.Source == "random").Select(t => string.Join(",", t.FreeDims.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key}={d.Value}"))).ToList();
            Assert.True(sizes.Count >= 2 && sizes.Distinct().Count() == sizes.Count, $"free dims need several sizes, the trials used: {string.Join("; ", sizes)}");
        }
        return report;
    }

    /// <summary>
    /// Asserts <see cref="EquivalenceChecker"/> reports a difference (exit code 1) between the models.
    /// </summary>
    public static VerificationReport AssertDifferent(Model reference, Model candidate, VerifyOptions? options = null)
    {
        var report = EquivalenceChecker.Verify(reference, candidate, options ?? new VerifyOptions());
        Assert.True(report.ExitCode == ExitCode.VerificationFoundDifference, report.RenderText());
        return report;
    }

    /// <summary>
    /// Compares a float64 <paramref name="candidate"/> with the float32 <paramref name="floatTwin"/> of its
    /// original (same weights, same seeded inputs), output by output through <see cref="TensorComparer"/>.
    /// <see cref="EquivalenceChecker"/> cannot do this: ONNX Runtime 1.31's CPU provider has no float64
    /// Conv, so the float64 original cannot run, and verify compares models of the same types only.
    /// </summary>
    public static void AssertCloseToFloatTwin(Model floatTwin, Model candidate, double rtol, double atol, int trials = 2, int seed = 7)
    {
        var types = candidate.Graph.Inputs.Where(v => !v.IsInitializer).Select(v => v.ElementType ?? DataType.Float).ToList();
        var random = new Random(seed);
        long compared = 0;
        for (int trial = 0; trial < trials; trial++)
        {
            var feeds = ModelRun.Feeds(candidate, types, random);
            var expected = ModelRun.Run(floatTwin, feeds.Select(f => (f.Name, ModelRun.Convert(f.Tensor, DataType.Float))).ToList()).Outputs;
            var actual = ModelRun.Run(candidate, feeds).Outputs;
            Assert.Equal(expected.Keys, actual.Keys);
            foreach (var (name, e) in expected)
            {
                var a = actual[name];
                var comparison = TensorComparer.Compare(name, name, DataType.Double, e.Dims, ModelRun.ToFloat64Bytes(e.Values),
                    DataType.Double, a.Dims, ModelRun.ToFloat64Bytes(a.Values), rtol, atol);
                Assert.True(comparison.Passed, $"output '{name}' (trial {trial + 1}): {comparison.Problem ?? $"{comparison.Mismatches} of {comparison.Elements} outside rtol {rtol} / atol {atol}, max abs error {comparison.MaxAbsError}"}");
                compared += comparison.FiniteElements;
            }
        }
        Assert.True(compared > 0, "the comparison compared no values");
    }
}
