using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

/// <summary>Every ONNX backend test case in ../shared: the model loads and round-trips, and its .pb tensors parse and fit the model.</summary>
public sealed class BackendTestDataTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string folder in SharedData.BackendTestCases()) data.Add(Path.GetFileName(folder));
        if (data.Count == 0) data.Add("(../shared/onnx-backend-tests not found)");
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void ModelLoadsRoundTripsAndItsTensorFilesFitItsInputsAndOutputs(string name)
    {
        string folder = Shared.BackendTestCase(name);
        string modelPath = Path.Combine(folder, "model.onnx");

        var model = ModelReader.Load(modelPath);

        Assert.Equal(File.ReadAllBytes(modelPath), ModelWriter.ToBytes(model));
        var inputs = model.Graph.Inputs.Where(v => !v.IsInitializer).ToList();
        var outputs = model.Graph.Outputs;
        var dataSets = Directory.GetDirectories(folder, "test_data_set_*");
        Assert.NotEmpty(dataSets);
        foreach (string dataSet in dataSets)
        {
            AssertTensorsFit(Directory.GetFiles(dataSet, "input_*.pb"), inputs);
            AssertTensorsFit(Directory.GetFiles(dataSet, "output_*.pb"), outputs);
        }
    }

    private static void AssertTensorsFit(string[] files, IReadOnlyList<Value> values)
    {
        Assert.Equal(values.Count, files.Length);
        foreach (string file in files)
        {
            var tensor = TensorProtoFile.Read(file);
            int index = int.Parse(Path.GetFileNameWithoutExtension(file).Split('_')[1]);
            var value = values[index];
            Assert.Equal(value.ElementType, tensor.ElementType);
            var declared = value.Type?.TensorType?.Shape?.Dim;
            if (declared is null) continue;
            Assert.Equal(declared.Count, tensor.Rank);
            for (int d = 0; d < declared.Count; d++)
                if (declared[d].HasDimValue) Assert.Equal(declared[d].DimValue, tensor.Dims[d]);
            Assert.Equal(tensor.ByteCount, tensor.GetRawBytes().Length);
        }
    }
}
