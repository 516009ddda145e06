using OnnxConvTool.Rewriting;
using OnnxConvTool.Rules;

namespace OnnxConvTool.Tests.Rules;

public sealed class RuleCatalogTests
{
    [Fact]
    public void IdsAreStableKebabCaseAndUnique()
    {
        Assert.Contains("conv1x1-to-matmul", RuleCatalog.Ids);
        Assert.Contains("conv1x1-to-gemm", RuleCatalog.Ids);
        Assert.Contains("matmul-to-conv1x1", RuleCatalog.Ids);
        Assert.Equal(RuleCatalog.Ids.Count, RuleCatalog.Ids.Distinct().Count());
        Assert.All(RuleCatalog.Ids, id => Assert.Matches("^[a-z0-9]+(-[a-z0-9]+)*$", id));
    }

    [Fact]
    public void EveryEntryMakesAFreshRuleWithItsOwnIdAndSummary()
    {
        foreach (var entry in RuleCatalog.All)
        {
            var first = entry.Create();
            Assert.Equal(entry.Id, first.Id);
            Assert.Equal(entry.Summary, first.Summary);
            Assert.NotSame(first, entry.Create());
            Assert.Contains(entry, RuleCatalog.Set(entry.Set));
        }
    }

    [Fact]
    public void TheConvertSetHoldsTheToTargetsAndEachTargetMapsToItsRule()
    {
        Assert.Equal(["conv1x1-to-matmul", "conv1x1-to-gemm", "matmul-to-conv1x1", "restore-spatial-conv"], RuleCatalog.Set(RuleCatalog.ConvertSet).Select(e => e.Id));
        Assert.Equal("conv1x1-to-matmul", Assert.Single(RuleCatalog.ForTarget(RewriteTarget.MatMul)).Id);
        Assert.Equal("conv1x1-to-gemm", Assert.Single(RuleCatalog.ForTarget(RewriteTarget.Gemm)).Id);
        Assert.Equal(["matmul-to-conv1x1", "restore-spatial-conv", "fuse-pad-into-conv"], RuleCatalog.ForTarget(RewriteTarget.Conv).Select(r => r.Id));
    }

    [Fact]
    public void ARuleAndItsInverseNeverShareAFixpointRun()
    {
        var error = Assert.Throws<InvalidOperationException>(() => RuleCatalog.CreateFixpointSet(RuleCatalog.ConvertSet));
        Assert.Contains("undo each other", error.Message);
        var alone = RuleCatalog.CreateFixpointSet(RuleCatalog.ConvertSet, only: ["conv1x1-to-matmul", "conv1x1-to-gemm"]);
        Assert.Equal(["conv1x1-to-matmul", "conv1x1-to-gemm"], alone.Select(r => r.Id));
        Assert.Equal(["matmul-to-conv1x1", "restore-spatial-conv"], RuleCatalog.CreateFixpointSet(RuleCatalog.ConvertSet, skip: ["conv1x1-to-matmul", "conv1x1-to-gemm"]).Select(r => r.Id));
    }

    [Fact]
    public void UnknownIdsAreListedOnceInTheOrderGiven()
    {
        Assert.Equal(["fuse-everything", "nope"], RuleCatalog.UnknownIds(["conv1x1-to-matmul", "fuse-everything", "nope", "fuse-everything"]));
        Assert.Empty(RuleCatalog.UnknownIds(RuleCatalog.Ids));
        Assert.Throws<ArgumentException>(() => RuleCatalog.Set("fuse"));
    }

    [Fact]
    public void EveryRuleDeclaresTheOpTypesItIsRootedAt()
    {
        foreach (var entry in RuleCatalog.All)
        {
            IRewriteRule rule = entry.Create();
            Assert.NotNull(rule.RootOpTypes);
            Assert.NotEmpty(rule.RootOpTypes!);
        }
    }
}
