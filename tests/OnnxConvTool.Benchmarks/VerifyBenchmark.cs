using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Ir;
using OnnxConvTool.Shapes;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Benchmarks;

/// <summary>
/// <c>verify</c> on each real model against itself, timed in-process from loading the two files to the
/// finished report (as the CLI does it: the two models load and get their sessions concurrently), against the bare minimum it must do: create two ONNX Runtime sessions from the files
/// (same settings: optimisations off, one thread) and run both on inputs of the same shapes, for the same
/// number of trials. Runs alternate between the two so both see the same machine load. Target: the median
/// ratio verify / bare is at most 1.2 on every model.
/// </summary>
internal static class VerifyBenchmark
{
    public const string Description = "onnxconv verify vs two bare ONNX Runtime sessions run on the same inputs, on ../shared/models (target ≤ 1.2×)";
    private const double Target = 1.2;

    /// <summary>Untimed runs of each contender first, so JIT tiering and ORT's allocator caches settle.</summary>
    private const int Warmup = 3;

    private static VerifyOptions OptionsFor(string name) => name switch
    {
        "silero_vad_v5.onnx" => new VerifyOptions
        {
            Values = new Dictionary<string, double> { ["sr"] = 16000 },
            Shapes = new Dictionary<string, IReadOnlyList<Dim>>
            {
                ["input"] = [Dim.Symbolic("N"), Dim.Known(512)],
                ["state"] = [Dim.Known(2), Dim.Symbolic("N"), Dim.Known(128)],
            },
        },
        _ => new VerifyOptions(),
    };

    public static int Run(BenchmarkContext context)
    {
        var output = context.Out;
        int runs = context.Runs;
        if (SharedData.Root is null)
        {
            context.Error.WriteLine("../shared/models not found beside the repository");
            return 2;
        }
        output.WriteLine($"verify (3 trials, in-process, load to report) vs bare ORT (2 sessions + 3 runs each); median of {runs} alternating runs after {Warmup} warm-up runs each");
        output.Write(MachineInfo.Describe(context.PythonPath));
        output.WriteLine($"load average at start: {MachineInfo.LoadAverage()}");
        output.WriteLine();
        output.WriteLine("| model | verify ms (median) | bare ORT ms (median) | ratio | verify ms (min) | bare ORT ms (min) | ratio of mins |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        bool met = true;
        foreach (string name in SharedData.RealModelNames)
        {
            string path = SharedData.RealModel(name);
            var options = OptionsFor(name);
            var report = TimeVerify(path, options, out _);
            if (!report.Equivalent) throw new InvalidOperationException($"{name}: verify did not find the model equivalent to itself:\n{report.RenderText()}");
            for (int run = 0; run < Warmup; run++)
            {
                TimeVerify(path, options, out _);
                TimeBare(path, report, out _);
            }
            var verifyMs = new List<double>();
            var bareMs = new List<double>();
            for (int run = 0; run < runs; run++)
            {
                TimeVerify(path, options, out double v);
                verifyMs.Add(v);
                TimeBare(path, report, out double b);
                bareMs.Add(b);
            }
            double ratio = Median(verifyMs) / Median(bareMs);
            met &= ratio <= Target;
            output.WriteLine($"| {name} | {Median(verifyMs):0.0} | {Median(bareMs):0.0} | {ratio:0.00}{(ratio <= Target ? "" : " (over target)")} | {verifyMs.Min():0.0} | {bareMs.Min():0.0} | {verifyMs.Min() / bareMs.Min():0.00} |");
        }
        output.WriteLine();
        output.WriteLine(met ? $"target met: verify ≤ {Target}× bare ORT on every model" : $"target missed: verify > {Target}× bare ORT on some model");
        return met ? 0 : 1;
    }

    /// <summary>
    /// Each timed run starts on a collected heap, as a fresh onnxconv process would: otherwise one
    /// contender pays for collecting the garbage of earlier runs.
    /// </summary>
    private static void SettleHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static VerificationReport TimeVerify(string path, VerifyOptions options, out double milliseconds)
    {
        SettleHeap();
        var clock = Stopwatch.StartNew();
        var referenceTask = Task.Run(() => ModelReader.Load(path));
        var candidate = ModelReader.Load(path);
        var reference = referenceTask.GetAwaiter().GetResult();
        var report = EquivalenceChecker.Verify(reference, candidate, options);
        milliseconds = clock.Elapsed.TotalMilliseconds;
        return report;
    }

    /// <summary>Two sessions from the file and, per trial, one run of each on fresh inputs of the trial's shapes.</summary>
    private static void TimeBare(string path, VerificationReport shapes, out double milliseconds)
    {
        SettleHeap();
        var clock = Stopwatch.StartNew();
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        using var first = new InferenceSession(path, sessionOptions);
        using var second = new InferenceSession(path, sessionOptions);
        var random = new Random(0);
        foreach (var trial in shapes.Trials)
        {
            var names = trial.Inputs.Select(i => i.Name).ToArray();
            var values = trial.Inputs.Select(i => ToOrtValue(i, random)).ToArray();
            try
            {
                using var runOptions = new RunOptions();
                using (first.Run(runOptions, names, values, first.OutputNames)) { }
                using (second.Run(runOptions, names, values, second.OutputNames)) { }
            }
            finally
            {
                foreach (var value in values) value.Dispose();
            }
        }
        milliseconds = clock.Elapsed.TotalMilliseconds;
    }

    private static OrtValue ToOrtValue(TrialInput input, Random random)
    {
        var type = ElementKinds.FromName(input.ElementType) ?? throw new InvalidOperationException($"unknown type {input.ElementType}");
        var tensor = input.Source.StartsWith("constant ", StringComparison.Ordinal)
            ? HostTensor.Filled(type, input.Shape, double.Parse(input.Source["constant ".Length..], System.Globalization.CultureInfo.InvariantCulture))
            : HostTensor.Random(type, input.Shape, random);
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)(int)type, tensor.Shape);
        tensor.Data.AsSpan().CopyTo(value.GetTensorMutableRawData());
        return value;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
