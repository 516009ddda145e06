using System.Collections.Concurrent;
using OnnxConvTool.Ir;
using OnnxConvTool.Rules;

namespace OnnxConvTool.Analysis;

/// <summary>What the batch keeps of one audited model: the figures of the summary table (the model itself is released).</summary>
internal sealed record AuditBatchCounts(int Conv, int Conv1x1, long? Macs, long? Conv1x1Macs, double? Conv1x1MacShare, int Fold, int Merge)
{
    /// <summary>The summary figures of <paramref name="report"/>: 1x1 convs some fold rule applies to, and those some merge rule applies to.</summary>
    public static AuditBatchCounts Of(AuditReport report)
    {
        var fold = RuleCatalog.Set(RuleCatalog.FoldSet).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        var merge = RuleCatalog.Set(RuleCatalog.MergeSet).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        int Applying(HashSet<string> rules) => report.Conv1x1.Count(r => r.Fusions?.Any(f => f.Applies && rules.Contains(f.Rule)) == true);
        var t = report.Totals;
        return new AuditBatchCounts(t.Conv, t.Conv1x1, t.Macs, t.Conv1x1Macs, t.Conv1x1MacShare, Applying(fold), Applying(merge));
    }
}

/// <summary>
/// One model of a batch: what the caller rendered of its audit and its counts, or why it was not audited
/// (<see cref="Error"/>, with the exit code a single-model audit would have given).
/// </summary>
internal sealed record AuditBatchItem(string Path, string? Rendered, AuditBatchCounts? Counts, string? Error, ExitCode ErrorCode)
{
    public bool Failed => Error is not null;
}

/// <summary>
/// Audits many models in parallel, each loaded, audited, rendered and released by one worker, so memory is bounded
/// by the largest models in flight (one per worker), not by their sum. A model that cannot be audited is reported
/// and skipped; it never stops the batch.
/// </summary>
internal static class AuditBatch
{
    public const string ModelExtension = ".onnx";

    /// <summary>
    /// The models named by <paramref name="paths"/>: a file as given, a folder's <c>*.onnx</c> files (those of its
    /// subfolders too when <paramref name="recursive"/>; hidden entries skipped), each folder's sorted by path.
    /// A path that does not exist is kept, so the batch reports it like any bad model.
    /// </summary>
    public static IReadOnlyList<string> FindModels(IEnumerable<string> paths, bool recursive)
    {
        var found = new List<string>();
        foreach (string path in paths)
        {
            if (!Directory.Exists(path))
            {
                found.Add(path);
                continue;
            }
            var options = new EnumerationOptions { RecurseSubdirectories = recursive, MatchCasing = MatchCasing.CaseInsensitive, IgnoreInaccessible = true };
            found.AddRange(Directory.EnumerateFiles(path, "*" + ModelExtension, options)
                .Where(f => f.EndsWith(ModelExtension, StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal));
        }
        return found;
    }

    /// <summary>
    /// Audits <paramref name="models"/> on up to <paramref name="jobs"/> threads. <paramref name="render"/> turns each
    /// audit into the text the caller keeps; <paramref name="onItem"/> gets every item in the order of
    /// <paramref name="models"/> (never concurrently), as soon as it and all before it are done.
    /// </summary>
    /// <param name="checkInputs">Called with each loaded model before its audit; it throws <see cref="OnnxConvException"/> to skip a model the options do not fit.</param>
    /// <param name="progress">Told as each model is done (phase "auditing models").</param>
    /// <exception cref="OperationCanceledException">Cancelled; models already done were passed to <paramref name="onItem"/>.</exception>
    /// <param name="models">The model files, in report order.</param>
    /// <param name="options">The audit options every model shares.</param>
    /// <param name="jobs">The most models audited at once.</param>
    /// <param name="render">Turns an audit into the text kept for it.</param>
    /// <param name="onItem">Gets each finished item, in model order.</param>
    /// <param name="cancellation">Stops the batch between models.</param>
    public static void Run(IReadOnlyList<string> models, AuditOptions options, Action<Model, string>? checkInputs, int jobs, Func<AuditReport, string> render,
        Action<AuditBatchItem> onItem, IProgress<WorkProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(jobs, 1);
        var done = new AuditBatchItem?[models.Count];
        int next = 0, finished = 0;
        var gate = new object();
        progress?.Report(new WorkProgress("auditing models", 0, models.Count));
        Parallel.ForEach(Partitioner.Create(Enumerable.Range(0, models.Count), EnumerablePartitionerOptions.NoBuffering),
            new ParallelOptions { MaxDegreeOfParallelism = jobs, CancellationToken = cancellation },
            i =>
            {
                var item = AuditOne(models[i], options, checkInputs, render);
                lock (gate)
                {
                    done[i] = item;
                    progress?.Report(new WorkProgress("auditing models", ++finished, models.Count));
                    for (; next < done.Length && done[next] is { } ready; next++)
                    {
                        onItem(ready);
                        done[next] = null;
                    }
                }
            });
    }

    private static AuditBatchItem AuditOne(string path, AuditOptions options, Action<Model, string>? checkInputs, Func<AuditReport, string> render)
    {
        try
        {
            var model = ModelReader.Load(path);
            checkInputs?.Invoke(model, path);
            var report = Conv1x1Audit.Run(model, options, path);
            return new AuditBatchItem(path, render(report), AuditBatchCounts.Of(report), null, ExitCode.Ok);
        }
        catch (OnnxConvException e)
        {
            return new AuditBatchItem(path, null, null, e.Message.ReplaceLineEndings(" "), e.ExitCode);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            return new AuditBatchItem(path, null, null, $"{path}: internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", ExitCode.Unsupported);
        }
    }
}
