namespace OnnxConvTool.Verification;

/// <summary>One trial: the inputs both models got, and how each output compared.</summary>
public sealed record TrialResult
{
    /// <summary>1-based trial number.</summary>
    public required int Number { get; init; }

    /// <summary>"random" or the test data set's folder name.</summary>
    public required string Source { get; init; }

    /// <summary>What each input of both models was fed.</summary>
    public required IReadOnlyList<TrialInput> Inputs { get; init; }

    /// <summary>The value each free (symbolic or unknown) input dim took, by symbol or "input[axis]".</summary>
    public required IReadOnlyDictionary<string, long> FreeDims { get; init; }

    /// <summary>Dims ORT rejected before the ones used, with its message, and which fallback replaced them.</summary>
    public IReadOnlyList<string> Fallbacks { get; init; } = [];

    /// <summary>Candidate output vs reference output, in the reference's output order.</summary>
    public IReadOnlyList<OutputComparison> Outputs { get; init; } = [];

    /// <summary>Inputs of saturating output activations (see <see cref="EquivalenceChecker"/>), candidate vs reference.</summary>
    public IReadOnlyList<OutputComparison> PreActivations { get; init; } = [];

    /// <summary>Reference output vs the data set's stored <c>output_N.pb</c> (test data only).</summary>
    public IReadOnlyList<OutputComparison> StoredOutputs { get; init; } = [];

    /// <summary>ORT's message when the candidate failed on inputs the reference accepted.</summary>
    public string? CandidateFailure { get; init; }

    /// <summary>True when every output (and compared pre-activation and stored output) is within tolerance and the candidate ran.</summary>
    public bool Passed => CandidateFailure is null && Outputs.All(o => o.Passed) && PreActivations.All(o => o.Passed) && StoredOutputs.All(o => o.Passed);
}

/// <summary>Result of <c>--localize</c>: the shared intermediates compared and the first that diverges.</summary>
public sealed record LocalizationResult
{
    /// <summary>The trial whose inputs were used (the first with a difference, else the first).</summary>
    public int Trial { get; init; }

    /// <summary>Intermediate tensors present in both models (by name or through the name map) and compared.</summary>
    public int Compared { get; init; }

    /// <summary>Compared intermediates outside tolerance.</summary>
    public int Diverged { get; init; }

    /// <summary>The first diverging intermediate in the reference's topological order, or null.</summary>
    public OutputComparison? FirstDivergence { get; init; }

    /// <summary>The reference node producing <see cref="FirstDivergence"/>, as "OpType 'name'".</summary>
    public string? Producer { get; init; }

    /// <summary>Why localisation could not run, or null.</summary>
    public string? Failure { get; init; }
}

/// <summary>The outcome of comparing two models with ONNX Runtime, and its renderings.</summary>
public sealed partial class VerificationReport
{
    /// <summary>How the report names the reference model (its path unless a label was given).</summary>
    public required string Reference { get; init; }
    /// <summary>How the report names the candidate model.</summary>
    public required string Candidate { get; init; }

    /// <summary>0 equivalent, 1 different, 6 could not run (the shared exit-code scheme).</summary>
    public required ExitCode ExitCode { get; init; }

    /// <summary>True when verification found the models equivalent (exit code 0).</summary>
    public bool Equivalent => ExitCode == ExitCode.Ok;

    /// <summary>
    /// Exit 6 because the evidence is not enough, though both models ran: the reference differs from itself,
    /// or a node the rewrite created ran in no trial.
    /// </summary>
    public bool NotVerified { get; init; }

    /// <summary><c>equivalent</c>, <c>different</c>, <c>not verified</c> or <c>could not run</c>.</summary>
    public string Verdict => ExitCode switch
    {
        ExitCode.Ok => "equivalent",
        ExitCode.VerificationFoundDifference => "different",
        _ when NotVerified => "not verified",
        _ => "could not run",
    };

    /// <summary>The differences found (exit 1) or why verification could not run (exit 6); each one sentence.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>Facts worth knowing that are not problems (fixed inputs, fallbacks taken).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>ONNX Runtime's messages in full, as it wrote them (the report quotes their first line); for --verbose.</summary>
    public IReadOnlyList<string> RuntimeMessages { get; init; } = [];

    /// <summary>Every trial run, in order.</summary>
    public IReadOnlyList<TrialResult> Trials { get; init; } = [];
    /// <summary>The first diverging intermediate (with <see cref="VerifyOptions.Localize"/>), or null.</summary>
    public LocalizationResult? Localization { get; init; }

    /// <summary>Which of the rewrite's created nodes ran (when the caller named them), or null.</summary>
    public CoverageResult? Coverage { get; init; }

    /// <summary>The ONNX Runtime version and session settings used.</summary>
    public required string Engine { get; init; }
    /// <summary>The seed of the random inputs.</summary>
    public int Seed { get; init; }
    /// <summary>The relative tolerance asked for (null: the default per element type).</summary>
    public double? Rtol { get; init; }
    /// <summary>The absolute tolerance asked for (null: the default per element type).</summary>
    public double? Atol { get; init; }

    /// <summary>Output elements compared between the two models over all trials.</summary>
    public long ComparedElements => Trials.Sum(t => t.Outputs.Where(o => o.Problem is null).Sum(o => o.Elements));

    /// <summary>One line: the verdict and what it rests on.</summary>
    public string Summary
    {
        get
        {
            int outputs = Trials.Count > 0 ? Trials.Max(t => t.Outputs.Count) : 0;
            string basis = $"{Plural(Trials.Count, "trial")}, {Plural(outputs, "output")}, {ComparedElements:N0} elements compared";
            return ExitCode switch
            {
                ExitCode.Ok => $"equivalent: {basis}{CoverageText}",
                ExitCode.VerificationFoundDifference => $"different: {Problems.FirstOrDefault()}{(Problems.Count > 1 ? $" (and {Plural(Problems.Count - 1, "more problem")})" : "")} — {basis}",
                _ when NotVerified => Problems.FirstOrDefault() ?? "not verified",
                _ => $"could not run: {Problems.FirstOrDefault()}",
            };
        }
    }

    private string CoverageText => Coverage is { } c ? $", {c.Ran} of {Plural(c.Tracked, "rewritten node")} ran" + (c.NeverRan.Count > 0 ? $" ({string.Join(", ", c.NeverRan.Select(n => $"'{n}'"))} never ran)" : "") : "";

    internal static string Plural(long count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";
}
