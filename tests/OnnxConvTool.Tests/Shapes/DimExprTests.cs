using OnnxConvTool.Shapes;

namespace OnnxConvTool.Tests.Shapes;

/// <summary>The symbolic dim algebra: canonical texts, simplifications, and soundness against direct integer arithmetic.</summary>
public sealed class DimExprTests
{
    private static readonly DimExpr H = DimExpr.Symbol("H");
    private static readonly DimExpr W = DimExpr.Symbol("W");

    [Fact]
    public void SumsAndProductsPrintCoefficientFirstConstantLast()
    {
        Assert.Equal("2*H*W+3", (W * H * 2 + 3).ToString());
        Assert.Equal("H-2", (H - 2).ToString());
        Assert.Equal("-H+5", (DimExpr.Of(5) - H).ToString());
        Assert.Equal("H*W+H", (H * (W + 1)).ToString());
        Assert.Equal("0", (H - H).ToString());
        Assert.Equal(12, (DimExpr.Of(3) * 4).Constant);
    }

    [Fact]
    public void DivisionsPrintAsCeilWhenTheNumeratorIsXPlusDivisorMinusOne()
    {
        Assert.Equal("ceil(H/2)", H.CeilDiv(2).ToString());
        Assert.Equal("ceil(H/2)", ((H - 1).FloorDiv(2) + 1).ToString());
        Assert.Equal("floor(H/2)", H.FloorDiv(2).ToString());
        Assert.Equal("floor((H+1)/4)", (H + 1).FloorDiv(4).ToString());
        Assert.Equal("ceil((H+W)/3)", (H + W).CeilDiv(3).ToString());
    }

    [Fact]
    public void WholePartsLeaveTheDivisionAndCommonFactorsCancel()
    {
        Assert.Equal("H+2", (H * 2 + 4).FloorDiv(2).ToString());
        Assert.Equal("H+1", (H * 2 + 3).FloorDiv(2).ToString());
        Assert.Equal("ceil(H/2)", (H * 2 + 3).FloorDiv(4).ToString());
        Assert.Equal("floor(H/3)-1", (H - 3).FloorDiv(3).ToString());
    }

    [Fact]
    public void NestedDivisionsMerge()
    {
        Assert.Equal("ceil(H/4)", H.CeilDiv(2).CeilDiv(2).ToString());
        Assert.Equal("floor(H/6)", H.FloorDiv(2).FloorDiv(3).ToString());
        Assert.Equal("ceil(H/32)", H.CeilDiv(2).CeilDiv(2).CeilDiv(2).CeilDiv(2).CeilDiv(2).ToString());
    }

    [Fact]
    public void ExactDivisionOnlyByASingleTermThatDividesEveryTerm()
    {
        var n = DimExpr.Symbol("N");
        Assert.Equal("2*H", (n * H * 6).TryDivideExactly(n * 3)?.ToString());
        Assert.Equal("H+1", ((H + 1) * W).TryDivideExactly(W)?.ToString());
        Assert.Null((H + 1).TryDivideExactly(H));
        Assert.Null((H * 3).TryDivideExactly(DimExpr.Of(2)));
        Assert.Null(H.TryDivideExactly(H + 1));
    }

    [Fact]
    public void EqualityIsTextEquality()
    {
        Assert.Equal(H.CeilDiv(2), DimExpr.Symbol("ceil(H/2)"));
        Assert.Equal(H * W, W * H);
        Assert.NotEqual(H.CeilDiv(2), H.FloorDiv(2));
    }

    [Fact]
    public void OverflowThrowsInsteadOfWrapping()
    {
        Assert.Throws<OverflowException>(() => H * long.MaxValue * 2);
    }

    /// <summary>Random chains of +, -, *, floor and ceil divisions: the simplified text evaluates to the direct result.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void SimplifiedExpressionsEvaluateLikeDirectArithmetic(int seed)
    {
        var random = new Random(seed);
        for (int trial = 0; trial < 200; trial++)
        {
            var expr = H;
            var steps = new List<Func<long, long, long>> { (h, _) => h };
            for (int step = 0; step < 5; step++)
            {
                long k = random.Next(1, 5);
                var previous = steps[^1];
                switch (random.Next(6))
                {
                    case 0: expr += k; steps.Add((h, w) => previous(h, w) + k); break;
                    case 1: expr -= k; steps.Add((h, w) => previous(h, w) - k); break;
                    case 2: expr *= k; steps.Add((h, w) => previous(h, w) * k); break;
                    case 3: expr = expr.FloorDiv(k); steps.Add((h, w) => FloorDiv(previous(h, w), k)); break;
                    case 4: expr = expr.CeilDiv(k); steps.Add((h, w) => -FloorDiv(-previous(h, w), k)); break;
                    default: expr += W; steps.Add((h, w) => previous(h, w) + w); break;
                }
            }
            var direct = steps[^1];
            for (long h = -5; h <= 40; h += 3)
                for (long w = 0; w <= 6; w += 3)
                    Assert.True(direct(h, w) == SymbolicDims.Evaluate(expr.ToString(), new Dictionary<string, long> { ["H"] = h, ["W"] = w }),
                        $"{expr} at H={h}, W={w}: direct {direct(h, w)}");
        }
    }

    private static long FloorDiv(long a, long b) => (long)Math.Floor((double)a / b);
}
