using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>Judges one trial: every paired output and saturating activation's input, and stored outputs; words the failures.</summary>
internal sealed class TrialComparison(Model reference, VerifyOptions options, ModelPairing pairing)
{
    /// <summary>Tolerances of the ONNX backend test runner, used for stored outputs unless --rtol/--atol are given.</summary>
    private const double StoredRtol = 1e-3, StoredAtol = 1e-7;

    /// <summary>Factor over the atol used within which a failure counts as a small margin, worth naming the atol that would pass.</summary>
    private const double SmallMargin = 100;

    public TrialResult Compare(int number, string source, List<(TrialInput Info, HostTensor Tensor)> feeds, Dictionary<string, long> dims,
        List<string> rejections, RunOutputs referenceOutputs, CandidateRun candidateRun, TestDataSet? storedOutputs)
    {
        var comparisons = new List<OutputComparison>();
        var preActivations = new List<OutputComparison>();
        if (candidateRun.Outputs is { } candidateOutputs)
        {
            foreach (var pre in pairing.PreActivations)
                preActivations.Add(CompareTensors(referenceOutputs, pre.Reference, candidateOutputs, pre.Candidate)
                    with { Role = $"input of {pre.Activation} producing output '{pre.Output}'" });
            foreach (var (referenceName, candidateName) in pairing.Outputs)
                comparisons.Add(CompareTensors(referenceOutputs, referenceName, candidateOutputs, candidateName, PropagatedAtol(referenceName, preActivations)));
        }
        else
        {
            foreach (var (referenceName, candidateName) in pairing.Outputs)
            {
                var a = referenceOutputs.Get(referenceName);
                comparisons.Add(TensorComparer.Missing(referenceName, candidateName, ElementKinds.Name(a.ElementType), a.Shape, "the candidate failed to run"));
            }
        }
        return new TrialResult
        {
            Number = number,
            Source = source,
            Inputs = feeds.Select(f => f.Info).ToList(),
            FreeDims = dims,
            Fallbacks = rejections,
            Outputs = comparisons,
            PreActivations = preActivations,
            StoredOutputs = storedOutputs is null ? [] : CompareStored(storedOutputs, referenceOutputs),
            CandidateFailure = candidateRun.Failure,
        };
    }

    private OutputComparison CompareTensors(RunOutputs referenceOutputs, string referenceName, RunOutputs candidateOutputs, string candidateName,
        double propagatedAtol = 0)
    {
        var a = referenceOutputs.Get(referenceName);
        var b = candidateOutputs.Get(candidateName);
        return TensorComparer.Compare(referenceName, candidateName, a.ElementType, a.Shape, a.Raw, b.ElementType, b.Shape, b.Raw, options.Rtol, options.Atol, propagatedAtol);
    }

    /// <summary>
    /// For an output made by a saturating activation whose input is compared too: the error that input may
    /// legitimately carry where it is small (atol + rtol·floor), times the activation's slope. Rounding in the
    /// input passes its own check and must not fail the output; a wrong weight still fails the input's check.
    /// </summary>
    private double PropagatedAtol(string output, List<OutputComparison> preActivations)
    {
        var pre = pairing.PreActivations.FirstOrDefault(p => p.Output == output);
        var input = pre is null ? null : preActivations.FirstOrDefault(c => c.Name == pre.Reference);
        if (input is not { Problem: null, Exact: false }) return 0;
        return pre!.Slope * (input.Atol + input.Rtol * TensorComparer.ScaleFloor * input.Scale);
    }

    /// <summary>The first reference output that differs between two runs on the same inputs (bit for bit, NaN equal to NaN), or null.</summary>
    public string? FirstNondeterministicOutput(RunOutputs first, RunOutputs second)
    {
        foreach (string name in pairing.ReferenceFetches)
        {
            var a = first.Get(name);
            var b = second.Get(name);
            var comparison = TensorComparer.Compare(name, name, a.ElementType, a.Shape, a.Raw, b.ElementType, b.Shape, b.Raw, rtol: 0, atol: 0);
            if (!comparison.Passed) return name;
        }
        return null;
    }

    private List<OutputComparison> CompareStored(TestDataSet set, RunOutputs referenceOutputs)
    {
        var results = new List<OutputComparison>();
        var names = reference.Graph.Outputs.Select(v => v.Name).ToList();
        for (int i = 0; i < set.OutputFiles.Count; i++)
        {
            var (storedName, expected) = set.ReadOutput(i);
            string name = storedName.Length > 0 && names.Contains(storedName) ? storedName
                : i < names.Count ? names[i]
                : throw new OnnxConvException(ExitCode.UsageError, $"{set.OutputFiles[i]}: the model has only {names.Count} outputs");
            string label = $"{set.Name}/{Path.GetFileName(set.OutputFiles[i])}";
            if (pairing.Outputs.All(o => o.Reference != name))
            {
                results.Add(TensorComparer.Missing(name, label, ElementKinds.Name(expected.ElementType), expected.Shape, "not produced"));
                continue;
            }
            var actual = referenceOutputs.Get(name);
            // Stored outputs are the expected values, so they play the reference role in the comparison.
            results.Add(TensorComparer.Compare(name, label, expected.ElementType, expected.Shape, expected.Data,
                actual.ElementType, actual.Shape, actual.Raw, options.Rtol ?? StoredRtol, options.Atol ?? StoredAtol));
        }
        return results;
    }

    /// <summary>One sentence per failure of <paramref name="trial"/>.</summary>
    public IEnumerable<string> DescribeFailures(TrialResult trial)
    {
        if (trial.CandidateFailure is not null)
            yield return $"trial {trial.Number}: the candidate failed on inputs the reference accepts: {trial.CandidateFailure}";
        foreach (var output in trial.Outputs.Where(o => !o.Passed && trial.CandidateFailure is null))
            yield return $"trial {trial.Number}: output '{output.Name}' {DescribeMismatch(output)}";
        foreach (var pre in trial.PreActivations.Where(o => !o.Passed))
        {
            string output = pairing.PreActivations.First(p => p.Reference == pre.Name).Output;
            bool outputAgrees = trial.Outputs.FirstOrDefault(o => o.Name == output)?.Passed == true;
            yield return $"trial {trial.Number}: '{pre.Name}', the {pre.Role}, {DescribeMismatch(pre)}"
                + (outputAgrees ? " (the output itself agrees within tolerance: the activation saturates on these inputs)" : "");
        }
        foreach (var output in trial.StoredOutputs.Where(o => !o.Passed))
            yield return $"trial {trial.Number}: the reference's output '{output.Name}' differs from the stored {output.CandidateName ?? output.Name}: {DescribeMismatch(output)}";
    }

    internal static string DescribeMismatch(OutputComparison output)
    {
        if (output.Problem is not null) return output.Problem;
        var parts = new List<string>();
        if (output.Mismatches > 0 && output.Exact)
            parts.Add($"{output.Mismatches} of {output.Elements} elements differ ({output.ReferenceType} is compared exactly; max abs difference {Format.Number(output.MaxAbsError)})");
        else if (output.Mismatches > 0)
            parts.Add($"{output.Mismatches} of {output.Elements} elements outside atol {Format.Number(output.Atol)}{(output.PropagatedAtol > 0 ? $" + {Format.Number(output.PropagatedAtol)} carried from the activation's input" : "")} + rtol {Format.Number(output.Rtol)}·max(|a|, {Format.Number(TensorComparer.ScaleFloor)}·rms {Format.Number(output.Scale)}) "
                + $"(max abs error {Format.Number(output.MaxAbsError)}, max rel error {Format.Number(output.MaxRelError)}){PassingAtolHint(output)}");
        if (output.NanInfMismatches > 0) parts.Add($"{output.NanInfMismatches} NaN/Inf mismatches");
        return string.Join("; ", parts);
    }

    private static string PassingAtolHint(OutputComparison output) =>
        output.SmallestPassingAtol is { } needed && needed <= SmallMargin * Math.Max(output.Atol, double.Epsilon)
            ? $"; --atol {Format.Number(Format.RoundUp(needed))} would pass"
            : "";
}
