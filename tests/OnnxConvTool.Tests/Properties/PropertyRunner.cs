using CsCheck;
using Xunit.Sdk;

namespace OnnxConvTool.Tests.Properties;

/// <summary>
/// Runs a property over CsCheck-generated cases, reproducibly: case i is drawn from seed <c>base + i</c>, where
/// the base is fixed (<see cref="DefaultSeed"/>) unless <c>ONNXCONV_PROPERTY_SEED</c> sets another, and
/// <c>ONNXCONV_PROPERTY_ITERATIONS</c> scales the iteration count (a longer local run). A failure is shrunk the
/// way CsCheck does it (further draws, keeping failing cases of smaller generated size) and reported with its
/// seed and the smallest case, printed as C# for a regression test.
/// </summary>
internal static class PropertyRunner
{
    public const ulong DefaultSeed = 20261130;

    private const int ShrinkDraws = 300;
    private static readonly TimeSpan ShrinkTime = TimeSpan.FromSeconds(20);

    public static ulong BaseSeed =>
        ulong.TryParse(Environment.GetEnvironmentVariable("ONNXCONV_PROPERTY_SEED"), out ulong seed) ? seed : DefaultSeed;

    public static int Iterations(int defaultCount) =>
        int.TryParse(Environment.GetEnvironmentVariable("ONNXCONV_PROPERTY_ITERATIONS"), out int count) && count > 0 ? count : defaultCount;

    public static void Check<T>(Gen<T> gen, Action<T> property, int iterations, Func<T, string> print)
    {
        ulong baseSeed = BaseSeed;
        for (int i = 0; i < iterations; i++)
        {
            ulong seed = baseSeed + (ulong)i;
            var value = gen.Generate(new PCG(1, seed), null!, out var size);
            var failure = Failure(property, value);
            if (failure is null) continue;

            var (smallest, smallestSeed, smallestFailure) = Shrink(gen, property, value, size, seed, failure);
            throw new XunitException(
                $"property failed for seed {seed} (ONNXCONV_PROPERTY_SEED={seed} ONNXCONV_PROPERTY_ITERATIONS=1 reruns it); " +
                $"smallest failing case found (seed {smallestSeed}):\n{print(smallest)}\n{smallestFailure}");
        }
    }

    private static (T Value, ulong Seed, Exception Failure) Shrink<T>(Gen<T> gen, Action<T> property, T value, Size size, ulong seed, Exception failure)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var best = (value, seed, failure, size);
        for (ulong draw = 1; draw <= ShrinkDraws && clock.Elapsed < ShrinkTime; draw++)
        {
            ulong candidateSeed = seed + (draw << 32);
            var candidate = gen.Generate(new PCG(1, candidateSeed), best.size, out var candidateSize);
            if (!Size.IsLessThan(candidateSize, best.size)) continue;
            if (Failure(property, candidate) is { } e) best = (candidate, candidateSeed, e, candidateSize);
        }
        return (best.value, best.seed, best.failure);
    }

    private static Exception? Failure<T>(Action<T> property, T value)
    {
        try
        {
            property(value);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return e;
        }
    }
}
