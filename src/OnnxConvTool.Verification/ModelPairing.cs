using OnnxConvTool.Ir;

namespace OnnxConvTool.Verification;

/// <summary>
/// How the candidate's interface lines up with the reference's: which outputs pair up (by name, or through
/// the rewrite's name map), which inputs the candidate is fed, which saturating activations' inputs are
/// compared too, and every structural difference as a sentence.
/// </summary>
internal sealed class ModelPairing
{
    private static readonly HashSet<string> SaturatingActivations = new(StringComparer.Ordinal)
    {
        "Sigmoid", "HardSigmoid", "Tanh", "Softsign", "Softmax", "Clip",
    };

    private static readonly HashSet<string> LayoutOps = new(StringComparer.Ordinal)
    {
        "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity",
    };

    private readonly List<string> _problems = [];

    private ModelPairing(Model reference, Model candidate, VerifyOptions options, InputPlan plan)
    {
        Outputs = PairOutputs(reference, candidate, options);
        PreActivations = FindPreActivations(reference, candidate, options, Outputs);
        CandidateInputs = CheckCandidateInputs(candidate, plan);
        NothingInCommon = DescribeNothingInCommon(reference, candidate, plan);
    }

    public static ModelPairing Create(Model reference, Model candidate, VerifyOptions options, InputPlan plan) =>
        new(reference, candidate, options, plan);

    /// <summary>Reference output name → candidate output name, in reference order.</summary>
    public List<(string Reference, string Candidate)> Outputs { get; }

    public List<PreActivation> PreActivations { get; }

    /// <summary>The reference's inputs that the candidate also takes (and is fed).</summary>
    public HashSet<string> CandidateInputs { get; }

    /// <summary>Missing, extra, reordered or retyped inputs and outputs, one sentence each.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>Why the two models cannot be compared at all (no output, or no input, in common), or null.</summary>
    public string? NothingInCommon { get; }

    public List<string> ReferenceFetches => Outputs.Select(o => o.Reference).Concat(PreActivations.Select(p => p.Reference)).ToList();

    public List<string> CandidateFetches => Outputs.Select(o => o.Candidate).Concat(PreActivations.Select(p => p.Candidate)).ToList();

    private string? DescribeNothingInCommon(Model reference, Model candidate, InputPlan plan)
    {
        static string List(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'")) is { Length: > 0 } text ? text : "none";
        var referenceOutputs = reference.Graph.Outputs.Select(v => v.Name).ToList();
        var candidateOutputs = candidate.Graph.Outputs.Select(v => v.Name).ToList();
        if (Outputs.Count == 0 && referenceOutputs.Count > 0)
            return referenceOutputs.Count == 1 && candidateOutputs.Count == 1
                ? $"the candidate's only output is '{candidateOutputs[0]}', the reference's is '{referenceOutputs[0]}': the output was renamed or replaced"
                : $"the models have no output in common (reference: {List(referenceOutputs)}; candidate: {List(candidateOutputs)})";
        var candidateInputs = candidate.Graph.Inputs.Where(v => !v.IsInitializer).Select(v => v.Name).ToList();
        if (plan.Inputs.Count > 0 && CandidateInputs.Count == 0 && candidateInputs.Count > 0)
            return $"the models have no input in common (reference: {List(plan.Inputs.Select(i => i.Name))}; candidate: {List(candidateInputs)})";
        return null;
    }

    private List<(string Reference, string Candidate)> PairOutputs(Model reference, Model candidate, VerifyOptions options)
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

    private HashSet<string> CheckCandidateInputs(Model candidate, InputPlan plan)
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

    /// <summary>
    /// The largest |∂output/∂input| of the activation for an error shared by all its inputs: Sigmoid 1/4, HardSigmoid
    /// alpha, Softmax 1/2 (Σ_j |∂s_i/∂z_j| = 2·s_i·(1 − s_i)), Tanh, Softsign and Clip 1.
    /// </summary>
    private static double Slope(Node activation) => activation.OpType switch
    {
        "Sigmoid" => 0.25,
        "HardSigmoid" => Math.Abs(activation.Attribute("alpha")?.F ?? 0.2f),
        "Softmax" => 0.5,
        _ => 1,
    };

    /// <summary>For outputs that end in a saturating activation, the activation's input when both models have it.</summary>
    private static List<PreActivation> FindPreActivations(Model reference, Model candidate, VerifyOptions options, List<(string Reference, string Candidate)> outputs)
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
            found.Add(new PreActivation(referenceName, node.OpType, input.Name, candidateName, Slope(node)));
        }
        return found;
    }
}

/// <summary>
/// The input of a saturating activation that produces <see cref="Output"/>, compared alongside it.
/// <see cref="Slope"/> bounds how much an error in the input can move an output element.
/// </summary>
internal sealed record PreActivation(string Output, string Activation, string Reference, string Candidate, double Slope);
