using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Tests.Rewriting;
using Xunit.Abstractions;

namespace OnnxConvTool.Tests.Properties;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// Every rule set the fuzz harness runs (<see cref="FuzzPipeline.RuleSets"/>: each <c>--to</c> target and each
/// catalogued rule, so a new rule joins both by being catalogued) rewrites random small conv graphs into valid
/// models that ONNX Runtime finds equivalent, and whose save is stable.
/// </summary>
public sealed class RewritePropertyTests(ITestOutputHelper output)
{
    /// <summary>Random graphs per rule set: a few seconds each.</summary>
    private const int GraphsPerRuleSet = 200;

    public static TheoryData<string> RuleSetIds()
    {
        var data = new TheoryData<string>();
        foreach (var (rules, _) in FuzzPipeline.RuleSets()) data.Add(Id(rules));
        return data;
    }

    [Theory]
    [MemberData(nameof(RuleSetIds))]
    public void RewritesOfRandomGraphsAreValidAndEquivalent(string ruleSet)
    {
        var (rules, fixpoint) = FuzzPipeline.RuleSets().Single(s => Id(s.Rules) == ruleSet);
        int applied = 0, compared = 0, graphs = PropertyRunner.Iterations(GraphsPerRuleSet);
        PropertyRunner.Check(RandomConvGraphs.Specs(DataType.Float, DataType.Float, DataType.Float16, DataType.Double), spec =>
        {
            var (rewrites, numeric) = AssertRewriteIsEquivalent(spec, rules, fixpoint);
            applied += rewrites;
            if (numeric) compared++;
        }, graphs, spec => spec.ToCSharp());
        output.WriteLine($"{ruleSet}: {applied} rewrites in {graphs} random graphs (seed {PropertyRunner.BaseSeed}), {compared} compared by ONNX Runtime");
        // a generator that never reaches the rule would make this property pass vacuously
        Assert.True(applied > 0, $"{ruleSet} applied to none of the random graphs");
        Assert.True(compared > 0, $"no rewrite by {ruleSet} was compared by ONNX Runtime");
    }

    private static string OutputShape(Model model) => ShapeInference.Run(model).Get(model.Graph.Outputs[0]) is var s ? $"{s.ElementType} {s}" : "";

    internal static string Id(IReadOnlyList<IRewriteRule> rules) => string.Join("+", rules.Select(r => r.Id));

    /// <summary>
    /// Rewrites the model of <paramref name="spec"/> (validating after each step), checks the rewritten model
    /// saves stably, and compares it with the original in ONNX Runtime; float64 models, which ONNX Runtime runs
    /// only without Conv, against their float32 twin. Returns the rewrites applied and whether numbers were compared.
    /// </summary>
    internal static (int Applied, bool Compared) AssertRewriteIsEquivalent(GraphSpec spec, IReadOnlyList<IRewriteRule> rules, bool fixpoint = false)
    {
        var builder = RandomConvGraphs.Build(spec);
        var before = builder.ToIr();
        var after = builder.ToIr();
        var result = RewriteDriver.Run(after, rules, new RewriteOptions { ValidateAfterEachRewrite = true, Fixpoint = fixpoint });
        Assert.Empty(GraphValidator.Validate(after));
        if (!result.Modified) return (0, false);
        Assert.Equal(OutputShape(before), OutputShape(after));

        byte[] saved = ModelWriter.ToBytes(after);
        var reloaded = ModelReader.Build(ModelProto.Parser.ParseFrom(saved), "rewritten.onnx", Directory.GetCurrentDirectory());
        Assert.Equal(saved, ModelWriter.ToBytes(reloaded));

        if (spec.Type != DataType.Double)
        {
            Equivalence.AssertEquivalent(before, after);
            return (result.AppliedCount, true);
        }
        if (after.AllNodes().Any(n => n.OpType == "Conv")) return (result.AppliedCount, false);
        // The float32 twin rounds at 1e-7 relative; over these short dot products 1e-4 / 1e-5 is its margin.
        Equivalence.AssertCloseToFloatTwin(RandomConvGraphs.Build(spec, DataType.Float).ToIr(), after, rtol: 1e-4, atol: 1e-5);
        return (result.AppliedCount, true);
    }
}
