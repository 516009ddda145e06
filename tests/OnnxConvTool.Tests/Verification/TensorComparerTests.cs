using System.Runtime.InteropServices;
using OnnxConvTool.Onnx;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

public sealed class TensorComparerTests
{
    private static OutputComparison CompareFloats(float[] reference, float[] candidate, double? rtol = null, double? atol = null) =>
        TensorComparer.Compare("y", "y", DataType.Float, [reference.Length], MemoryMarshal.AsBytes(reference.AsSpan()),
            DataType.Float, [candidate.Length], MemoryMarshal.AsBytes(candidate.AsSpan()), rtol, atol);

    [Fact]
    public void StatisticsMatchAHandComputation()
    {
        float[] a = [1f, -2f, 0f, 4f];
        float[] b = [1.5f, -2f, 0.25f, 3f];
        var c = CompareFloats(a, b, rtol: 0.1, atol: 0.3);
        Assert.Equal(1.0, c.MaxAbsError, 12);            // |4 - 3|
        Assert.Equal(0.5, c.MaxRelError, 12);            // |1 - 1.5| / 1 (the zero reference is left out)
        Assert.Equal((0.5 + 0 + 0.25 + 1) / 4, c.MeanAbsError, 12);
        // Tolerances: 0.3 + 0.1·|a| = 0.4, 0.5, 0.3, 0.7 against errors 0.5, 0, 0.25, 1.
        Assert.Equal(2, c.Mismatches);
        Assert.Equal(0, c.NanInfMismatches);
        Assert.Equal(1.0 - 0.1 * 4, c.SmallestPassingAtol!.Value, 12);
        Assert.False(c.Passed);
    }

    [Fact]
    public void TheSmallestPassingAtolIsExactlyTheBoundary()
    {
        float[] a = [0.5f, -3f, 7f, 0.001f];
        float[] b = [0.5002f, -3.01f, 7.0004f, 0.0f];
        var probe = CompareFloats(a, b);
        double atol = probe.SmallestPassingAtol!.Value;
        Assert.True(CompareFloats(a, b, atol: atol).Passed);
        Assert.False(CompareFloats(a, b, atol: atol * 0.99).Passed);
    }

    [Fact]
    public void DefaultsDependOnTheElementType()
    {
        // float32: rtol 1e-4, atol 1e-5. An error of 5e-5 on a value of 1 passes; 5e-4 does not.
        Assert.True(CompareFloats([1f], [1.00005f]).Passed);
        Assert.False(CompareFloats([1f], [1.0005f]).Passed);
        Half[] h = [(Half)1, (Half)2];
        Half[] hc = [(Half)1.00390625, (Half)2];       // one float16 ulp at 1: inside rtol 1e-2
        var half = TensorComparer.Compare("h", "h", DataType.Float16, [2], MemoryMarshal.AsBytes(h.AsSpan()), DataType.Float16, [2], MemoryMarshal.AsBytes(hc.AsSpan()), null, null);
        Assert.True(half.Passed);
        Assert.Equal(1e-2, half.Rtol);
        long[] i = [1, 2, 3];
        long[] ic = [1, 2, 4];
        var ints = TensorComparer.Compare("i", "i", DataType.Int64, [3], MemoryMarshal.AsBytes(i.AsSpan()), DataType.Int64, [3], MemoryMarshal.AsBytes(ic.AsSpan()), null, null);
        Assert.False(ints.Passed);
        Assert.Equal(1, ints.Mismatches);
        Assert.Equal(0, ints.Atol);
    }

    [Fact]
    public void NanMatchesOnlyNanAndInfinityOnlyTheSameInfinity()
    {
        float[] a = [float.NaN, float.PositiveInfinity, 1f, float.NegativeInfinity, 2f];
        float[] b = [float.NaN, float.PositiveInfinity, float.NaN, float.PositiveInfinity, 2f];
        var c = CompareFloats(a, b);
        Assert.Equal(2, c.NanInfMismatches);
        Assert.Equal(0, c.Mismatches);
        Assert.Null(c.SmallestPassingAtol);
        Assert.False(c.Passed);
        Assert.True(CompareFloats([float.NaN, float.NegativeInfinity], [float.NaN, float.NegativeInfinity]).Passed);
    }

    [Fact]
    public void ShapeAndTypeDifferencesAreNotComparedElementwise()
    {
        float[] a = [1, 2, 3, 4];
        var shape = TensorComparer.Compare("y", "y", DataType.Float, [2, 2], MemoryMarshal.AsBytes(a.AsSpan()), DataType.Float, [4], MemoryMarshal.AsBytes(a.AsSpan()), null, null);
        Assert.False(shape.Passed);
        Assert.Contains("shape differs: [2,2] in the reference, [4] in the candidate", shape.Problem);
        var type = TensorComparer.Compare("y", "y", DataType.Float, [4], MemoryMarshal.AsBytes(a.AsSpan()), DataType.Int32, [4], MemoryMarshal.AsBytes(a.AsSpan()), null, null);
        Assert.False(type.Passed);
        Assert.Contains("element type differs", type.Problem);
    }
}
