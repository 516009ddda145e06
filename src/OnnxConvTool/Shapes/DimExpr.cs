using System.Globalization;
using System.Text;

namespace OnnxConvTool.Shapes;

/// <summary>
/// An integer dimension expression: a polynomial with integer coefficients over atoms, where an atom
/// is a named symbol (from the model, e.g. <c>N</c>) or a floor division of a polynomial by a positive
/// constant. Expressions are kept in one canonical form, so two expressions are equal exactly when
/// their texts are equal.
/// </summary>
/// <remarks>
/// Naming convention (the text of a symbolic <see cref="Dim"/>):
/// <list type="bullet">
/// <item>Symbols print verbatim: <c>N</c>, <c>p2o.DynamicDimension.1</c>.</item>
/// <item>Sums and products: terms by descending degree, then by text; the coefficient comes first and
/// the constant last, no spaces: <c>2*H+1</c>, <c>64*H*W</c>, <c>H-2</c>.</item>
/// <item>Division by a constant <c>d</c> is a floor: <c>floor((H+1)/4)</c>. When the numerator is
/// <c>X+d-1</c> it prints as <c>ceil(X/d)</c> instead, so a stride-2 "same" conv over <c>H</c> gives
/// <c>ceil(H/2)</c> and two of them give <c>ceil(H/4)</c>.</item>
/// </list>
/// Simplifications: integer parts leave the division (<c>floor((2*H+3)/2)</c> is <c>H+1</c>), common
/// factors cancel (<c>floor((2*H+3)/4)</c> is <c>floor((H+1)/2)</c>), and nested divisions merge
/// (<c>floor(floor(X/a)/b)</c> is <c>floor(X/(a*b))</c>). All rules hold for every integer value of the
/// symbols; checked arithmetic throws <see cref="OverflowException"/> rather than wrap.
/// </remarks>
internal sealed class DimExpr : IEquatable<DimExpr>
{
    private readonly Term[] _terms;
    private readonly string _text;

    private DimExpr(Term[] terms)
    {
        _terms = terms;
        _text = Render(terms);
    }

    /// <summary>The value when the expression is a constant, else null.</summary>
    public long? Constant => _terms.Length == 0 ? 0 : _terms is [{ Atoms.Length: 0 } only] ? only.Coefficient : null;

    public bool IsConstant => Constant.HasValue;

    /// <summary>Shared instances of the small constants shapes are made of.</summary>
    private static readonly DimExpr[] SmallConstants = Enumerable.Range(-1, 1026).Select(v => new DimExpr(v == 0 ? [] : [new Term(v, [])])).ToArray();

    public static DimExpr Of(long value) =>
        value >= -1 && value <= 1024 ? SmallConstants[value + 1] : new(value == 0 ? [] : [new Term(value, [])]);

    public static DimExpr Symbol(string name) => new([new Term(1, [new Atom(name, null, 0)])]);

    public static DimExpr operator +(DimExpr a, DimExpr b) => Combine(a._terms.Concat(b._terms));

    public static DimExpr operator -(DimExpr a, DimExpr b) => Combine(a._terms.Concat(b._terms.Select(t => t with { Coefficient = checked(-t.Coefficient) })));

    public static DimExpr operator *(DimExpr a, DimExpr b)
    {
        var products = new List<Term>(a._terms.Length * b._terms.Length);
        foreach (var x in a._terms)
            foreach (var y in b._terms)
                products.Add(new Term(checked(x.Coefficient * y.Coefficient), MergeAtoms(x.Atoms, y.Atoms)));
        return Combine(products);
    }

    public static DimExpr operator +(DimExpr a, long b) => a + Of(b);
    public static DimExpr operator -(DimExpr a, long b) => a - Of(b);
    public static DimExpr operator *(DimExpr a, long b) => a * Of(b);

    /// <summary><c>floor(this / divisor)</c> for a positive constant divisor.</summary>
    public DimExpr FloorDiv(long divisor)
    {
        if (divisor <= 0) throw new ArgumentOutOfRangeException(nameof(divisor), "divisor must be positive");
        if (divisor == 1) return this;
        if (Constant is { } c) return Of(FloorDivide(c, divisor));

        // Split every coefficient c = divisor*q + r with 0 <= r < divisor; the q parts are whole.
        var whole = new List<Term>();
        var rest = new List<Term>();
        foreach (var t in _terms)
        {
            long q = FloorDivide(t.Coefficient, divisor);
            long r = t.Coefficient - checked(q * divisor);
            if (q != 0) whole.Add(t with { Coefficient = q });
            if (r != 0) rest.Add(t with { Coefficient = r });
        }
        var wholePart = Combine(whole);
        if (rest.Count == 0) return wholePart;
        var remainder = new DimExpr(rest.ToArray());
        return wholePart + DivideRemainder(remainder, divisor);
    }

    /// <summary><c>ceil(this / divisor)</c> for a positive constant divisor.</summary>
    public DimExpr CeilDiv(long divisor) => (this + (divisor - 1)).FloorDiv(divisor);

    /// <summary>The exact quotient when <paramref name="divisor"/> is one term that divides every term, else null.</summary>
    public DimExpr? TryDivideExactly(DimExpr divisor)
    {
        if (divisor._terms.Length != 1) return null;
        var d = divisor._terms[0];
        if (d.Coefficient == 0) return null;
        var quotient = new List<Term>(_terms.Length);
        foreach (var t in _terms)
        {
            if (t.Coefficient % d.Coefficient != 0) return null;
            var atoms = RemoveAtoms(t.Atoms, d.Atoms);
            if (atoms is null) return null;
            quotient.Add(new Term(t.Coefficient / d.Coefficient, atoms));
        }
        return Combine(quotient);
    }

    public bool Equals(DimExpr? other) => other is not null && other._text == _text;
    public override bool Equals(object? obj) => obj is DimExpr other && Equals(other);
    public override int GetHashCode() => _text.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => _text;

    public static bool operator ==(DimExpr? a, DimExpr? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(DimExpr? a, DimExpr? b) => !(a == b);

    private static long FloorDivide(long a, long b)
    {
        long q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    /// <summary>floor(remainder / divisor) where every coefficient of remainder is in [1, divisor).</summary>
    private static DimExpr DivideRemainder(DimExpr remainder, long divisor)
    {
        // Cancel a factor common to the divisor and every non-constant coefficient:
        // floor((g*A + c) / (g*e)) = floor((A + floor(c/g)) / e).
        long g = divisor;
        long constant = 0;
        foreach (var t in remainder._terms)
        {
            if (t.Atoms.Length == 0) constant = t.Coefficient;
            else g = Gcd(g, t.Coefficient);
        }
        if (g > 1)
        {
            var reduced = remainder._terms.Where(t => t.Atoms.Length > 0).Select(t => t with { Coefficient = t.Coefficient / g });
            var numerator = Combine(reduced) + FloorDivide(constant, g);
            return numerator.FloorDiv(divisor / g);
        }

        // Merge a nested division: floor((floor(X/a) + c) / d) = floor((X + c*a) / (a*d)).
        var nested = remainder._terms.Where(t => t.Atoms.Length > 0).ToArray();
        if (nested is [{ Coefficient: 1, Atoms: [{ Numerator: { } inner, Divisor: var a }] }])
            return (inner + checked(constant * a)).FloorDiv(checked(a * divisor));

        return new DimExpr([new Term(1, [new Atom(RenderDivision(remainder, divisor), remainder, divisor)])]);
    }

    private static long Gcd(long a, long b)
    {
        a = Math.Abs(a);
        b = Math.Abs(b);
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    private static DimExpr Combine(IEnumerable<Term> terms)
    {
        var sums = new Dictionary<string, Term>(StringComparer.Ordinal);
        foreach (var t in terms)
        {
            string key = MonomialKey(t.Atoms);
            sums[key] = sums.TryGetValue(key, out var existing) ? existing with { Coefficient = checked(existing.Coefficient + t.Coefficient) } : t;
        }
        var result = sums.Values.Where(t => t.Coefficient != 0).ToArray();
        Array.Sort(result, CompareTerms);
        return new DimExpr(result);
    }

    private static int CompareTerms(Term a, Term b)
    {
        int byDegree = b.Atoms.Length.CompareTo(a.Atoms.Length);
        return byDegree != 0 ? byDegree : string.CompareOrdinal(MonomialKey(a.Atoms), MonomialKey(b.Atoms));
    }

    private static string MonomialKey(Atom[] atoms) => atoms.Length switch
    {
        0 => "",
        1 => atoms[0].Text,
        _ => string.Join("*", atoms.Select(a => a.Text)),
    };

    private static Atom[] MergeAtoms(Atom[] a, Atom[] b)
    {
        if (a.Length == 0) return b;
        if (b.Length == 0) return a;
        var merged = a.Concat(b).ToArray();
        Array.Sort(merged, (x, y) => string.CompareOrdinal(x.Text, y.Text));
        return merged;
    }

    private static Atom[]? RemoveAtoms(Atom[] from, Atom[] remove)
    {
        var left = from.ToList();
        foreach (var r in remove)
        {
            int index = left.FindIndex(x => x.Text == r.Text);
            if (index < 0) return null;
            left.RemoveAt(index);
        }
        return left.ToArray();
    }

    private static string Render(Term[] terms)
    {
        if (terms.Length == 0) return "0";
        var text = new StringBuilder();
        foreach (var t in terms)
        {
            string term = RenderTerm(t);
            if (text.Length > 0 && term[0] != '-') text.Append('+');
            text.Append(term);
        }
        return text.ToString();
    }

    private static string RenderTerm(Term t)
    {
        string c = t.Coefficient.ToString(CultureInfo.InvariantCulture);
        if (t.Atoms.Length == 0) return c;
        string atoms = MonomialKey(t.Atoms);
        return t.Coefficient switch
        {
            1 => atoms,
            -1 => "-" + atoms,
            _ => c + "*" + atoms,
        };
    }

    private static string RenderDivision(DimExpr numerator, long divisor)
    {
        string d = divisor.ToString(CultureInfo.InvariantCulture);
        var constant = numerator._terms.FirstOrDefault(t => t.Atoms.Length == 0);
        if (constant.Atoms is not null && constant.Coefficient == divisor - 1)
            return $"ceil({Parenthesize(numerator - Of(divisor - 1))}/{d})";
        return $"floor({Parenthesize(numerator)}/{d})";
    }

    private static string Parenthesize(DimExpr e) =>
        e._terms is [{ Coefficient: 1, Atoms.Length: 1 }] ? e._text : "(" + e._text + ")";

    private readonly record struct Term(long Coefficient, Atom[] Atoms);

    /// <summary>A symbol (<see cref="Numerator"/> null) or <c>floor(Numerator / Divisor)</c>; <see cref="Text"/> identifies it.</summary>
    private sealed record Atom(string Text, DimExpr? Numerator, long Divisor);
}
