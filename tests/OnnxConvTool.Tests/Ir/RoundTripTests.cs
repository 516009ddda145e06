using OnnxConvTool.Ir;
using OnnxConvTool.TestKit;

namespace OnnxConvTool.Tests.Ir;

public sealed class RoundTripTests
{
    [SkippableTheory]
    [MemberData(nameof(Shared.RealModels), MemberType = typeof(Shared))]
    public void LoadSaveWithoutChangeIsByteIdentical(string name)
    {
        string path = Shared.RealModel(name);
        using var temp = new TempDirectory();
        string output = Path.Combine(temp.Path, name);
        ModelWriter.Save(ModelReader.Load(path), output);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(output));
    }
}
