using System.Globalization;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.Shapes;

namespace OnnxConvTool.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>One input fed to both models in a trial: its data and where the data came from.</summary>
public sealed record TrialInput(string Name, string ElementType, long[] Shape, string Source);

/// <summary>
/// Decides what every input of the reference model gets in each trial.
/// <para>
/// Which inputs: every graph input that is not backed by an initializer, plus initializer-backed
/// inputs named by <c>--value</c>/<c>--input</c> (ORT uses the initializer otherwise).
/// </para>
/// <para>
/// Free dims (symbolic or unknown, not fixed by <c>--shape</c> or an input file): dims with the same
/// symbol share one value across all inputs; unnamed dims are independent. A free dim is batch-like when
/// it sits on axis 0 of an input of rank ≥ 2 (or shares its symbol with such a dim): batch-like dims take
/// 2, 1, 3 in trials 1, 2, 3 (then repeat), plus k for the k-th distinct batch-like dim (0-based), so
/// independent batch symbols differ; the other free dims, numbered k in order of appearance, take
/// 64/96 (k even/odd) in trial 1, 96/64 in trial 2 and the odd sizes 33/47 in trial 3, plus 32 for every
/// further round of three trials — batch &gt; 1, non-square and odd sizes are all exercised.
/// </para>
/// <para>
/// Models often constrain their dims (PaddleOCR's detector wants multiples of 32). When ONNX Runtime
/// rejects the reference on a trial's dims, the checker falls back, in order, to: every batch-like dim equal
/// to the first; the sizes rounded up to
/// multiples of 32; the same with batch-like dims = 1; the dims of the first trial that ran. The report
/// says which dims each trial used and why. If nothing runs, verification stops with exit code 6 and
/// the user fixes the dims with <c>--shape</c> (a symbolic name there ties dims together: <c>--shape
/// input=N,512 --shape state=2,N,128</c>).
/// </para>
/// <para>
/// Data: see <see cref="HostTensor.Random"/> — floats uniform in [-1, 1), integers in {0..3} (the indices
/// of a Gather over its gathered axis' whole range), bools half true — seeded by (seed, trial, input
/// index), so a run is reproducible. <see cref="Schedule"/> adds an edge-value trial and one trial per value
/// of each input that decides an If (<see cref="BranchDecisions"/>).
/// </para>
/// </summary>
internal sealed class InputPlan
{
    /// <summary>Values that reach far into a float network: zero, ±1 and a large magnitude.</summary>
    private static readonly double[] EdgeValues = [0, 1, -1, 100, -100];

    /// <summary>Batch-like dims in the edge-value trial (at least 4, so per-sample mistakes in batched code show).</summary>
    private const long EdgeBatch = 4;

    /// <summary>Every other free dim in the edge-value trial: one square size.</summary>
    private const long EdgeSize = 64;

    private readonly List<PlannedInput> _inputs;
    private readonly List<FreeDim> _freeDims;
    private readonly List<BranchInput> _branchInputs;
    private readonly int _seed;

    private InputPlan(List<PlannedInput> inputs, List<FreeDim> freeDims, List<BranchInput> branchInputs, int seed)
    {
        _inputs = inputs;
        _freeDims = freeDims;
        _branchInputs = branchInputs;
        _seed = seed;
    }

    /// <summary>Integer and bool inputs that decide an If, with the values that take each branch.</summary>
    public IReadOnlyList<BranchInput> BranchInputs => _branchInputs;

    public IReadOnlyList<PlannedInput> Inputs => _inputs;
    public IReadOnlyList<FreeDim> FreeDims => _freeDims;

    /// <summary>True when every trial would feed the same data (nothing random, no free dims).</summary>
    public bool IsFullyFixed => _freeDims.Count == 0 && _inputs.All(i => i.Kind != InputKind.Random);

    /// <summary>The largest file that can hold input <paramref name="value"/>: its shape from --shape, else as declared; null when a dim is unknown.</summary>
    public static long? LargestFileFor(Value value, VerifyOptions options) =>
        TensorFiles.LargestFileFor(value.ElementType ?? DataType.Undefined, options.Shapes.GetValueOrDefault(value.Name) ?? TensorShape.FromType(value.Type).Dims);

    public static InputPlan Create(Model reference, VerifyOptions options, string label)
    {
        var graphInputs = reference.Graph.Inputs.ToDictionary(v => v.Name, StringComparer.Ordinal);
        string known = string.Join(", ", reference.Graph.Inputs.Where(v => !v.IsInitializer).Select(v => v.Name));
        foreach (string name in options.Shapes.Keys.Concat(options.Values.Keys).Concat(options.InputFiles.Keys))
            if (!graphInputs.ContainsKey(name))
                throw new OnnxConvException(ExitCode.UsageError, $"{label} has no input named '{name}' (its inputs: {(known.Length > 0 ? known : "none")})");
        foreach (string name in options.Values.Keys)
            if (options.InputFiles.ContainsKey(name))
                throw new OnnxConvException(ExitCode.UsageError, $"input '{name}' is given both by --value and by --input");
        ShapeOverrides.Validate(reference, options.Shapes);

        var inputs = new List<PlannedInput>();
        var freeDims = new List<FreeDim>();
        var fixedSymbols = new Dictionary<string, long>(StringComparer.Ordinal);
        var freeByKey = new Dictionary<string, FreeDim>(StringComparer.Ordinal);
        foreach (var value in reference.Graph.Inputs)
        {
            bool explicitlyFed = options.Values.ContainsKey(value.Name) || options.InputFiles.ContainsKey(value.Name);
            if (value.IsInitializer && !explicitlyFed) continue;
            if (value.Type?.TensorType is null)
                throw new RuntimeFailure($"input '{value.Name}' of {label} is not a tensor; verify feeds tensors only");
            var elementType = value.ElementType ?? DataType.Undefined;
            if (!ElementKinds.IsSupported(elementType))
                throw new RuntimeFailure($"input '{value.Name}' of {label} has element type {ElementTypes.Name(elementType)}, which verify cannot generate; supported: float16/32/64, bfloat16, integers, bool");

            var declared = TensorShape.FromType(value.Type).Dims;
            if (options.InputFiles.TryGetValue(value.Name, out string? file))
            {
                var tensor = TensorFiles.Read(file, LargestFileFor(value, options)).Tensor;
                CheckFileAgainstDeclaration(value.Name, file, tensor, elementType, declared, options, fixedSymbols);
                inputs.Add(new PlannedInput(value.Name, elementType, [], InputKind.File, tensor, 0, $"file {Path.GetFileName(file)}"));
                continue;
            }

            IReadOnlyList<Dim> dims;
            if (options.Shapes.TryGetValue(value.Name, out var overridden))
            {
                dims = overridden;
            }
            else
            {
                dims = declared ?? throw new RuntimeFailure($"input '{value.Name}' of {label} declares no shape; give one with --shape {value.Name}=d0,d1,...");
            }

            var slots = new List<DimSlot>(dims.Count);
            for (int axis = 0; axis < dims.Count; axis++)
            {
                var dim = dims[axis];
                if (dim.Value is long size and >= 0)
                {
                    slots.Add(new DimSlot(size, null));
                    continue;
                }
                string key = dim.Symbol ?? $"{value.Name}[{axis}]";
                if (!freeByKey.TryGetValue(key, out var free))
                {
                    free = new FreeDim(key, IsBatch: false);
                    freeByKey[key] = free;
                    freeDims.Add(free);
                }
                if (axis == 0 && dims.Count >= 2 && !free.IsBatch)
                {
                    var batch = free with { IsBatch = true };
                    freeByKey[key] = batch;
                    freeDims[freeDims.IndexOf(free)] = batch;
                }
                slots.Add(new DimSlot(null, key));
            }

            if (options.Values.TryGetValue(value.Name, out double constant))
                inputs.Add(new PlannedInput(value.Name, elementType, slots, InputKind.Constant, null, constant, $"constant {constant.ToString("R", CultureInfo.InvariantCulture)}"));
            else if (IndexedDimension(value) is { } range)
                inputs.Add(new PlannedInput(value.Name, elementType, slots, InputKind.Random, null, 0, $"random indices 0..{range - 1}") { IndexRange = range });
            else
                inputs.Add(new PlannedInput(value.Name, elementType, slots, InputKind.Random, null, 0, RandomSource(elementType)));
        }

        // Symbols fixed by an input file are fixed everywhere.
        foreach (var (symbol, size) in fixedSymbols)
        {
            if (!freeByKey.ContainsKey(symbol)) continue;
            freeDims.RemoveAll(f => f.Key == symbol);
            foreach (var input in inputs)
                for (int i = 0; i < input.Dims.Count; i++)
                    if (input.Dims[i].Key == symbol) input.Dims[i] = new DimSlot(size, null);
        }
        var branchInputs = BranchDecisions.Find(reference, inputs.Where(i => i.Kind != InputKind.File).Select(i => i.Name).ToHashSet(StringComparer.Ordinal));
        return new InputPlan(inputs, freeDims, branchInputs, options.Seed);
    }

    /// <summary>
    /// The size of the dimension an integer input indexes when it is the indices of a Gather (an embedding
    /// lookup) whose data has a known size on the gathered axis; null otherwise.
    /// </summary>
    private static long? IndexedDimension(Value input)
    {
        if (input.ElementType is not { } type || ElementKinds.IsFloating(type) || type == DataType.Bool) return null;
        long? smallest = null;
        foreach (var use in input.Uses)
        {
            if (use.Node is not { OpType: "Gather", IsOnnxDomain: true } gather || use.InputIndex != 1 || gather.Input(0) is not { } data) continue;
            var dims = Model.TryGetConstant(data)?.Dims.ToArray() ?? TensorShape.FromType(data.Type)?.Dims?.Select(d => d.Value ?? -1).ToArray();
            if (dims is null || dims.Length == 0) continue;
            long axis = gather.GetInt("axis", 0);
            if (axis < 0) axis += dims.Length;
            if (axis < 0 || axis >= dims.Length || dims[axis] <= 0) continue;
            smallest = Math.Min(smallest ?? long.MaxValue, dims[axis]);
        }
        return smallest;
    }

    private static void CheckFileAgainstDeclaration(string name, string file, HostTensor tensor, DataType elementType,
        IReadOnlyList<Dim>? declared, VerifyOptions options, Dictionary<string, long> fixedSymbols)
    {
        if (tensor.ElementType != elementType)
            throw new OnnxConvException(ExitCode.UsageError, $"--input {name}: {file} holds {ElementKinds.Name(tensor.ElementType)}, the input is {ElementKinds.Name(elementType)}");
        var expected = options.Shapes.TryGetValue(name, out var overridden) ? overridden : declared;
        if (expected is null) return;
        string shape = $"[{string.Join(",", tensor.Shape)}]";
        if (expected.Count != tensor.Shape.Length)
            throw new OnnxConvException(ExitCode.UsageError, $"--input {name}: {file} has shape {shape}, the input has rank {expected.Count}");
        for (int axis = 0; axis < expected.Count; axis++)
        {
            if (expected[axis].Value is long d && d >= 0 && d != tensor.Shape[axis])
                throw new OnnxConvException(ExitCode.UsageError, $"--input {name}: {file} has shape {shape}, but axis {axis} must be {d}");
            if (expected[axis].Symbol is { } symbol) fixedSymbols[symbol] = tensor.Shape[axis];
        }
    }

    internal static string RandomSource(DataType type) =>
        ElementKinds.IsFloating(type) ? "random uniform [-1,1)"
        : type == DataType.Bool ? "random bool"
        : "random integers 0..3";

    /// <summary>The free-dim values trial <paramref name="trial"/> tries first.</summary>
    public Dictionary<string, long> PlannedDims(int trial)
    {
        var assignment = new Dictionary<string, long>(StringComparer.Ordinal);
        int round = trial / 3, k = 0, batch = 0;
        foreach (var free in _freeDims)
        {
            if (free.IsBatch)
            {
                // Independent batch symbols get different values, so a mix-up between them shows.
                assignment[free.Key] = (trial % 3) switch { 0 => 2, 1 => 1, _ => 3 } + batch++;
                continue;
            }
            bool even = k++ % 2 == 0;
            long size = (trial % 3) switch
            {
                0 => even ? 64 : 96,
                1 => even ? 96 : 64,
                _ => even ? 33 : 47,
            };
            assignment[free.Key] = size + 32 * round;
        }
        return assignment;
    }

    /// <summary>Conservative alternatives when ORT rejects the planned dims, most similar first, without repeats.</summary>
    public IEnumerable<(Dictionary<string, long> Dims, string Why)> Fallbacks(Dictionary<string, long> planned, Dictionary<string, long>? firstThatRan)
    {
        var tried = new List<Dictionary<string, long>> { planned };
        var aligned = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var free in _freeDims)
            aligned[free.Key] = free.IsBatch ? planned[free.Key] : (planned[free.Key] + 31) / 32 * 32;
        var batchOne = new Dictionary<string, long>(aligned, StringComparer.Ordinal);
        foreach (var free in _freeDims.Where(f => f.IsBatch)) batchOne[free.Key] = 1;
        var sameBatch = new Dictionary<string, long>(planned, StringComparer.Ordinal);
        long firstBatch = _freeDims.FirstOrDefault(f => f.IsBatch) is { } first ? planned[first.Key] : 1;
        foreach (var free in _freeDims.Where(f => f.IsBatch)) sameBatch[free.Key] = firstBatch;

        foreach (var (dims, why) in new[]
        {
            (sameBatch, "batch-like dims equal"),
            (aligned, "sizes rounded up to multiples of 32"),
            (batchOne, "multiples of 32 with batch 1"),
            (firstThatRan, "the dims of the first trial that ran"),
        })
        {
            if (dims is null || tried.Any(t => SameDims(t, dims))) continue;
            tried.Add(dims);
            yield return (dims, why);
        }
    }

    private static bool SameDims(Dictionary<string, long> a, Dictionary<string, long> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out long v) && v == p.Value);

    /// <summary>
    /// The trials of a random run: <paramref name="randomTrials"/> random ones; then, unless every input is
    /// fixed, one of edge values (floats drawn from 0, ±1, ±100) with batch-like dims 4 and the other free
    /// dims one square size; then one per value of each input that decides a branch.
    /// </summary>
    public List<TrialSpec> Schedule(int randomTrials)
    {
        var trials = new List<TrialSpec>();
        for (int t = 0; t < randomTrials; t++) trials.Add(new TrialSpec(t, "random", PlannedDims(t)));
        if (!IsFullyFixed)
        {
            var edge = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var free in _freeDims) edge[free.Key] = free.IsBatch ? EdgeBatch : EdgeSize;
            trials.Add(new TrialSpec(trials.Count, "edge values", edge) { EdgeValues = true });
        }
        foreach (var branch in _branchInputs)
        {
            var input = _inputs.First(i => i.Name == branch.Name);
            foreach (double value in branch.Values)
            {
                if (input.Kind == InputKind.Constant && input.Constant == value) continue;
                trials.Add(new TrialSpec(trials.Count, $"branch {branch.Name}={value.ToString("R", CultureInfo.InvariantCulture)}", PlannedDims(0))
                {
                    Override = (branch.Name, value),
                });
            }
        }
        return trials;
    }

    /// <summary>The tensors of <paramref name="trial"/> with free dims set by <paramref name="dims"/>.</summary>
    public List<(TrialInput Info, HostTensor Tensor)> MakeFeeds(TrialSpec trial, IReadOnlyDictionary<string, long> dims)
    {
        var feeds = new List<(TrialInput, HostTensor)>(_inputs.Count);
        for (int index = 0; index < _inputs.Count; index++)
        {
            var input = _inputs[index];
            var random = new Random(MixSeed(_seed, trial.Index, index));
            var shape = input.Kind == InputKind.File ? input.FileTensor!.Shape : input.ShapeFor(dims);
            (HostTensor tensor, string source) = input.Kind switch
            {
                InputKind.File => (input.FileTensor!, input.Source),
                _ when trial.Override is var (name, value) && name == input.Name =>
                    (HostTensor.Filled(input.ElementType, shape, value), $"constant {value.ToString("R", CultureInfo.InvariantCulture)} (branch)"),
                InputKind.Constant => (HostTensor.Filled(input.ElementType, shape, input.Constant), input.Source),
                _ when trial.EdgeValues && ElementKinds.IsFloating(input.ElementType) =>
                    (HostTensor.Generate(input.ElementType, shape, _ => EdgeValues[random.Next(EdgeValues.Length)]), "edge values 0, ±1, ±100"),
                _ when input.IndexRange is { } range => (HostTensor.Generate(input.ElementType, shape, _ => random.NextInt64(range)), input.Source),
                _ => (HostTensor.Random(input.ElementType, shape, random), input.Source),
            };
            feeds.Add((new TrialInput(input.Name, ElementKinds.Name(input.ElementType), tensor.Shape, source), tensor));
        }
        return feeds;
    }

    /// <summary>The tensors of random trial <paramref name="trial"/> with free dims set by <paramref name="dims"/>.</summary>
    public List<(TrialInput Info, HostTensor Tensor)> MakeFeeds(int trial, IReadOnlyDictionary<string, long> dims) =>
        MakeFeeds(new TrialSpec(trial, "random", new Dictionary<string, long>(dims)), dims);

    /// <summary>A deterministic seed for (seed, trial, input) that does not depend on the process (unlike HashCode).</summary>
    private static int MixSeed(int seed, int trial, int input)
    {
        ulong x = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)trial * 0xBF58476D1CE4E5B9UL ^ (ulong)(uint)input * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        x *= 0xD6E8FEB86659FD93UL;
        x ^= x >> 32;
        return (int)(x & 0x7FFFFFFF);
    }
}

internal enum InputKind
{
    Random,
    Constant,
    File,
}

/// <summary>A dim of a planned input: a fixed size, or the key of a free dim.</summary>
internal readonly record struct DimSlot(long? Size, string? Key);

/// <summary>A free dim shared by every slot with its key (a symbol, or "input[axis]" when unnamed).</summary>
internal sealed record FreeDim(string Key, bool IsBatch);

internal sealed record PlannedInput(string Name, DataType ElementType, List<DimSlot> Dims, InputKind Kind, HostTensor? FileTensor, double Constant, string Source)
{
    /// <summary>For the indices of a Gather: random values are drawn from 0 to this size − 1.</summary>
    public long? IndexRange { get; init; }

    public long[] ShapeFor(IReadOnlyDictionary<string, long> dims) =>
        Dims.Select(d => d.Size ?? dims[d.Key!]).ToArray();
}

/// <summary>One trial of a random run: its number (0-based), what it feeds, and the free dims it tries first.</summary>
internal sealed record TrialSpec(int Index, string Source, Dictionary<string, long> Dims)
{
    /// <summary>Floating-point random inputs get edge values (0, ±1, ±100) instead of uniform ones.</summary>
    public bool EdgeValues { get; init; }

    /// <summary>An input filled with one value to take a branch.</summary>
    public (string Name, double Value)? Override { get; init; }
}
