using System.Globalization;

namespace OnnxConvTool.Ops;

/// <summary>
/// The cost model's terms beyond MACs, for merges that trade arithmetic against ops or memory traffic (the Split form of
/// <c>merge-sibling-convs</c>, and its centre-padding of 1x1 siblings): an estimated time of
/// <c>macs · <see cref="NanosecondsPerMac"/> + ops · <see cref="NanosecondsPerOp"/> + moved values · <see cref="NanosecondsPerMovedValue"/></c>.
/// </summary>
/// <remarks>
/// The constants were measured on the machine the README names (2-CPU AMD EPYC, ONNX Runtime 1.31.1 at its full
/// optimisation, one intra-op thread, thread CPU time, 400 interleaved pairs each; <c>dotnet run -c Release --project
/// tests/OnnxConvTool.Benchmarks -- runtime-cost</c>, 30 Nov 2026, load average 13–37): a 1x1 Conv runs at 0.0175 ns
/// per MAC (256→256 against 256→8 at 28×28); each op adds 0.67–0.74 µs (17 chained 4→4 Conv+ReLU at 1×1 against one);
/// a Split moves a value (read and write) in 0.118 ns, its op time included (a ReLU on [1,256,28,28] then a Split in
/// halves against the ReLU alone). They are orders of magnitude, not a simulator; checked on the same run, they
/// predict the sign of every case measured: BlazeFace's head pairs in Split form −0.87 and −0.65 µs predicted (−0.61,
/// −0.25 measured), GoogLeNet 3a's three 1x1s −30 µs (−11), four small siblings +0.5 µs (+0.9), a centre-padded 1x1
/// beside a 3x3 into a Concat +0.5 µs on [1,8,4,4] (+1.5) and −462 µs on [1,64,28,28] (−406). So the Split form with
/// two siblings (two Convs → one Conv and a Split: no op saved, values moved) never pays, and a centre-padded 1x1
/// (k² times its MACs, one op fewer) pays only on small tensors.
/// </remarks>
internal static class RuntimeCost
{
    public const double NanosecondsPerMac = 0.018;
    public const double NanosecondsPerOp = 700;
    public const double NanosecondsPerMovedValue = 0.11;

    /// <summary>Estimated time saved (positive) or lost (negative), in nanoseconds, by a change of MACs, ops and moved values.</summary>
    public static double SavedNanoseconds(long macsSaved, int opsSaved, long valuesMoved) =>
        macsSaved * NanosecondsPerMac + opsSaved * NanosecondsPerOp - valuesMoved * NanosecondsPerMovedValue;

    /// <summary>"1.2 µs" or "−35.0 µs".</summary>
    public static string Format(double nanoseconds) =>
        (nanoseconds / 1000).ToString("0.0##", CultureInfo.InvariantCulture).Replace("-", "−", StringComparison.Ordinal) + " µs";

    /// <summary>The constants, as a sentence ends with them.</summary>
    public static string Terms { get; } = string.Create(CultureInfo.InvariantCulture,
        $"cost model: {NanosecondsPerMac} ns per MAC, {NanosecondsPerOp / 1000} µs per op, {NanosecondsPerMovedValue} ns per moved value");
}
