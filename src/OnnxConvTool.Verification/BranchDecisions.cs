using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>An integer or bool input that decides an If, and the values to feed it so that each branch runs.</summary>
internal sealed record BranchInput(string Name, IReadOnlyList<double> Values);

/// <summary>
/// Finds the graph inputs that an If's condition is, or is computed from (walking producers upward through
/// every graph, subgraph bodies included), and picks values that steer it: a bool input gets false and
/// true; an integer input gets each constant it is compared with (Equal, Greater, Less…, directly or through
/// a Cast) and that constant + 1, which falls on the other side of the comparison. Integer inputs compared with no constant are left
/// to the random trials.
/// </summary>
internal static class BranchDecisions
{
    private static readonly HashSet<string> Comparisons = new(StringComparer.Ordinal)
    {
        "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual",
    };

    public static List<BranchInput> Find(Model model, IReadOnlySet<string> candidates)
    {
        var deciding = new List<Value>();
        var seen = new HashSet<Value>(ReferenceEqualityComparer.Instance);
        foreach (var node in model.AllNodes().Where(n => n is { OpType: "If", IsOnnxDomain: true }))
        {
            var pending = new Stack<Value>();
            if (node.Input(0) is { } condition) pending.Push(condition);
            while (pending.Count > 0)
            {
                var value = pending.Pop();
                if (!seen.Add(value)) continue;
                if (value.IsGraphInput && ReferenceEquals(value.Graph, model.Graph) && candidates.Contains(value.Name)) deciding.Add(value);
                if (value.Producer is { } producer)
                    foreach (var input in producer.Inputs)
                        if (input is not null) pending.Push(input);
            }
        }

        var found = new List<BranchInput>();
        foreach (var input in deciding.Distinct().OrderBy(v => model.Graph.Inputs.ToList().IndexOf(v)))
        {
            if (input.ElementType == DataType.Bool)
            {
                found.Add(new BranchInput(input.Name, [0, 1]));
                continue;
            }
            if (input.ElementType is not { } type || ElementKinds.IsFloating(type)) continue;
            var values = ComparedConstants(model, input).Distinct().Order().ToList();
            if (values.Count > 0) found.Add(new BranchInput(input.Name, values));
        }
        return found;
    }

    /// <summary>Constants the input is compared with anywhere in the model, each with the value just above it.</summary>
    private static IEnumerable<double> ComparedConstants(Model model, Value input)
    {
        var aliases = new HashSet<Value>(ReferenceEqualityComparer.Instance) { input };
        foreach (var use in input.Uses)
            if (use.Node is { OpType: "Cast" or "Identity" or "Squeeze" or "Reshape" or "Unsqueeze", IsOnnxDomain: true } passThrough && passThrough.Outputs.Count == 1)
                aliases.Add(passThrough.Outputs[0]);
        foreach (var node in model.AllNodes().Where(n => n.IsOnnxDomain && Comparisons.Contains(n.OpType)))
        {
            if (node.Input(0) is not { } left || node.Input(1) is not { } right) continue;
            var other = aliases.Contains(left) ? right : aliases.Contains(right) ? left : null;
            if (other is null || Model.TryGetConstant(other) is not { } constant || constant.ElementCount != 1) continue;
            double value = constant.ToDoubleArray()[0];
            if (!double.IsFinite(value)) continue;
            yield return Math.Round(value);
            yield return Math.Round(value) + 1;
        }
    }
}
