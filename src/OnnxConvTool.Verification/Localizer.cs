using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

/// <summary>
/// Finds where two models start to disagree: every main-graph tensor the two models share (same name,
/// or old → new through the name map) becomes an extra graph output on copies of both models; both run
/// on one trial's inputs, and the intermediates are compared in the reference's topological order.
/// Tensors inside If/Loop/Scan bodies cannot be graph outputs and are not compared.
/// </summary>
internal sealed class Localizer(Model reference, Model candidate, VerifyOptions options, string referenceLabel, string candidateLabel,
    CancellationToken cancellation)
{
    public LocalizationResult Run(List<(string Name, HostTensor Tensor)> feeds, int trial)
    {
        var shared = SharedIntermediates();
        if (shared.Count == 0) return new LocalizationResult { Trial = trial, Failure = "the models share no intermediate tensor names" };

        var referenceCopy = ModelCopies.WithExtraOutputs(reference, shared.Select(s => s.Reference.Name));
        var candidateCopy = ModelCopies.WithExtraOutputs(candidate, shared.Select(s => s.CandidateName));
        using var referenceSession = OrtRuntime.CreateSession(referenceCopy, SessionSettings.Verification, referenceLabel + " (with intermediates as outputs)");
        using var candidateSession = OrtRuntime.CreateSession(candidateCopy, SessionSettings.Verification, candidateLabel + " (with intermediates as outputs)");
        var candidateInputs = candidate.Graph.Inputs.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        try
        {
            using var referenceOutputs = SessionRunner.Run(referenceSession, feeds, shared.Select(s => s.Reference.Name).ToList(), cancellation);
            using var candidateOutputs = SessionRunner.Run(candidateSession, feeds.Where(f => candidateInputs.Contains(f.Name)).ToList(), shared.Select(s => s.CandidateName).ToList(), cancellation);
            OutputComparison? first = null;
            string? producer = null;
            int diverged = 0;
            foreach (var (value, candidateName) in shared)
            {
                var a = referenceOutputs.Get(value.Name);
                var b = candidateOutputs.Get(candidateName);
                var comparison = TensorComparer.Compare(value.Name, candidateName, a.ElementType, a.Shape, a.Raw, b.ElementType, b.Shape, b.Raw, options.Rtol, options.Atol);
                if (comparison.Passed) continue;
                diverged++;
                if (first is not null) continue;
                first = comparison;
                producer = value.Producer is { } node ? $"{node.OpType} '{node.DisplayName}'" : null;
            }
            return new LocalizationResult { Trial = trial, Compared = shared.Count, Diverged = diverged, FirstDivergence = first, Producer = producer };
        }
        catch (OnnxRuntimeException e)
        {
            return new LocalizationResult { Trial = trial, Compared = shared.Count, Failure = $"ONNX Runtime failed with intermediates as outputs: {OrtRuntime.FirstLine(e.Message)}" };
        }
    }

    /// <summary>Node outputs of the reference's main graph, in topological order, that the candidate's main graph also defines.</summary>
    private List<(Value Reference, string CandidateName)> SharedIntermediates()
    {
        var order = reference.Graph.TopologicalOrder(out _) ?? reference.Graph.Nodes.ToList();
        var shared = new List<(Value, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in order)
        {
            foreach (var output in node.Outputs)
            {
                if (output.Name.Length == 0 || output.IsGraphOutput || !IsTensorOrUnknown(output)) continue;
                string candidateName = options.NameMap?.GetValueOrDefault(output.Name) ?? output.Name;
                var match = candidate.Graph.Find(candidateName);
                if (match is null || match.Producer is null || !IsTensorOrUnknown(match) || !seen.Add(candidateName)) continue;
                shared.Add((output, candidateName));
            }
        }
        return shared;
    }

    private static bool IsTensorOrUnknown(Value value) => value.Type is null || value.Type.ValueCase is TypeProto.ValueOneofCase.None or TypeProto.ValueOneofCase.TensorType;
}
