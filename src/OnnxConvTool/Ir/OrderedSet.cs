namespace OnnxConvTool.Ir;

/// <summary>
/// Items in an order that rewrites edit: append, insert before an item, remove and membership in O(1); the
/// read-only list view is rebuilt (O(n)) on the first read after a change, so a burst of edits costs no scans.
/// </summary>
internal sealed class OrderedSet<T> where T : class
{
    private readonly LinkedList<T> _items = new();
    private readonly Dictionary<T, LinkedListNode<T>> _positions = new(ReferenceEqualityComparer.Instance);
    private List<T>? _view;

    public int Count => _items.Count;

    /// <summary>The items in order. The list returned is never changed afterwards: edits make a new one.</summary>
    public IReadOnlyList<T> View => _view ??= [.. _items];

    public bool Contains(T item) => _positions.ContainsKey(item);

    public void Add(T item)
    {
        _positions.Add(item, _items.AddLast(item));
        _view = null;
    }

    /// <summary>Inserts <paramref name="item"/> just before <paramref name="anchor"/>; false when the anchor is not here.</summary>
    public bool InsertBefore(T anchor, T item)
    {
        if (!_positions.TryGetValue(anchor, out var position)) return false;
        _positions.Add(item, _items.AddBefore(position, item));
        _view = null;
        return true;
    }

    public bool Remove(T item)
    {
        if (!_positions.Remove(item, out var position)) return false;
        _items.Remove(position);
        _view = null;
        return true;
    }

    /// <summary>Replaces the order with <paramref name="order"/> (a permutation of the items).</summary>
    public void Reset(IEnumerable<T> order)
    {
        _items.Clear();
        _positions.Clear();
        foreach (var item in order) Add(item);
    }

    public LinkedList<T>.Enumerator GetEnumerator() => _items.GetEnumerator();
}
