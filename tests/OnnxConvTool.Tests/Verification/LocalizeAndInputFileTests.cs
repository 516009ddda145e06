using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using OnnxConvTool.Ir;
using OnnxConvTool.Onnx;
using OnnxConvTool.TestKit;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Tests.Verification;

using DataType = TensorProto.Types.DataType;

public sealed class LocalizeAndInputFileTests
{
    /// <summary>x → conv1 → c1 → Relu → r1 → conv2 → c2 → Relu → r2 → conv3 → y, all 1x1 with 4 channels.</summary>
    private static TestModelBuilder Chain(string r1Name = "r1")
    {
        var b = new TestModelBuilder(seed: 3);
        b.Input("x", "N", 4, "H", "W");
        string previous = "x";
        for (int layer = 1; layer <= 3; layer++)
        {
            var w = b.Initializer(b.RandomTensor($"w{layer}", [4, 4, 1, 1], scale: 0.5));
            string output = layer == 3 ? "y" : $"c{layer}";
            b.Node("Conv", [previous, w], [output], Attr.Ints("kernel_shape", 1, 1));
            if (layer == 3) break;
            previous = layer == 1 ? r1Name : $"r{layer}";
            b.Node("Relu", [output], [previous]);
        }
        b.Output("y", DataType.Float, "N", 4, "H", "W");
        return b;
    }

    [Fact]
    public void LocalizeNamesTheFirstDivergingIntermediateInTopologicalOrder()
    {
        var report = EquivalenceChecker.Verify(Chain().Ir("reference.onnx"), Chain().Perturb("w2", 1e-3).Ir("candidate.onnx"),
            new VerifyOptions { Localize = true, Trials = 1 });
        Assert.Equal(ExitCode.VerificationFoundDifference, report.ExitCode);
        var localization = report.Localization!;
        Assert.Null(localization.Failure);
        Assert.Equal(4, localization.Compared);           // c1, r1, c2, r2 (y is an output)
        Assert.Equal("c2", localization.FirstDivergence!.Name);
        Assert.StartsWith("Conv ", localization.Producer);
        Assert.Contains("first divergence at 'c2'", report.RenderText());
    }

    [Fact]
    public void LocalizePairsRenamedIntermediatesThroughTheNameMap()
    {
        var reference = Chain().Ir("reference.onnx");
        var candidate = Chain(r1Name: "renamed_r1").Perturb("w3", 1e-3).Ir("candidate.onnx");
        var unmapped = EquivalenceChecker.Verify(reference, candidate, new VerifyOptions { Localize = true, Trials = 1 });
        Assert.Equal(3, unmapped.Localization!.Compared);
        var mapped = EquivalenceChecker.Verify(reference, candidate, new VerifyOptions
        {
            Localize = true,
            Trials = 1,
            NameMap = new Dictionary<string, string> { ["r1"] = "renamed_r1" },
        });
        Assert.Equal(4, mapped.Localization!.Compared);
        Assert.Equal(0, mapped.Localization.Diverged);
        Assert.Null(mapped.Localization.FirstDivergence);
        Assert.Equal(ExitCode.VerificationFoundDifference, mapped.ExitCode);
    }

    [Fact]
    public void LocalizeOnEquivalentModelsFindsNoDivergence()
    {
        var report = EquivalenceChecker.Verify(Chain().Ir(), Chain().Ir(), new VerifyOptions { Localize = true, Trials = 1 });
        Assert.True(report.Equivalent);
        Assert.Equal(4, report.Localization!.Compared);
        Assert.Null(report.Localization.FirstDivergence);
        Assert.Contains("none diverges", report.RenderText());
    }

    private static TestModelBuilder AddOne()
    {
        var b = new TestModelBuilder();
        b.Input("x", "N", 5);
        var one = b.Initializer(TestModelBuilder.TensorOf("one", [], [1]));
        b.Node("Add", ["x", one], ["y"]);
        b.Output("y", DataType.Float, "N", 5);
        return b;
    }

    private static void WriteTensor(string path, string name, long[] dims, float[] values)
    {
        var proto = Tensor.FromFloats(name, dims, values).Proto;
        File.WriteAllBytes(path, proto.ToByteArray());
    }

    [Fact]
    public void TestDataSetsAreTrialsAndTheReferenceIsCheckedAgainstStoredOutputs()
    {
        using var temp = new TempDirectory();
        float[][] inputs = [[0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5]];
        for (int set = 0; set < 2; set++)
        {
            string folder = Directory.CreateDirectory(temp.File($"test_data_set_{set}")).FullName;
            long[] dims = [inputs[set].Length / 5, 5];
            WriteTensor(Path.Combine(folder, "input_0.pb"), "", dims, inputs[set]);
            WriteTensor(Path.Combine(folder, "output_0.pb"), "y", dims, inputs[set].Select(v => v + 1).ToArray());
        }
        var report = EquivalenceChecker.Verify(AddOne().Ir(), AddOne().Ir(), new VerifyOptions { TestDataDirectory = temp.Path });
        Assert.True(report.Equivalent, report.RenderText());
        Assert.Equal(["test_data_set_0", "test_data_set_1"], report.Trials.Select(t => t.Source));
        Assert.Equal([2L, 5L], report.Trials[0].Inputs.Single().Shape);
        Assert.All(report.Trials, t => Assert.True(t.StoredOutputs.Single().Passed));

        WriteTensor(Path.Combine(temp.Path, "test_data_set_1", "output_0.pb"), "y", [1, 5], [2, 3, 4, 5, 6.01f]);
        var wrong = EquivalenceChecker.Verify(AddOne().Ir(), AddOne().Ir(), new VerifyOptions { TestDataDirectory = temp.Path });
        Assert.Equal(ExitCode.VerificationFoundDifference, wrong.ExitCode);
        Assert.Contains("trial 2: the reference's output 'y' differs from the stored test_data_set_1/output_0.pb", wrong.Problems[0]);
    }

    [Fact]
    public void AMissingTestDataFolderIsAUsageError()
    {
        using var temp = new TempDirectory();
        var error = Assert.Throws<OnnxConvException>(() => EquivalenceChecker.Verify(AddOne().Ir(), AddOne().Ir(), new VerifyOptions { TestDataDirectory = temp.Path }));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains("no input_*.pb files and no test_data_set_* folders", error.Message);
    }

    /// <summary>A version 1.0 .npy file per the NumPy format specification.</summary>
    private static byte[] Npy(long[] shape, float[] values)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8)]);
        bytes.AddRange(Encoding.Latin1.GetBytes(header));
        bytes.AddRange(MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        return bytes.ToArray();
    }

    [Fact]
    public void InputFilesAreFedAsIsAndFixTheirSymbols()
    {
        using var temp = new TempDirectory();
        float[] values = Enumerable.Range(0, 15).Select(i => i * 0.5f - 3).ToArray();
        File.WriteAllBytes(temp.File("x.npy"), Npy([3, 5], values));
        WriteTensor(temp.File("x.pb"), "x", [3, 5], values);
        foreach (string file in new[] { "x.npy", "x.pb" })
        {
            var report = EquivalenceChecker.Verify(AddOne().Ir(), AddOne().Ir(), new VerifyOptions
            {
                InputFiles = new Dictionary<string, string> { ["x"] = temp.File(file) },
            });
            Assert.True(report.Equivalent, report.RenderText());
            var trial = Assert.Single(report.Trials);
            Assert.Equal([3L, 5L], trial.Inputs.Single().Shape);
            Assert.Equal($"file {file}", trial.Inputs.Single().Source);
            Assert.Contains(report.Notes, n => n.Contains("every input is fixed"));
        }
    }

    [Fact]
    public void AnInputFileOfTheWrongTypeOrShapeIsAUsageError()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp.File("x.npy"), Npy([3, 4], new float[12]));
        var error = Assert.Throws<OnnxConvException>(() => EquivalenceChecker.Verify(AddOne().Ir(), AddOne().Ir(), new VerifyOptions
        {
            InputFiles = new Dictionary<string, string> { ["x"] = temp.File("x.npy") },
        }));
        Assert.Equal(ExitCode.UsageError, error.ExitCode);
        Assert.Contains("axis 1 must be 5", error.Message);
    }
}
