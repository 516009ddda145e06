using OnnxConvTool.Onnx;

namespace OnnxConvTool.Shapes;

using DataType = TensorProto.Types.DataType;

/// <summary>Convolutions and pooling: Conv, ConvTranspose, ConvInteger, QLinearConv, MaxPool, AveragePool, LpPool, global pools.</summary>
internal static class ConvPoolRules
{
    public static void Register(IDictionary<string, Action<NodeContext>> rules)
    {
        rules["Conv"] = c => Conv(c, 0, 1, c.Type(0));
        rules["ConvInteger"] = c => Conv(c, 0, 1, DataType.Int32);
        rules["QLinearConv"] = c => Conv(c, 0, 3, c.HasInput(7) ? c.Type(7) : DataType.Uint8);
        rules["ConvTranspose"] = ConvTranspose;
        rules["MaxPool"] = c => Pool(c, dilationsSince: 10);
        rules["AveragePool"] = c => Pool(c, dilationsSince: 19);
        rules["LpPool"] = c => Pool(c, dilationsSince: 18);
        rules["GlobalAveragePool"] = GlobalPool;
        rules["GlobalMaxPool"] = GlobalPool;
        rules["GlobalLpPool"] = GlobalPool;
        rules["MaxUnpool"] = MaxUnpool;
    }

    /// <summary>Kernel, strides, pads, dilations and auto_pad of a conv or pool node, one entry per spatial dim (pads: begins, then ends).</summary>
    private sealed record Window(long?[] Kernel, long[] Strides, long[] Pads, long[] Dilations, string AutoPad)
    {
        public static Window? Read(NodeContext c, int spatial, long?[] kernel, bool readDilations = true)
        {
            long[] strides = c.Ints("strides") ?? Ones(spatial);
            long[] pads = c.Ints("pads") ?? new long[2 * spatial];
            long[] dilations = (readDilations ? c.Ints("dilations") : null) ?? Ones(spatial);
            if (kernel.Length != spatial || strides.Length != spatial || pads.Length != 2 * spatial || dilations.Length != spatial) return null;
            if (strides.Any(s => s <= 0) || dilations.Any(d => d <= 0)) return null;
            return new Window(kernel, strides, pads, dilations, c.String("auto_pad", "NOTSET"));
        }

        /// <summary>The output size of spatial axis <paramref name="i"/> for an input of <paramref name="input"/>.</summary>
        public DimExpr? Output(int i, DimExpr? input, bool ceilMode)
        {
            if (input is null) return null;
            long stride = Strides[i];
            if (AutoPad is "SAME_UPPER" or "SAME_LOWER") return input.CeilDiv(stride);
            if (Kernel[i] is not { } k) return null;
            long extent = checked((k - 1) * Dilations[i] + 1);
            long padBegin = AutoPad == "VALID" ? 0 : Pads[i];
            long padEnd = AutoPad == "VALID" ? 0 : Pads[i + Strides.Length];
            var span = input + checked(padBegin + padEnd - extent);
            if (!ceilMode) return span.FloorDiv(stride) + 1;
            var output = span.CeilDiv(stride) + 1;
            // ceil_mode drops a last window that would start inside the end padding (ONNX and PyTorch).
            if (output.Constant is { } o && input.Constant is { } n)
                return DimExpr.Of(checked((o - 1) * stride) >= n + padBegin ? o - 1 : o);
            return padEnd + stride <= extent ? output : null;
        }
    }

    private static long[] Ones(int count) => Enumerable.Repeat(1L, count).ToArray();

    private static void Conv(NodeContext c, int xIndex, int wIndex, DataType? type)
    {
        var x = c.Dims(xIndex);
        var w = c.Dims(wIndex);
        int rank = x?.Length ?? w?.Length ?? c.Ints("kernel_shape")?.Length + 2 ?? 0;
        if (rank < 3)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int spatial = rank - 2;
        var kernel = KernelShape(c, w, spatial);
        var window = Window.Read(c, spatial, kernel);
        var output = new DimExpr?[rank];
        output[0] = x?[0];
        output[1] = w?[0];
        for (int i = 0; i < spatial; i++) output[2 + i] = window?.Output(i, x?[2 + i], ceilMode: false);
        c.SetOutput(0, type, output);
    }

    /// <summary>kernel_shape, else the weight's spatial dims (W is [M, C/group, k1, k2, …]).</summary>
    private static long?[] KernelShape(NodeContext c, DimExpr?[]? w, int spatial)
    {
        if (c.Ints("kernel_shape") is { } attribute) return attribute.Select(k => (long?)k).ToArray();
        var kernel = new long?[spatial];
        if (w is not null && w.Length == spatial + 2)
            for (int i = 0; i < spatial; i++) kernel[i] = w[2 + i]?.Constant;
        return kernel;
    }

    private static void ConvTranspose(NodeContext c)
    {
        var x = c.Dims(0);
        var w = c.Dims(1);
        var type = c.Type(0);
        int rank = x?.Length ?? w?.Length ?? 0;
        if (rank < 3)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int spatial = rank - 2;
        long group = c.Int("group", 1);
        var output = new DimExpr?[rank];
        output[0] = x?[0];
        output[1] = w?[1] is { } perGroup ? perGroup * group : null;

        if (c.Ints("output_shape") is { Length: > 0 } explicitShape && explicitShape.Length >= spatial)
        {
            for (int i = 0; i < spatial; i++) output[2 + i] = DimExpr.Of(explicitShape[explicitShape.Length - spatial + i]);
            c.SetOutput(0, type, output);
            return;
        }

        var kernel = KernelShape(c, w, spatial);
        var window = Window.Read(c, spatial, kernel);
        long[] outputPadding = c.Ints("output_padding") ?? new long[spatial];
        for (int i = 0; i < spatial && window is not null && outputPadding.Length == spatial; i++)
        {
            if (x?[2 + i] is not { } input) continue;
            long stride = window.Strides[i];
            if (window.AutoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                output[2 + i] = input * stride;
                continue;
            }
            if (kernel[i] is not { } k) continue;
            bool valid = window.AutoPad == "VALID";
            long pads = valid ? 0 : window.Pads[i] + window.Pads[i + spatial];
            long extent = checked((k - 1) * window.Dilations[i] + 1);
            output[2 + i] = (input - 1) * stride + checked(outputPadding[i] + extent - pads);
        }
        c.SetOutput(0, type, output);
    }

    private static void Pool(NodeContext c, int dilationsSince)
    {
        var x = c.Dims(0);
        var type = c.Type(0);
        var kernelAttribute = c.Ints("kernel_shape");
        if (x is null || kernelAttribute is null || x.Length != kernelAttribute.Length + 2)
        {
            c.SetOutput(0, type, x is null ? null : new DimExpr?[x.Length]);
            c.SetOutput(1, DataType.Int64, x is null ? null : new DimExpr?[x.Length]);
            return;
        }
        int spatial = kernelAttribute.Length;
        var window = Window.Read(c, spatial, kernelAttribute.Select(k => (long?)k).ToArray(), readDilations: c.Opset >= dilationsSince);
        bool ceilMode = c.Int("ceil_mode", 0) != 0;
        var output = new DimExpr?[x.Length];
        output[0] = x[0];
        output[1] = x[1];
        for (int i = 0; i < spatial; i++) output[2 + i] = window?.Output(i, x[2 + i], ceilMode);
        c.SetOutput(0, type, output);
        c.SetOutput(1, DataType.Int64, output);
    }

    private static void GlobalPool(NodeContext c)
    {
        var x = c.Dims(0);
        if (x is null || x.Length < 2)
        {
            c.SetOutput(0, c.Type(0), null);
            return;
        }
        var output = new DimExpr?[x.Length];
        output[0] = x[0];
        output[1] = x[1];
        for (int i = 2; i < x.Length; i++) output[i] = DimExpr.Of(1);
        c.SetOutput(0, c.Type(0), output);
    }

    private static void MaxUnpool(NodeContext c)
    {
        var type = c.Type(0);
        if (c.HasInput(2))
        {
            var shape = c.Values(2);
            c.SetOutput(0, type, shape is null ? (c.Dims(2) is [{ Constant: { } r }] ? new DimExpr?[r] : null) : shape);
            return;
        }
        var x = c.Dims(0);
        var kernel = c.Ints("kernel_shape");
        if (x is null || kernel is null || x.Length != kernel.Length + 2)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int spatial = kernel.Length;
        long[] strides = c.Ints("strides") ?? Ones(spatial);
        long[] pads = c.Ints("pads") ?? new long[2 * spatial];
        var output = new DimExpr?[x.Length];
        output[0] = x[0];
        output[1] = x[1];
        for (int i = 0; i < spatial; i++)
            output[2 + i] = x[2 + i] is { } d ? (d - 1) * strides[i] + (kernel[i] - pads[i] - pads[i + spatial]) : null;
        c.SetOutput(0, type, output);
    }
}
