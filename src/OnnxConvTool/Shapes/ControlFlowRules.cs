using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>
/// If, Loop and Scan: their subgraphs are inferred with outer-scope values visible. If takes the
/// branch its folded condition selects, else the dims both branches agree on. Loop-carried and Scan
/// state values are re-inferred with generalised dims until the body's outputs agree with its inputs.
/// </summary>
internal static class ControlFlowRules
{
    /// <summary>Body passes before loop state is left with whatever dims it has settled on.</summary>
    private const int MaxBodyPasses = 3;

    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        rules["If"] = If;
        rules["Loop"] = Loop;
        rules["Scan"] = Scan;
    }

    private static Graph? Subgraph(NodeContext c, string attribute) =>
        c.Node.Subgraphs.TryGetValue(attribute, out var list) && list.Count > 0 ? list[0] : null;

    private static InferredTensor Output(NodeContext c, Graph? graph, int index) =>
        graph is not null && index < graph.Outputs.Count ? c.Engine.Get(graph.Outputs[index]) : InferredTensor.Unknown;

    private static void If(NodeContext c)
    {
        var thenBranch = Subgraph(c, "then_branch");
        var elseBranch = Subgraph(c, "else_branch");
        if (thenBranch is not null) c.Engine.InferGraph(thenBranch);
        if (elseBranch is not null) c.Engine.InferGraph(elseBranch);
        long? condition = c.ConstInts(0) is [var v] ? v : null;
        for (int i = 0; i < c.OutputCount; i++)
        {
            var whenTrue = Output(c, thenBranch, i);
            var whenFalse = Output(c, elseBranch, i);
            if (condition is { } taken)
                c.SetOutput(i, taken != 0 ? whenTrue : whenFalse);
            else
                c.SetOutput(i, whenTrue.Type ?? whenFalse.Type, ShapeMath.Join(whenTrue.Dims, whenFalse.Dims));
        }
    }

    /// <summary>
    /// Loop(M, cond, v_initial...): the body takes (iteration, cond, v...) and returns (cond, v..., scan outputs...).
    /// Final states are the initial values or a body output; scan outputs gain a leading dim: M when there
    /// is no cond input (the body's cond is then ignored and the loop runs exactly M times), else unknown.
    /// </summary>
    private static void Loop(NodeContext c)
    {
        var body = Subgraph(c, "body");
        int stateCount = Math.Max(0, c.InputCount - 2);
        var initial = Enumerable.Range(2, stateCount).Select(c.Input).ToArray();
        if (body is null) return;
        var state = InferBody(c, body, [new InferredTensor(DataType.Int64, []), new InferredTensor(DataType.Bool, [])], initial, bodyOutputOffset: 1);
        for (int i = 0; i < stateCount; i++) c.SetOutput(i, state[i]);
        var iterations = !c.HasInput(1) && c.HasInput(0) && c.Values(0) is [var tripCount] ? tripCount : null;
        for (int k = stateCount; k < c.OutputCount; k++)
        {
            var perIteration = Output(c, body, 1 + k);
            c.SetOutput(k, perIteration.Type, perIteration.Dims is { } d ? [iterations, .. d] : null);
        }
    }

    /// <summary>
    /// Scan (opset 9+): inputs are N states then M scan inputs; the body sees each scan input without
    /// its scan axis and returns N states then K per-iteration outputs, stacked along scan_output_axes.
    /// </summary>
    private static void Scan(NodeContext c)
    {
        var body = Subgraph(c, "body");
        if (body is null) return;
        if (c.Opset < 9)
        {
            c.Engine.InferGraph(body);
            return;
        }
        int scanInputs = (int)c.Int("num_scan_inputs", 0);
        int stateCount = Math.Max(0, c.InputCount - scanInputs);
        long[] inputAxes = c.Ints("scan_input_axes") ?? new long[scanInputs];
        var initial = Enumerable.Range(0, stateCount).Select(c.Input).ToArray();
        DimExpr? length = null;
        var slices = new InferredTensor[scanInputs];
        for (int j = 0; j < scanInputs; j++)
        {
            var input = c.Input(stateCount + j);
            slices[j] = new InferredTensor(input.Type, null);
            if (input.Dims is not { } dims || j >= inputAxes.Length || ShapeMath.Axis(inputAxes[j], dims.Length) is not { } axis) continue;
            slices[j] = new InferredTensor(input.Type, dims.Where((_, i) => i != axis).ToArray());
            length ??= dims[axis];
        }

        var state = InferBody(c, body, [], initial, bodyOutputOffset: 0, extraInputs: slices);
        for (int i = 0; i < stateCount; i++) c.SetOutput(i, state[i]);
        int scanOutputs = c.OutputCount - stateCount;
        long[] outputAxes = c.Ints("scan_output_axes") ?? new long[scanOutputs];
        for (int k = 0; k < scanOutputs; k++)
        {
            var perIteration = Output(c, body, stateCount + k);
            if (perIteration.Dims is not { } d || k >= outputAxes.Length || ShapeMath.Axis(outputAxes[k], d.Length + 1) is not { } axis)
            {
                c.SetOutput(stateCount + k, perIteration.Type, null);
                continue;
            }
            var stacked = d.ToList();
            stacked.Insert(axis, length);
            c.SetOutput(stateCount + k, perIteration.Type, stacked.ToArray());
        }
    }

    /// <summary>
    /// Infers a loop body whose inputs are <paramref name="leading"/>, the carried state, then
    /// <paramref name="extraInputs"/>; returns the state after the loop (initial value or a body output).
    /// Folded elements are dropped from carried state, as they may change per iteration.
    /// </summary>
    private static InferredTensor[] InferBody(NodeContext c, Graph body, InferredTensor[] leading, InferredTensor[] initial,
        int bodyOutputOffset, InferredTensor[]? extraInputs = null)
    {
        var carried = initial.Select(t => new InferredTensor(t.Type, t.Dims)).ToArray();
        for (int pass = 0; pass < MaxBodyPasses; pass++)
        {
            c.Engine.InferGraph(body, [.. leading, .. carried, .. extraInputs ?? []]);
            bool stable = true;
            for (int i = 0; i < carried.Length; i++)
            {
                var next = Output(c, body, bodyOutputOffset + i);
                if (ShapeMath.SameDims(carried[i].Dims, next.Dims)) continue;
                stable = false;
                carried[i] = new InferredTensor(carried[i].Type ?? next.Type, ShapeMath.Join(carried[i].Dims, next.Dims));
            }
            if (stable) break;
        }
        return carried;
    }
}
