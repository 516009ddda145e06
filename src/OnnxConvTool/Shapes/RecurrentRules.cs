namespace OnnxConvTool.Shapes;

/// <summary>LSTM, GRU and RNN: Y, Y_h (and Y_c) from X, the direction and hidden_size, in either layout.</summary>
internal static class RecurrentRules
{
    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        rules["LSTM"] = c => Recurrent(c, gates: 4);
        rules["GRU"] = c => Recurrent(c, gates: 3);
        rules["RNN"] = c => Recurrent(c, gates: 1);
    }

    /// <summary>
    /// X is [seq, batch, input] (layout 0) or [batch, seq, input] (layout 1, opset 14). Y is
    /// [seq, directions, batch, hidden] or [batch, seq, directions, hidden]; Y_h and Y_c are
    /// [directions, batch, hidden] or [batch, directions, hidden].
    /// </summary>
    private static void Recurrent(NodeContext c, int gates)
    {
        var x = c.Dims(0);
        var type = c.Type(0);
        bool batchFirst = c.Opset >= 14 && c.Int("layout", 0) != 0;
        long directions = c.String("direction", "forward") == "bidirectional" ? 2 : 1;
        DimExpr? hidden = c.HasAttribute("hidden_size") ? DimExpr.Of(c.Int("hidden_size", 0))
            : c.Dims(2) is { Length: 3 } r ? r[2]
            : c.Dims(1) is { Length: 3 } w && w[1] is { } rows ? rows.TryDivideExactly(DimExpr.Of(gates)) : null;
        DimExpr? seq = null, batch = null;
        if (x is { Length: 3 })
        {
            seq = batchFirst ? x[1] : x[0];
            batch = batchFirst ? x[0] : x[1];
        }
        var dirs = DimExpr.Of(directions);
        c.SetOutput(0, type, batchFirst ? [batch, seq, dirs, hidden] : [seq, dirs, batch, hidden]);
        DimExpr?[] state = batchFirst ? [batch, dirs, hidden] : [dirs, batch, hidden];
        c.SetOutput(1, type, state);
        c.SetOutput(2, type, state);
    }
}
