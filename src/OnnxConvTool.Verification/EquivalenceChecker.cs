using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>
/// Decides whether a candidate model computes the same function as a reference model, by running both
/// with ONNX Runtime (every graph optimisation off, one intra-op thread) on the same seeded inputs and
/// comparing every output.
/// <para>
/// Outputs are paired by name (through <see cref="VerifyOptions.NameMap"/> when given). A missing or
/// extra output, or the same outputs in a different order, is a difference: callers that read outputs
/// by position would see them swapped. Inputs are fed by name; an input the candidate lacks, needs in
/// addition, or types differently is a difference.
/// </para>
/// <para>
/// A saturating activation at the end of a model (Sigmoid, HardSigmoid, Tanh, Softsign, Softmax, Clip)
/// maps very different inputs to the same ~0 or ~1: PaddleOCR's text detector outputs ~1e-7 everywhere on
/// any input without text, so a weight changed by 1e-3 leaves its output unchanged to the last bit. For
/// each output produced by such an activation (possibly through Reshape/Transpose/Flatten/Squeeze/
/// Unsqueeze/Identity), the activation's input is compared too, with the same tolerances, when both models
/// compute it under the same name (or through the name map).
/// </para>
/// <para>
/// Exit codes: 0 equivalent; 1 different (including: the candidate fails on inputs the reference
/// accepts, or the reference disagrees with stored test-data outputs); 6 could not run (ORT cannot
/// load either model, cannot run the reference on any inputs tried, or nothing was compared).
/// </para>
/// </summary>
public static class EquivalenceChecker
{
    /// <exception cref="OnnxConvException">Bad options (usage error, exit 2).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static VerificationReport Verify(Model reference, Model candidate, VerifyOptions options, CancellationToken cancellation = default)
    {
        if (options.Trials < 1) throw new OnnxConvException(ExitCode.UsageError, $"--trials must be at least 1 (got {options.Trials})");
        if (options.Rtol is < 0 || options.Rtol is double r && double.IsNaN(r)) throw new OnnxConvException(ExitCode.UsageError, $"--rtol must be a non-negative number (got {options.Rtol})");
        if (options.Atol is < 0 || options.Atol is double a && double.IsNaN(a)) throw new OnnxConvException(ExitCode.UsageError, $"--atol must be a non-negative number (got {options.Atol})");
        return new VerificationRun(reference, candidate, options, cancellation).Execute();
    }
}

internal sealed class VerificationRun(Model reference, Model candidate, VerifyOptions options, CancellationToken cancellation)
{
    /// <summary>Tolerances of the ONNX backend test runner, used for stored outputs unless --rtol/--atol are given.</summary>
    private const double StoredRtol = 1e-3, StoredAtol = 1e-7;

    private readonly string _referenceLabel = options.ReferenceLabel ?? Label(reference, "reference");
    private readonly string _candidateLabel = options.CandidateLabel ?? Label(candidate, "candidate");
    private readonly List<string> _problems = [];
    private readonly List<string> _notes = [];
    private readonly List<TrialResult> _trials = [];
    private List<PreActivation> _preActivations = [];
    private List<(string Name, HostTensor Tensor)>? _localizeFeeds;
    private int _localizeTrial;

    private static string Label(Model model, string fallback) => model.SourcePath is { Length: > 0 } path ? path : fallback;

    public VerificationReport Execute()
    {
        List<(string Reference, string Candidate)> outputs;
        try
        {
            var plan = InputPlan.Create(reference, options, _referenceLabel);
            outputs = PairOutputs();
            _preActivations = FindPreActivations(outputs);
            var candidateInputs = CheckCandidateInputs(plan);
            var (referenceSession, candidateSession) = CreateSessions();
            using var disposeReference = referenceSession;
            using var disposeCandidate = candidateSession;
            if (options.TestDataDirectory is { } directory)
                RunTestData(plan, TestDataSets.Discover(directory), referenceSession, candidateSession, outputs, candidateInputs);
            else
                RunRandomTrials(plan, referenceSession, candidateSession, outputs, candidateInputs);
        }
        catch (RuntimeFailure e)
        {
            return Report(ExitCode.VerificationCouldNotRun, [e.Message]);
        }

        LocalizationResult? localization = options.Localize && _localizeFeeds is not null ? Localize(_localizeFeeds) : null;

        bool passed = _problems.Count == 0 && _trials.All(t => t.Passed);
        if (!passed)
        {
            foreach (var trial in _trials) DescribeFailures(trial);
            return Report(ExitCode.VerificationFoundDifference, _problems, localization);
        }
        if (_trials.Sum(t => t.Outputs.Sum(o => o.FiniteElements)) == 0)
        {
            string why = outputs.Count == 0 ? $"{_referenceLabel} has no outputs"
                : _trials.Sum(t => t.Outputs.Sum(o => o.Elements)) == 0 ? "every output was empty in every trial"
                : "every output element was NaN or infinite in both models";
            return Report(ExitCode.VerificationCouldNotRun, [$"nothing was compared: {why}"], localization);
        }
        return Report(ExitCode.Ok, [], localization);
    }

    private VerificationReport Report(ExitCode code, IReadOnlyList<string> problems, LocalizationResult? localization = null) => new()
    {
        Reference = _referenceLabel,
        Candidate = _candidateLabel,
        ExitCode = code,
        Problems = problems.Distinct().ToList(),
        Notes = _notes,
        Trials = _trials,
        Localization = localization,
        Engine = $"ONNX Runtime {OrtRuntime.Version} (CPU, graph optimisations off, 1 intra-op thread)",
        Seed = options.Seed,
        Rtol = options.Rtol,
        Atol = options.Atol,
    };

    /// <summary>
    /// Both sessions, built concurrently: serialising and loading a model into ONNX Runtime is most of
    /// verify's cost and the two are independent. Each session still runs with one intra-op thread.
    /// </summary>
    private (InferenceSession Reference, InferenceSession Candidate) CreateSessions()
    {
        var referenceTask = Task.Run(() => OrtRuntime.CreateSession(reference, SessionSettings.Verification, _referenceLabel,
            _preActivations.Select(p => p.Reference).ToList()));
        InferenceSession? candidateSession = null;
        Exception? candidateError = null;
        try
        {
            candidateSession = OrtRuntime.CreateSession(candidate, SessionSettings.Verification, _candidateLabel,
                _preActivations.Select(p => p.Candidate).ToList());
        }
        catch (Exception e)
        {
            candidateError = e;
        }
        InferenceSession referenceSession;
        try
        {
            referenceSession = referenceTask.GetAwaiter().GetResult();
        }
        catch
        {
            // The reference's problem, when it has one, is the one to report.
            candidateSession?.Dispose();
            throw;
        }
        if (candidateError is not null)
        {
            referenceSession.Dispose();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(candidateError);
        }
        return (referenceSession, candidateSession!);
    }

    /// <summary>Reference output name → candidate output name, in reference order; structural differences become problems.</summary>
    private List<(string Reference, string Candidate)> PairOutputs()
    {
        var candidateNames = candidate.Graph.Outputs.Select(v => v.Name).ToList();
        var pairs = new List<(string, string)>();
        foreach (var output in reference.Graph.Outputs)
        {
            string mapped = options.NameMap?.GetValueOrDefault(output.Name) ?? output.Name;
            if (candidateNames.Contains(mapped)) pairs.Add((output.Name, mapped));
            else _problems.Add($"output '{output.Name}' of the reference is missing from the candidate");
        }
        var paired = pairs.Select(p => p.Item2).ToHashSet(StringComparer.Ordinal);
        foreach (string name in candidateNames.Where(n => !paired.Contains(n)))
            _problems.Add($"the candidate has an extra output '{name}'");
        var candidateOrder = candidateNames.Where(paired.Contains).ToList();
        if (!candidateOrder.SequenceEqual(pairs.Select(p => p.Item2)))
            _problems.Add($"the outputs are in a different order: reference ({string.Join(", ", pairs.Select(p => p.Item1))}), candidate ({string.Join(", ", candidateOrder)})");
        return pairs;
    }

    /// <summary>The inputs to feed the candidate; a missing, extra or differently typed input is a problem.</summary>
    private HashSet<string> CheckCandidateInputs(InputPlan plan)
    {
        var fed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in plan.Inputs)
        {
            var value = candidate.Graph.Inputs.FirstOrDefault(v => v.Name == input.Name);
            if (value is null)
            {
                _problems.Add($"the candidate has no input '{input.Name}'");
                continue;
            }
            if (value.ElementType is { } type && type != input.ElementType)
                _problems.Add($"input '{input.Name}' is {ElementKinds.Name(input.ElementType)} in the reference, {ElementKinds.Name(type)} in the candidate");
            fed.Add(input.Name);
        }
        foreach (var value in candidate.Graph.Inputs.Where(v => !v.IsInitializer && !fed.Contains(v.Name) && plan.Inputs.All(i => i.Name != v.Name)))
            _problems.Add($"the candidate needs an input '{value.Name}' that the reference does not have");
        return fed;
    }

    private void RunRandomTrials(InputPlan plan, InferenceSession referenceSession, InferenceSession candidateSession,
        List<(string Reference, string Candidate)> outputs, HashSet<string> candidateInputs)
    {
        int trials = options.Trials;
        if (plan.IsFullyFixed && trials > 1)
        {
            _notes.Add($"every input is fixed (no random data, no free dims), so one trial is run instead of {trials}");
            trials = 1;
        }
        Dictionary<string, long>? firstThatRan = null;
        for (int trial = 0; trial < trials; trial++)
        {
            cancellation.ThrowIfCancellationRequested();
            var planned = plan.PlannedDims(trial);
            var rejections = new List<string>();
            string? firstError = null;
            List<(TrialInput Info, HostTensor Tensor)>? feeds = null;
            RunOutputs? referenceOutputs = null;
            Dictionary<string, long>? used = null;
            CandidateRun? candidateRun = null;
            foreach (var (dims, why) in new[] { (planned, (string?)null) }.Concat(plan.Fallbacks(planned, firstThatRan).Select(f => (f.Dims, (string?)f.Why))))
            {
                var attempt = plan.MakeFeeds(trial, dims);
                try
                {
                    (referenceOutputs, candidateRun) = RunBoth(referenceSession, candidateSession, attempt, outputs, candidateInputs);
                    if (why is not null) rejections.Add($"used {FormatDims(dims)} ({why})");
                    feeds = attempt;
                    used = dims;
                    break;
                }
                catch (OnnxRuntimeException e)
                {
                    string message = OrtRuntime.FirstLine(e.Message);
                    firstError ??= $"ONNX Runtime cannot run {_referenceLabel} on {DescribeFeeds(attempt)}: {message}";
                    rejections.Add($"ONNX Runtime rejected {(dims.Count > 0 ? FormatDims(dims) : DescribeFeeds(attempt))}: {message}");
                    if (plan.FreeDims.Count == 0) break;
                }
            }
            if (referenceOutputs is null)
            {
                string hint = plan.FreeDims.Count > 0
                    ? $"; fix the free dims ({string.Join(", ", plan.FreeDims.Select(f => f.Key))}) with --shape, or give inputs with --value/--input"
                    : "; give working inputs with --value or --input";
                if (trial == 0) throw new RuntimeFailure(firstError + hint);
                _notes.Add($"trial {trial + 1} skipped: {firstError}");
                continue;
            }
            firstThatRan ??= used;
            using (referenceOutputs)
            using (candidateRun)
                _trials.Add(CompareTrial(trial, "random", feeds!, used!, rejections, referenceOutputs, candidateRun!, outputs, storedOutputs: null));
        }
    }

    private void RunTestData(InputPlan plan, List<TestDataSet> sets, InferenceSession referenceSession, InferenceSession candidateSession,
        List<(string Reference, string Candidate)> outputs, HashSet<string> candidateInputs)
    {
        var positional = reference.Graph.Inputs.Where(v => !v.IsInitializer).Select(v => v.Name).ToList();
        var inputNames = reference.Graph.Inputs.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        var defaults = plan.MakeFeeds(0, plan.PlannedDims(0));
        for (int index = 0; index < sets.Count; index++)
        {
            cancellation.ThrowIfCancellationRequested();
            var set = sets[index];
            var byName = new Dictionary<string, (TrialInput Info, HostTensor Tensor)>(StringComparer.Ordinal);
            for (int i = 0; i < set.InputFiles.Count; i++)
            {
                var (storedName, tensor) = TensorFiles.ReadTensorProto(set.InputFiles[i]);
                string name = storedName.Length > 0 && inputNames.Contains(storedName) ? storedName
                    : i < positional.Count ? positional[i]
                    : throw new OnnxConvException(ExitCode.UsageError, $"{set.InputFiles[i]}: the model has only {positional.Count} inputs to feed");
                byName[name] = (new TrialInput(name, ElementKinds.Name(tensor.ElementType), tensor.Shape, $"{set.Name}/{Path.GetFileName(set.InputFiles[i])}"), tensor);
            }
            foreach (var (input, feed) in plan.Inputs.Zip(defaults))
                if (input.Kind != InputKind.Random || !byName.ContainsKey(input.Name))
                    byName[input.Name] = input.Kind == InputKind.Constant && byName.TryGetValue(input.Name, out var stored)
                        ? (feed.Info with { Shape = stored.Tensor.Shape }, HostTensor.Filled(input.ElementType, stored.Tensor.Shape, input.Constant))
                        : feed;
            var feeds = byName.Values.ToList();
            RunOutputs referenceOutputs;
            CandidateRun candidateRun;
            try
            {
                (referenceOutputs, candidateRun) = RunBoth(referenceSession, candidateSession, feeds, outputs, candidateInputs);
            }
            catch (OnnxRuntimeException e)
            {
                throw new RuntimeFailure($"ONNX Runtime cannot run {_referenceLabel} on {set.Name} ({DescribeFeeds(feeds)}): {OrtRuntime.FirstLine(e.Message)}", e);
            }
            using (referenceOutputs)
            using (candidateRun)
                _trials.Add(CompareTrial(index, set.Name, feeds, new Dictionary<string, long>(), [], referenceOutputs, candidateRun, outputs, set));
        }
    }

    /// <summary>
    /// Runs the reference on this thread and the candidate concurrently on another, on the same feeds.
    /// Throws the reference's ORT error (after the candidate's run has finished and been released).
    /// </summary>
    private (RunOutputs Reference, CandidateRun Candidate) RunBoth(InferenceSession referenceSession, InferenceSession candidateSession,
        List<(TrialInput Info, HostTensor Tensor)> feeds, List<(string Reference, string Candidate)> outputs, HashSet<string> candidateInputs)
    {
        var candidateFeeds = feeds.Where(f => candidateInputs.Contains(f.Info.Name)).Select(f => (f.Info.Name, f.Tensor)).ToList();
        var candidateFetches = outputs.Select(o => o.Candidate).Concat(_preActivations.Select(p => p.Candidate)).ToList();
        var candidateTask = Task.Run(() =>
        {
            try
            {
                return new CandidateRun(SessionRunner.Run(candidateSession, candidateFeeds, candidateFetches, cancellation), null);
            }
            catch (OnnxRuntimeException e)
            {
                return new CandidateRun(null, OrtRuntime.FirstLine(e.Message));
            }
        });
        RunOutputs? referenceOutputs = null;
        try
        {
            referenceOutputs = SessionRunner.Run(referenceSession, feeds.Select(f => (f.Info.Name, f.Tensor)).ToList(), ReferenceFetches(outputs), cancellation);
            return (referenceOutputs, candidateTask.GetAwaiter().GetResult());
        }
        catch
        {
            referenceOutputs?.Dispose();
            try { candidateTask.GetAwaiter().GetResult().Dispose(); }
            catch (OperationCanceledException) { }
            throw;
        }
    }

    private TrialResult CompareTrial(int trial, string source, List<(TrialInput Info, HostTensor Tensor)> feeds, Dictionary<string, long> dims,
        List<string> rejections, RunOutputs referenceOutputs, CandidateRun candidateRun,
        List<(string Reference, string Candidate)> outputs, TestDataSet? storedOutputs)
    {
        var comparisons = new List<OutputComparison>();
        var preActivations = new List<OutputComparison>();
        string? candidateFailure = candidateRun.Failure;
        if (candidateRun.Outputs is { } candidateOutputs)
        {
            foreach (var (referenceName, candidateName) in outputs)
            {
                var a = referenceOutputs.Get(referenceName);
                var b = candidateOutputs.Get(candidateName);
                comparisons.Add(TensorComparer.Compare(referenceName, candidateName, a.ElementType, a.Shape, a.Raw, b.ElementType, b.Shape, b.Raw, options.Rtol, options.Atol));
            }
            foreach (var pre in _preActivations)
            {
                var a = referenceOutputs.Get(pre.Reference);
                var b = candidateOutputs.Get(pre.Candidate);
                preActivations.Add(TensorComparer.Compare(pre.Reference, pre.Candidate, a.ElementType, a.Shape, a.Raw, b.ElementType, b.Shape, b.Raw, options.Rtol, options.Atol)
                    with { Role = $"input of {pre.Activation} producing output '{pre.Output}'" });
            }
        }
        else
        {
            foreach (var (referenceName, candidateName) in outputs)
            {
                var a = referenceOutputs.Get(referenceName);
                comparisons.Add(TensorComparer.Missing(referenceName, candidateName, ElementKinds.Name(a.ElementType), a.Shape, "the candidate failed to run"));
            }
        }

        var stored = storedOutputs is null ? [] : CompareStored(storedOutputs, referenceOutputs, outputs);
        var result = new TrialResult
        {
            Number = trial + 1,
            Source = source,
            Inputs = feeds.Select(f => f.Info).ToList(),
            FreeDims = dims,
            Fallbacks = rejections,
            Outputs = comparisons,
            PreActivations = preActivations,
            StoredOutputs = stored,
            CandidateFailure = candidateFailure,
        };
        bool differs = !result.Passed;
        if (_localizeFeeds is null || differs && _trials.All(t => t.Passed))
        {
            _localizeFeeds = feeds.Select(f => (f.Info.Name, f.Tensor)).ToList();
            _localizeTrial = trial + 1;
        }
        return result;
    }

    private List<OutputComparison> CompareStored(TestDataSet set, RunOutputs referenceOutputs, List<(string Reference, string Candidate)> outputs)
    {
        var results = new List<OutputComparison>();
        var names = reference.Graph.Outputs.Select(v => v.Name).ToList();
        for (int i = 0; i < set.OutputFiles.Count; i++)
        {
            var (storedName, expected) = TensorFiles.ReadTensorProto(set.OutputFiles[i]);
            string name = storedName.Length > 0 && names.Contains(storedName) ? storedName
                : i < names.Count ? names[i]
                : throw new OnnxConvException(ExitCode.UsageError, $"{set.OutputFiles[i]}: the model has only {names.Count} outputs");
            string label = $"{set.Name}/{Path.GetFileName(set.OutputFiles[i])}";
            if (outputs.All(o => o.Reference != name))
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

    private void DescribeFailures(TrialResult trial)
    {
        if (trial.CandidateFailure is not null)
            _problems.Add($"trial {trial.Number}: the candidate failed on inputs the reference accepts: {trial.CandidateFailure}");
        foreach (var output in trial.Outputs.Where(o => !o.Passed && trial.CandidateFailure is null))
            _problems.Add($"trial {trial.Number}: output '{output.Name}' {DescribeMismatch(output)}");
        foreach (var pre in trial.PreActivations.Where(o => !o.Passed))
        {
            string output = _preActivations.First(p => p.Reference == pre.Name).Output;
            bool outputAgrees = trial.Outputs.FirstOrDefault(o => o.Name == output)?.Passed == true;
            _problems.Add($"trial {trial.Number}: '{pre.Name}', the {pre.Role}, {DescribeMismatch(pre)}"
                + (outputAgrees ? $" (the output itself agrees within tolerance: the activation saturates on these inputs)" : ""));
        }
        foreach (var output in trial.StoredOutputs.Where(o => !o.Passed))
            _problems.Add($"trial {trial.Number}: the reference's output '{output.Name}' differs from the stored {output.CandidateName ?? output.Name}: {DescribeMismatch(output)}");
    }

    private List<string> ReferenceFetches(List<(string Reference, string Candidate)> outputs) =>
        outputs.Select(o => o.Reference).Concat(_preActivations.Select(p => p.Reference)).ToList();

    private static readonly HashSet<string> SaturatingActivations = new(StringComparer.Ordinal)
    {
        "Sigmoid", "HardSigmoid", "Tanh", "Softsign", "Softmax", "Clip",
    };

    private static readonly HashSet<string> LayoutOps = new(StringComparer.Ordinal)
    {
        "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity",
    };

    /// <summary>For outputs that end in a saturating activation, the activation's input when both models have it.</summary>
    private List<PreActivation> FindPreActivations(List<(string Reference, string Candidate)> outputs)
    {
        var found = new List<PreActivation>();
        var outputNames = reference.Graph.Outputs.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (referenceName, _) in outputs)
        {
            var node = reference.Graph.Find(referenceName)?.Producer;
            while (node is { IsOnnxDomain: true } && LayoutOps.Contains(node.OpType) && node.Input(0)?.Producer is { } upstream)
                node = upstream;
            if (node is not { IsOnnxDomain: true } || !SaturatingActivations.Contains(node.OpType)) continue;
            if (node.Input(0) is not { Producer: not null } input || outputNames.Contains(input.Name) || !ReferenceEquals(input.Graph, reference.Graph)) continue;
            string candidateName = options.NameMap?.GetValueOrDefault(input.Name) ?? input.Name;
            if (candidate.Graph.Find(candidateName) is not { Producer: not null } || candidate.Graph.Outputs.Any(v => v.Name == candidateName)) continue;
            if (found.Any(f => f.Reference == input.Name)) continue;
            found.Add(new PreActivation(referenceName, node.OpType, input.Name, candidateName));
        }
        return found;
    }

    internal static string DescribeMismatch(OutputComparison output)
    {
        if (output.Problem is not null) return output.Problem;
        var parts = new List<string>();
        if (output.Mismatches > 0 && output.Exact)
            parts.Add($"{output.Mismatches} of {output.Elements} elements differ ({output.ReferenceType} is compared exactly; max abs difference {Format.Number(output.MaxAbsError)})");
        else if (output.Mismatches > 0)
            parts.Add($"{output.Mismatches} of {output.Elements} elements outside atol {Format.Number(output.Atol)} + rtol {Format.Number(output.Rtol)}·max(|a|, {Format.Number(TensorComparer.ScaleFloor)}·rms {Format.Number(output.Scale)}) "
                + $"(max abs error {Format.Number(output.MaxAbsError)}, max rel error {Format.Number(output.MaxRelError)}){PassingAtolHint(output)}");
        if (output.NanInfMismatches > 0) parts.Add($"{output.NanInfMismatches} NaN/Inf mismatches");
        return string.Join("; ", parts);
    }

    /// <summary>Factor over the atol used within which a failure counts as a small margin, worth naming the atol that would pass.</summary>
    private const double SmallMargin = 100;

    private static string PassingAtolHint(OutputComparison output) =>
        output.SmallestPassingAtol is { } needed && needed <= SmallMargin * Math.Max(output.Atol, double.Epsilon)
            ? $"; --atol {Format.Number(Format.RoundUp(needed))} would pass"
            : "";

    internal static string FormatDims(IReadOnlyDictionary<string, long> dims) =>
        string.Join(", ", dims.Select(d => $"{d.Key}={d.Value}"));

    private static string DescribeFeeds(IEnumerable<(TrialInput Info, HostTensor Tensor)> feeds) =>
        string.Join(", ", feeds.Select(f => $"{f.Info.Name} {f.Tensor.Describe()}"));

    private LocalizationResult Localize(List<(string Name, HostTensor Tensor)> feeds)
    {
        try
        {
            return new Localizer(reference, candidate, options, _referenceLabel, _candidateLabel, cancellation).Run(feeds, _localizeTrial);
        }
        catch (RuntimeFailure e)
        {
            return new LocalizationResult { Trial = _localizeTrial, Failure = e.Message };
        }
    }
}

/// <summary>The input of a saturating activation that produces <see cref="Output"/>, compared alongside it.</summary>
internal sealed record PreActivation(string Output, string Activation, string Reference, string Candidate);

/// <summary>The candidate's run on one trial's inputs: its outputs, or ORT's message when it failed.</summary>
internal sealed record CandidateRun(RunOutputs? Outputs, string? Failure) : IDisposable
{
    public void Dispose() => Outputs?.Dispose();
}
