namespace OnnxConvTool;

/// <summary>
/// How far a long operation is: <see cref="Done"/> of <see cref="Total"/> steps of <see cref="Phase"/> (a few words,
/// e.g. "weight ranks"); a <see cref="Total"/> of 0 means the number of steps is not known. Reported through an
/// <see cref="IProgress{T}"/> that may be called from several threads at once.
/// </summary>
public readonly record struct WorkProgress(string Phase, long Done, long Total);
