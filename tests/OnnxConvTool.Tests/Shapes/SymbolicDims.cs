using System.Globalization;

namespace OnnxConvTool.Tests.Shapes;

/// <summary>
/// Evaluates a symbolic dim's text (the documented naming convention: sums, products, floor(X/d),
/// ceil(X/d)) for concrete symbol values, so tests can compare symbolic results with real runs.
/// </summary>
internal sealed class SymbolicDims
{
    private readonly string _text;
    private readonly IReadOnlyDictionary<string, long> _symbols;
    private int _position;

    private SymbolicDims(string text, IReadOnlyDictionary<string, long> symbols)
    {
        _text = text;
        _symbols = symbols;
    }

    public static long Evaluate(string text, IReadOnlyDictionary<string, long> symbols)
    {
        var parser = new SymbolicDims(text, symbols);
        long value = parser.Sum();
        if (parser._position != text.Length) throw new FormatException($"unexpected '{text[parser._position..]}' in '{text}'");
        return value;
    }

    private long Sum()
    {
        long value = Product();
        while (_position < _text.Length && _text[_position] is '+' or '-')
        {
            char op = _text[_position++];
            long next = Product();
            value = op == '+' ? value + next : value - next;
        }
        return value;
    }

    private long Product()
    {
        long value = Factor();
        while (_position < _text.Length && _text[_position] == '*')
        {
            _position++;
            value *= Factor();
        }
        return value;
    }

    private long Factor()
    {
        if (_text[_position] == '-')
        {
            _position++;
            return -Factor();
        }
        if (_text[_position] == '(')
        {
            _position++;
            long inner = Sum();
            Expect(')');
            return inner;
        }
        if (char.IsDigit(_text[_position]))
        {
            int start = _position;
            while (_position < _text.Length && char.IsDigit(_text[_position])) _position++;
            return long.Parse(_text[start.._position], CultureInfo.InvariantCulture);
        }
        string name = Name();
        if (name is "floor" or "ceil" && _position < _text.Length && _text[_position] == '(')
        {
            _position++;
            long numerator = Sum();
            Expect('/');
            long divisor = Factor();
            Expect(')');
            return name == "floor" ? (long)Math.Floor((double)numerator / divisor) : (long)Math.Ceiling((double)numerator / divisor);
        }
        return _symbols.TryGetValue(name, out long value) ? value : throw new FormatException($"unknown symbol '{name}' in '{_text}'");
    }

    private string Name()
    {
        int start = _position;
        while (_position < _text.Length && (char.IsLetterOrDigit(_text[_position]) || _text[_position] is '_' or '.')) _position++;
        if (start == _position) throw new FormatException($"expected a name at {start} in '{_text}'");
        return _text[start.._position];
    }

    private void Expect(char c)
    {
        if (_position >= _text.Length || _text[_position] != c) throw new FormatException($"expected '{c}' at {_position} in '{_text}'");
        _position++;
    }
}
