namespace OnnxConvTool.Rewriting;

/// <summary>Why a pattern did not match: one sentence a user can read (audit and the rewrite report show it).</summary>
internal readonly record struct MatchFailure(string Reason);

/// <summary>The outcome of <see cref="RewriteRule{TMatch}.TryMatch"/>: an immutable match record, or a failure sentence.</summary>
internal readonly struct MatchResult<TMatch> where TMatch : class
{
    private MatchResult(TMatch? match, string? reason)
    {
        Match = match;
        FailureReason = reason;
    }

    public TMatch? Match { get; }
    public string? FailureReason { get; }
    public bool Succeeded => Match is not null;

    public static implicit operator MatchResult<TMatch>(TMatch match) => new(match ?? throw new ArgumentNullException(nameof(match)), null);
    public static implicit operator MatchResult<TMatch>(MatchFailure failure) => new(null, failure.Reason);

    public override string ToString() => Succeeded ? $"match: {Match}" : $"no match: {FailureReason}";
}

internal static class MatchResult
{
    /// <summary>A failed match; <paramref name="reason"/> is a sentence such as "W is not a constant initializer".</summary>
    public static MatchFailure Fail(string reason) => new(reason);
}
