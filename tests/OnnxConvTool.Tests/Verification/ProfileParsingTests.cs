using System.Text;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

/// <summary>ONNX Runtime's Chrome-trace profile read into kernel time per operator type, for bench --profile and the merge profile.</summary>
public sealed class ProfileParsingTests
{
    private const string Trace = """
        [
          {"cat":"Session","name":"model_run","ts":100,"dur":50},
          {"cat":"Node","name":"conv_a_kernel_time","ts":110,"dur":30,"args":{"op_name":"Conv"}},
          {"cat":"Node","name":"relu_kernel_time","ts":140,"dur":4,"args":{"op_name":"Relu"}},
          {"cat":"Node","name":"conv_a_fence_before","ts":109,"dur":1,"args":{"op_name":"Conv"}},
          {"cat":"Session","name":"model_run","ts":200,"dur":40},
          {"cat":"Node","name":"conv_a_kernel_time","ts":205,"dur":20,"args":{"op_name":"Conv"}},
          {"cat":"Node","name":"conv_b_kernel_time","ts":226,"dur":10,"args":{"op_name":"Conv"}},
          {"cat":"Node","name":"relu_kernel_time","ts":237,"dur":2,"args":{"op_name":"Relu"}}
        ]
        """;

    private static MemoryStream Stream() => new(Encoding.UTF8.GetBytes(Trace));

    [Fact]
    public void KernelTimeIsSummedPerOpTypeOverEveryRun()
    {
        var times = KernelProfile.Parse(Stream());

        Assert.Equal(["Conv", "Relu"], times.Select(t => t.OpType));
        Assert.Equal(2, times[0].Nodes);
        Assert.Equal(30.0, times[0].MicrosecondsPerRun, 9);
        Assert.Equal(1, times[1].Nodes);
        Assert.Equal(3.0, times[1].MicrosecondsPerRun, 9);
    }

    [Fact]
    public void OperatorProfileLeavesOutTheWarmUpRuns()
    {
        var profile = OperatorProfile.Parse(Stream(), warmupRuns: 1);

        Assert.Equal(1, profile.Runs);
        Assert.Equal(0.032, profile.KernelMsPerRun, 9);
        Assert.Equal(["Conv", "Relu"], profile.Operators.Select(o => o.OpType));
        Assert.Equal(2, profile.Operators[0].Nodes);
        Assert.Equal(30.0 / 32, profile.Operators[0].Share, 9);
    }
}
