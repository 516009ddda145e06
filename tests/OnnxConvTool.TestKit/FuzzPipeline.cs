using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.TestKit;

/// <summary>How the pipeline ended for one input: refused the documented way, or processed through every stage.</summary>
public enum FuzzOutcome
{
    /// <summary>Refused with a <see cref="OnnxConvException"/> of exit code 3 (input rejected) or 4 (unsupported).</summary>
    Rejected,
    /// <summary>Loaded, inferred, audited, rewritten by every rule set, saved and reloaded without a problem.</summary>
    Processed,
}

public sealed record FuzzResult(FuzzOutcome Outcome, string Detail);

/// <summary>
/// What the fuzz harness (tests/OnnxConvTool.Fuzz) runs on every input and the regression tests replay:
/// load (which validates), <c>inspect</c>'s summary, shape inference, the audit in every output format, load→save→load (the second
/// save must be byte-identical to the first), and for every rule set (<see cref="RuleSets"/>) a rewrite
/// validated after each step whose result must save, reload and infer. Any exception other than a
/// documented refusal escapes: that is a finding.
/// </summary>
public static class FuzzPipeline
{
    /// <summary>
    /// The rule sets a model is rewritten with: each <c>rewrite --to</c> target's rules (to a fixpoint where the target needs one), each fixpoint set
    /// of <c>optimize</c> (fold, merge), then every catalogued rule on its own, so a rule added to
    /// <see cref="RuleCatalog"/> is fuzzed without touching the harness.
    /// </summary>
    public static IReadOnlyList<(IReadOnlyList<IRewriteRule> Rules, bool Fixpoint)> RuleSets()
    {
        var sets = Enum.GetValues<RewriteTarget>().Select(t => (Rules: RuleCatalog.ForTarget(t), Fixpoint: RuleCatalog.TargetRunsToFixpoint(t))).ToList();
        foreach (string set in new[] { RuleCatalog.FoldSet, RuleCatalog.MergeSet })
            if (RuleCatalog.Set(set).Count > 0) sets.Add((RuleCatalog.CreateFixpointSet(set), true));
        foreach (var entry in RuleCatalog.All)
            if (!sets.Any(s => s.Rules.Count == 1 && s.Rules[0].Id == entry.Id)) sets.Add(([entry.Create()], entry.Set != RuleCatalog.ConvertSet));
        return sets;
    }

    /// <summary>Runs the pipeline on <paramref name="modelBytes"/>, written to <paramref name="scratchDirectory"/> as model.onnx.</summary>
    public static FuzzResult Run(ReadOnlySpan<byte> modelBytes, string scratchDirectory)
    {
        string path = Path.Combine(scratchDirectory, "model.onnx");
        File.WriteAllBytes(path, modelBytes);
        try
        {
            return Process(path, scratchDirectory);
        }
        catch (OnnxConvException e) when (e.ExitCode is ExitCode.InputRejected or ExitCode.Unsupported)
        {
            return new FuzzResult(FuzzOutcome.Rejected, $"exit {(int)e.ExitCode}: {e.Message}");
        }
    }

    /// <summary>Runs the pipeline on a copy of the file at <paramref name="modelPath"/> in a fresh scratch folder.</summary>
    public static FuzzResult RunFile(string modelPath)
    {
        using var scratch = new TempDirectory();
        return Run(File.ReadAllBytes(modelPath), scratch.Path);
    }

    private static FuzzResult Process(string path, string scratchDirectory)
    {
        var model = ModelReader.Load(path);
        var inspection = ModelInspection.Of(model, path);
        inspection.ToText();
        AuditJson.Serialize(inspection);
        ShapeInference.Run(model);
        var audit = Conv1x1Audit.Run(model, new AuditOptions { RewriteChecks = Conv1x1Checks.Rewrites() }, path);
        AuditFormatter.Table(audit);
        AuditFormatter.Markdown(audit);
        AuditJson.Serialize(audit);
        AuditHtml.Render(audit);

        byte[] saved = ModelWriter.ToBytes(model);
        byte[] resaved = ModelWriter.ToBytes(Reload(saved, scratchDirectory, "the saved model"));
        if (!saved.AsSpan().SequenceEqual(resaved))
            throw new InvalidOperationException($"load→save→load is not stable: the second save has {resaved.Length} bytes, the first {saved.Length}");

        int applied = 0;
        foreach (var (rules, fixpoint) in RuleSets())
        {
            var candidate = ModelReader.Load(path);
            var result = RewriteDriver.Run(candidate, rules, new RewriteOptions { ValidateAfterEachRewrite = true, Fixpoint = fixpoint });
            if (!result.Modified) continue;
            applied += result.AppliedCount;
            string ids = string.Join(",", rules.Select(r => r.Id));
            var rewritten = Reload(ModelWriter.ToBytes(candidate), scratchDirectory, $"the model rewritten by {ids}");
            ShapeInference.Run(rewritten);
        }
        return new FuzzResult(FuzzOutcome.Processed, $"{model.AllNodes().Count()} nodes, {applied} rewrites");
    }

    /// <summary>Loads bytes the tool itself wrote; a refusal there is a bug, not a rejection of the input.</summary>
    private static Model Reload(byte[] bytes, string scratchDirectory, string what)
    {
        string path = Path.Combine(scratchDirectory, "saved.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            return ModelReader.Load(path);
        }
        catch (ModelRejectedException e)
        {
            throw new InvalidOperationException($"{what} does not load again: {e.Problem}", e);
        }
    }
}
