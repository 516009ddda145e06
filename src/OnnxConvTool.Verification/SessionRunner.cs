using Microsoft.ML.OnnxRuntime;
using OnnxConvTool.Onnx;

namespace OnnxConvTool.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>Runs a session on host tensors and exposes its outputs as raw tensors; cancellation terminates the run.</summary>
internal static class SessionRunner
{
    /// <exception cref="OnnxRuntimeException">ORT failed on these inputs.</exception>
    public static RunOutputs Run(InferenceSession session, IReadOnlyList<(string Name, HostTensor Tensor)> feeds,
        IReadOnlyList<string> outputNames, CancellationToken cancellation)
    {
        var values = new List<OrtValue>(feeds.Count);
        try
        {
            foreach (var feed in feeds) values.Add(feed.Tensor.ToOrtValue());
            using var runOptions = new RunOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            using var registration = cancellation.Register(() => runOptions.Terminate = true);
            try
            {
                var outputs = session.Run(runOptions, feeds.Select(f => f.Name).ToArray(), values, outputNames.ToArray());
                return new RunOutputs(outputNames, outputs);
            }
            catch (OnnxRuntimeException) when (cancellation.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellation);
            }
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
    }
}

/// <summary>A run's outputs by name; disposing frees ORT's buffers.</summary>
internal sealed class RunOutputs(IReadOnlyList<string> names, IDisposableReadOnlyCollection<OrtValue> values) : IDisposable
{
    private readonly Dictionary<string, OrtValue> _byName = names.Zip(values).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);

    public OutputTensor Get(string name) => OutputTensor.From(name, _byName[name]);

    public void Dispose() => values.Dispose();
}

/// <summary>A tensor output's element type, shape, and raw data (valid while its run's outputs are alive).</summary>
internal readonly struct OutputTensor
{
    private readonly OrtValue _value;

    private OutputTensor(OrtValue value, DataType elementType, long[] shape)
    {
        _value = value;
        ElementType = elementType;
        Shape = shape;
    }

    public DataType ElementType { get; }
    public long[] Shape { get; }
    public ReadOnlySpan<byte> Raw => _value.GetTensorMutableRawData();

    /// <exception cref="RuntimeFailure">The output is not a numeric or bool tensor.</exception>
    public static OutputTensor From(string name, OrtValue value)
    {
        if (!value.IsTensor)
            throw new RuntimeFailure($"output '{name}' is a {value.OnnxType.ToString().Replace("ONNX_TYPE_", "").ToLowerInvariant()}, not a tensor; verify compares tensors only");
        var info = value.GetTensorTypeAndShape();
        var type = (DataType)(int)info.ElementDataType;
        if (!ElementKinds.IsSupported(type))
            throw new RuntimeFailure($"output '{name}' has element type {ElementKinds.Name(type)}, which verify cannot compare");
        return new OutputTensor(value, type, info.Shape);
    }
}
