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
/// addition, or types differently is a difference. Models with no output (or no input) in common are
/// different without running them.
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
/// Trials: the random ones, an edge-value trial and one per value of each input that decides an If
/// (<see cref="InputPlan.Schedule"/>). The reference runs twice on the first trial's inputs and must give
/// the same bits. With <see cref="VerifyOptions.CreatedNodes"/>, ONNX Runtime's profiler tells which of
/// them ran (<see cref="ExecutionCoverage"/>). With <see cref="VerifyOptions.Localize"/>, a shared
/// intermediate outside tolerance is a difference even when every output agrees.
/// </para>
/// <para>
/// Exit codes: 0 equivalent; 1 different (including: the candidate fails on inputs the reference
/// accepts, the reference disagrees with stored test-data outputs, a localised intermediate diverges);
/// 6 could not run or not verified (ORT cannot load either model or run the reference on any inputs
/// tried, nothing was compared, the reference is not deterministic, a created node never ran).
/// </para>
/// </summary>
public static class EquivalenceChecker
{
    /// <exception cref="OnnxConvException">Bad options (usage error, exit 2).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static VerificationReport Verify(Model reference, Model candidate, VerifyOptions options, CancellationToken cancellation = default)
    {
        ValidateOptions(options);
        return new VerificationRun(reference, candidate, options, cancellation).Execute();
    }

    private static void ValidateOptions(VerifyOptions options)
    {
        if (options.Trials < 1) throw new OnnxConvException(ExitCode.UsageError, $"--trials must be at least 1 (got {options.Trials})");
        if (options.Rtol is < 0 || options.Rtol is double r && double.IsNaN(r)) throw new OnnxConvException(ExitCode.UsageError, $"--rtol must be a non-negative number (got {options.Rtol})");
        if (options.Atol is < 0 || options.Atol is double a && double.IsNaN(a)) throw new OnnxConvException(ExitCode.UsageError, $"--atol must be a non-negative number (got {options.Atol})");
    }
}

/// <summary>One verification: sessions, the trials' runs and the verdict. Planning, pairing, judging and localising live in their own classes.</summary>
internal sealed class VerificationRun(Model reference, Model candidate, VerifyOptions options, CancellationToken cancellation)
{
    private readonly string _referenceLabel = options.ReferenceLabel ?? Label(reference, "reference");
    private readonly string _candidateLabel = options.CandidateLabel ?? Label(candidate, "candidate");
    private readonly List<string> _problems = [];
    private readonly List<string> _notes = [];
    private readonly List<string> _runtimeMessages = [];
    private readonly List<TrialResult> _trials = [];
    private ModelPairing _pairing = null!;
    private TrialComparison _judge = null!;
    private string? _nondeterministic;
    private List<(string Name, HostTensor Tensor)>? _localizeFeeds;
    private int _localizeTrial;

    private static string Label(Model model, string fallback) => model.SourcePath is { Length: > 0 } path ? path : fallback;

    public VerificationReport Execute()
    {
        CoverageResult? coverage = null;
        try
        {
            var plan = InputPlan.Create(reference, options, _referenceLabel);
            _pairing = ModelPairing.Create(reference, candidate, options, plan);
            if (_pairing.NothingInCommon is { } unrelated)
                return Report(ExitCode.VerificationFoundDifference, [unrelated, .. _pairing.Problems]);
            _problems.AddRange(_pairing.Problems);
            _judge = new TrialComparison(reference, options, _pairing);
            var testData = options.TestDataDirectory is { } directory ? TestDataSets.Discover(directory, TestDataLimits.For(reference, options)) : null;
            var tracked = TrackedNodes();
            using var profile = tracked.Count > 0 ? new ProfileFolder() : null;
            var (referenceSession, candidateSession) = CreateSessions(profile);
            using var disposeReference = referenceSession;
            using var disposeCandidate = candidateSession;
            if (testData is not null)
                RunTestData(plan, testData, referenceSession, candidateSession);
            else
                RunScheduledTrials(plan, referenceSession, candidateSession);
            if (tracked.Count > 0) coverage = ExecutionCoverage.Summarize(tracked, ExecutionCoverage.ExecutedNodes(candidateSession));
        }
        catch (RuntimeFailure e)
        {
            if (e.InnerException is OnnxRuntimeException runtime) _runtimeMessages.Add(runtime.Message);
            return Report(ExitCode.VerificationCouldNotRun, [e.Message]);
        }
        return Verdict(coverage);
    }

    private VerificationReport Verdict(CoverageResult? coverage)
    {
        if (_nondeterministic is { } output)
            return Report(ExitCode.VerificationCouldNotRun, [$"not verified: the reference is not deterministic (output '{output}' differs between two runs on the same inputs)"], null, coverage, notVerified: true);
        LocalizationResult? localization = options.Localize && _localizeFeeds is not null ? Localize(_localizeFeeds) : null;
        bool passed = _problems.Count == 0 && _trials.All(t => t.Passed);
        if (!passed)
        {
            foreach (var trial in _trials) _problems.AddRange(_judge.DescribeFailures(trial));
            return Report(ExitCode.VerificationFoundDifference, _problems, localization, coverage);
        }
        if (_trials.Sum(t => t.Outputs.Sum(o => o.FiniteElements)) == 0)
        {
            string why = _pairing.Outputs.Count == 0 ? $"{_referenceLabel} has no outputs"
                : _trials.Sum(t => t.Outputs.Sum(o => o.Elements)) == 0 ? "every output was empty in every trial"
                : "every output element was NaN or infinite in both models";
            return Report(ExitCode.VerificationCouldNotRun, [$"nothing was compared: {why}"], localization, coverage);
        }
        if (localization?.FirstDivergence is { } diverging)
            return Report(ExitCode.VerificationFoundDifference,
                [$"outputs agree, but '{diverging.Name}'{(diverging.CandidateName is { } other ? $" (candidate '{other}')" : "")} diverges on trial {localization.Trial}: {TrialComparison.DescribeMismatch(diverging)}"],
                localization, coverage);
        if (coverage is { NeverRan.Count: > 0 } && !options.AllowUnexecuted)
            return Report(ExitCode.VerificationCouldNotRun,
                [$"not verified: {coverage.NeverRan.Count} of {VerificationReport.Plural(coverage.Tracked, "rewritten node")} never ran in any trial: {string.Join(", ", coverage.NeverRan.Select(n => $"'{n}'"))}"],
                localization, coverage, notVerified: true);
        return Report(ExitCode.Ok, [], localization, coverage);
    }

    private VerificationReport Report(ExitCode code, IReadOnlyList<string> problems, LocalizationResult? localization = null, CoverageResult? coverage = null,
        bool notVerified = false) => new()
    {
        NotVerified = notVerified,
        Reference = _referenceLabel,
        Candidate = _candidateLabel,
        ExitCode = code,
        Problems = problems.Distinct().ToList(),
        Notes = _notes,
        RuntimeMessages = _runtimeMessages,
        Trials = _trials,
        Localization = localization,
        Coverage = coverage,
        Engine = $"ONNX Runtime {OrtRuntime.Version} (CPU, graph optimisations off, 1 intra-op thread)",
        Seed = options.Seed,
        Rtol = options.Rtol,
        Atol = options.Atol,
    };

    /// <summary>The created nodes the candidate still has that ONNX Runtime runs as kernels (it turns Constant nodes into initializers).</summary>
    private List<string> TrackedNodes()
    {
        if (options.CreatedNodes.Count == 0) return [];
        var present = candidate.AllNodes().Where(n => !(n.IsOnnxDomain && n.OpType == "Constant")).Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        return options.CreatedNodes.Where(present.Contains).Distinct().ToList();
    }

    /// <summary>
    /// Both sessions, built concurrently: serialising and loading a model into ONNX Runtime is most of
    /// verify's cost and the two are independent. Each session still runs with one intra-op thread.
    /// </summary>
    private (InferenceSession Reference, InferenceSession Candidate) CreateSessions(ProfileFolder? profile)
    {
        var referenceTask = Task.Run(() => OrtRuntime.CreateSession(reference, SessionSettings.Verification, _referenceLabel,
            _pairing.PreActivations.Select(p => p.Reference).ToList()));
        InferenceSession? candidateSession = null;
        Exception? candidateError = null;
        try
        {
            var settings = profile is null ? SessionSettings.Verification : SessionSettings.Verification with { ProfilePrefix = profile.Prefix };
            candidateSession = OrtRuntime.CreateSession(candidate, settings, _candidateLabel, _pairing.PreActivations.Select(p => p.Candidate).ToList());
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

    private void RunScheduledTrials(InputPlan plan, InferenceSession referenceSession, InferenceSession candidateSession)
    {
        int randomTrials = options.Trials;
        if (plan.IsFullyFixed && randomTrials > 1)
        {
            _notes.Add($"every input is fixed (no random data, no free dims), so one trial is run instead of {randomTrials}");
            randomTrials = 1;
        }
        Dictionary<string, long>? firstThatRan = null;
        var schedule = plan.Schedule(randomTrials);
        foreach (var spec in schedule)
        {
            cancellation.ThrowIfCancellationRequested();
            options.Progress?.Report(new WorkProgress("verification trials", spec.Index, schedule.Count));
            var rejections = new List<string>();
            string? firstError = null;
            List<(TrialInput Info, HostTensor Tensor)>? feeds = null;
            RunOutputs? referenceOutputs = null;
            Dictionary<string, long>? used = null;
            CandidateRun? candidateRun = null;
            foreach (var (dims, why) in new[] { (spec.Dims, (string?)null) }.Concat(plan.Fallbacks(spec.Dims, firstThatRan).Select(f => (f.Dims, (string?)f.Why))))
            {
                var attempt = plan.MakeFeeds(spec, dims);
                try
                {
                    (referenceOutputs, candidateRun) = RunBoth(referenceSession, candidateSession, attempt);
                    if (why is not null) rejections.Add($"used {FormatDims(dims)} ({why})");
                    feeds = attempt;
                    used = dims;
                    break;
                }
                catch (OnnxRuntimeException e)
                {
                    string message = RuntimeMessage(e);
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
                if (spec.Index == 0) throw new RuntimeFailure(firstError + hint);
                _notes.Add($"trial {spec.Index + 1} ({spec.Source}) skipped: {firstError}");
                continue;
            }
            if (firstThatRan is null)
            {
                firstThatRan = used;
                CheckDeterminism(referenceSession, feeds!, referenceOutputs);
            }
            using (referenceOutputs)
            using (candidateRun)
                AddTrial(_judge.Compare(_trials.Count + 1, spec.Source, feeds!, used!, rejections, referenceOutputs, candidateRun!, storedOutputs: null), feeds!);
        }
    }

    /// <summary>Runs the reference a second time on the first trial's inputs: a model that differs from itself cannot vouch for a candidate.</summary>
    private void CheckDeterminism(InferenceSession referenceSession, List<(TrialInput Info, HostTensor Tensor)> feeds, RunOutputs first)
    {
        using var again = SessionRunner.Run(referenceSession, feeds.Select(f => (f.Info.Name, f.Tensor)).ToList(), _pairing.ReferenceFetches, cancellation);
        _nondeterministic ??= _judge.FirstNondeterministicOutput(first, again);
    }

    private void RunTestData(InputPlan plan, List<TestDataSet> sets, InferenceSession referenceSession, InferenceSession candidateSession)
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
                var (storedName, tensor) = set.ReadInput(i);
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
                (referenceOutputs, candidateRun) = RunBoth(referenceSession, candidateSession, feeds);
            }
            catch (OnnxRuntimeException e)
            {
                throw new RuntimeFailure($"ONNX Runtime cannot run {_referenceLabel} on {set.Name} ({DescribeFeeds(feeds)}): {RuntimeMessage(e)}", e);
            }
            if (index == 0) CheckDeterminism(referenceSession, feeds, referenceOutputs);
            using (referenceOutputs)
            using (candidateRun)
                AddTrial(_judge.Compare(index + 1, set.Name, feeds, new Dictionary<string, long>(), [], referenceOutputs, candidateRun, set), feeds);
        }
    }

    /// <summary>Records a trial; the first trial with a difference (else the first trial) gives --localize its inputs.</summary>
    private void AddTrial(TrialResult result, List<(TrialInput Info, HostTensor Tensor)> feeds)
    {
        if (_localizeFeeds is null || !result.Passed && _trials.All(t => t.Passed))
        {
            _localizeFeeds = feeds.Select(f => (f.Info.Name, f.Tensor)).ToList();
            _localizeTrial = result.Number;
        }
        _trials.Add(result);
    }

    /// <summary>
    /// Runs the reference on this thread and the candidate concurrently on another, on the same feeds.
    /// Throws the reference's ORT error (after the candidate's run has finished and been released).
    /// </summary>
    private (RunOutputs Reference, CandidateRun Candidate) RunBoth(InferenceSession referenceSession, InferenceSession candidateSession,
        List<(TrialInput Info, HostTensor Tensor)> feeds)
    {
        var candidateFeeds = feeds.Where(f => _pairing.CandidateInputs.Contains(f.Info.Name)).Select(f => (f.Info.Name, f.Tensor)).ToList();
        var candidateFetches = _pairing.CandidateFetches;
        var candidateTask = Task.Run(() =>
        {
            try
            {
                return new CandidateRun(SessionRunner.Run(candidateSession, candidateFeeds, candidateFetches, cancellation), null);
            }
            catch (OnnxRuntimeException e)
            {
                return new CandidateRun(null, RuntimeMessage(e));
            }
        });
        RunOutputs? referenceOutputs = null;
        try
        {
            referenceOutputs = SessionRunner.Run(referenceSession, feeds.Select(f => (f.Info.Name, f.Tensor)).ToList(), _pairing.ReferenceFetches, cancellation);
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

    /// <summary>ORT's message as one line for the report; the raw text is kept for --verbose.</summary>
    private string RuntimeMessage(OnnxRuntimeException e)
    {
        lock (_runtimeMessages) _runtimeMessages.Add(e.Message);
        return OrtRuntime.FirstLine(e.Message);
    }

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

/// <summary>The candidate's run on one trial's inputs: its outputs, or ORT's message when it failed.</summary>
internal sealed record CandidateRun(RunOutputs? Outputs, string? Failure) : IDisposable
{
    public void Dispose() => Outputs?.Dispose();
}
