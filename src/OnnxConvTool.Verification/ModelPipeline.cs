using System.Diagnostics;
using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Pipeline;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Verification;

/// <summary>
/// One job of <c>rewrite</c> or <c>optimize</c>: the model to read, the transform to run on it, how to verify the
/// result (null: not verified), and where to write it.
/// </summary>
public sealed record PipelineRequest
{
    /// <summary>The model file to read (never modified unless it is also the output and the save options allow it).</summary>
    public required string InputPath { get; init; }
    /// <summary>Where the transformed model is written.</summary>
    public required string OutputPath { get; init; }
    /// <summary>How the output is written (external data, overwriting the input).</summary>
    public SaveOptions SaveOptions { get; init; } = new();
    /// <summary>The transform to run (see <see cref="TransformPlans"/>).</summary>
    public required TransformPlan Plan { get; init; }

    /// <summary>Verification options; null skips verification.</summary>
    public VerifyOptions? Verify { get; init; }

    /// <summary>Verify even when the transform changed nothing (the written model is still compared with its input).</summary>
    public bool VerifyUnchanged { get; init; }

    /// <summary>Inspect the model before and after (op counts, MACs, parameters) for the report.</summary>
    public bool Inspect { get; init; }

    /// <summary>
    /// The --shape input dims: checked against the input model before any work (even when nothing is verified) and
    /// fixed for the inspection's MAC count (free batch dims are taken as 1 regardless).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Dim>>? InspectShapes { get; init; }

    /// <summary>
    /// Called after the transform, before verification and writing; it may throw to stop the job (e.g. a node
    /// selector that named nothing), and then nothing is written.
    /// </summary>
    public Action<TransformResult>? AfterTransform { get; init; }

    /// <summary>Told as the job loads, transforms (stage by stage), verifies (trial by trial) and writes.</summary>
    public IProgress<WorkProgress>? Progress { get; init; }
}

/// <summary>What a pipeline run did; <see cref="Written"/> is false exactly when verification found a difference or could not run.</summary>
public sealed record PipelineResult(
    TransformResult Transform,
    VerificationReport? Verification,
    bool Written,
    TimeSpan TransformTime,
    TimeSpan VerifyTime,
    ModelInspection? Before,
    ModelInspection? After)
{
    /// <summary>0 when written, else the verification's exit code (1 different, 6 could not run).</summary>
    public ExitCode ExitCode => Verification is { Equivalent: false } v ? v.ExitCode : ExitCode.Ok;

    /// <summary>Verification was asked for but not needed: the transform changed nothing.</summary>
    public bool NothingToVerify => Verification is null && !Transform.Modified;
}

/// <summary>
/// Load → transform → verify → write, shared by <c>rewrite</c> and <c>optimize</c>. The input is read as the candidate
/// to transform, and again as the reference when verification runs; the candidate is verified against the reference
/// with <see cref="EquivalenceChecker"/> when it changed (or always, with <see cref="PipelineRequest.VerifyUnchanged"/>), and written only when it is equivalent (or verification was
/// not asked for). The input file is never modified unless it is the output and the save options allow it.
/// </summary>
public static class ModelPipeline
{
    /// <exception cref="OnnxConvException">The input is rejected, the options are bad, or the output cannot be written.</exception>
    public static PipelineResult Run(PipelineRequest request, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var progress = request.Progress;
        progress?.Report(new WorkProgress($"loading {Path.GetFileName(request.InputPath)}", 0, 0));
        var candidate = ModelReader.Load(request.InputPath);
        if (request.InspectShapes is { } shapes) ShapeOverrides.Validate(candidate, shapes);
        var before = request.Inspect ? ModelInspection.Of(candidate, request.InputPath, request.InspectShapes) : null;
        var transform = ModelTransformer.Run(candidate, request.Plan, cancellation, progress);
        request.AfterTransform?.Invoke(transform);
        var after = request.Inspect ? ModelInspection.Of(candidate, request.OutputPath, request.InspectShapes) : null;
        var transformTime = clock.Elapsed;

        VerificationReport? verification = null;
        if (request.Verify is { } verify && (transform.Modified || request.VerifyUnchanged))
        {
            // The reference is read again from the file, which the transform never touched.
            progress?.Report(new WorkProgress($"loading {Path.GetFileName(request.InputPath)} as the reference", 0, 0));
            var reference = ModelReader.Load(request.InputPath);
            verification = EquivalenceChecker.Verify(reference, candidate,
                verify with
                {
                    Progress = progress,
                    NameMap = transform.ValueNameMap,
                    CreatedNodes = transform.CreatedNodes.Select(n => n.NodeName).ToList(),
                    ReferenceLabel = request.InputPath,
                    CandidateLabel = request.OutputPath,
                }, cancellation);
        }
        var verifyTime = clock.Elapsed - transformTime;

        bool write = verification is null || verification.Equivalent;
        if (write) progress?.Report(new WorkProgress($"writing {Path.GetFileName(request.OutputPath)}", 0, 0));
        if (write) ModelWriter.Save(candidate, request.OutputPath, request.SaveOptions, cancellation);
        return new PipelineResult(transform, verification, write, transformTime, verifyTime, before, after);
    }
}
