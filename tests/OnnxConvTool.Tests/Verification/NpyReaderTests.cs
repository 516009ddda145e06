using System.Runtime.InteropServices;
using OnnxConvTool.Onnx;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

/// <summary>The .npy files here were written by NumPy 1.24 (np.save) and embedded as base64, so NumPy is the oracle.</summary>
public sealed class NpyReaderTests
{
    private static HostTensor Parse(string base64) => NpyReader.Parse(Convert.FromBase64String(base64), "test.npy");

    [Fact]
    public void ReadsFloat32MatrixInCOrder()
    {
        var tensor = Parse("k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAQwAAAQEAAAAA+AAAAv28Sgzo=");
        Assert.Equal(DataType.Float, tensor.ElementType);
        Assert.Equal([2L, 3L], tensor.Shape);
        Assert.Equal([1.5f, -2.25f, 3f, 0.125f, -0.5f, 1e-3f], MemoryMarshal.Cast<byte, float>(tensor.Data).ToArray());
    }

    [Fact]
    public void ReadsInt64BoolFloat16Uint8AndScalars()
    {
        var int64 = Parse("k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAP7/////////AwAAAAAAAAAAkC9QCQAAAA==");
        Assert.Equal(DataType.Int64, int64.ElementType);
        Assert.Equal([1L, -2L, 3L, 40000000000L], MemoryMarshal.Cast<byte, long>(int64.Data).ToArray());

        var boolean = Parse("k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAB");
        Assert.Equal(DataType.Bool, boolean.ElementType);
        Assert.Equal([2L, 2L], boolean.Shape);
        Assert.Equal(new byte[] { 1, 0, 0, 1 }, boolean.Data);

        var half = Parse("k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAOAC8/3s=");
        Assert.Equal(DataType.Float16, half.ElementType);
        Assert.Equal([(Half)0.5, (Half)(-1.0), (Half)65504], MemoryMarshal.Cast<byte, Half>(half.Data).ToArray());

        var bytes = Parse("k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoA/wc=");
        Assert.Equal(DataType.Uint8, bytes.ElementType);
        Assert.Equal(new byte[] { 0, 255, 7 }, bytes.Data);

        var scalar = Parse("k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAEQA==");
        Assert.Equal(DataType.Double, scalar.ElementType);
        Assert.Empty(scalar.Shape);
        Assert.Equal(2.5, BitConverter.ToDouble(scalar.Data));
    }

    [Theory]
    [InlineData("k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo/gAAAQAAAAA==", "unsupported dtype '>f4'")]
    [InlineData("k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=", "Fortran order")]
    [InlineData("aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgbnB5", "bad magic")]
    public void RefusesWhatItCannotReadWithAReason(string base64, string reason)
    {
        var error = Assert.ThrowsAny<OnnxConvException>(() => Parse(base64));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void RefusesTruncatedData()
    {
        var bytes = Convert.FromBase64String("k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAP7/////////AwAAAAAAAAAAkC9QCQAAAA==");
        var error = Assert.ThrowsAny<OnnxConvException>(() => NpyReader.Parse(bytes[..^3], "cut.npy"));
        Assert.Contains("cut.npy", error.Message);
        Assert.Contains("needs 32", error.Message);
    }
}
