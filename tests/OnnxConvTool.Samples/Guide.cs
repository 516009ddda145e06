using OnnxConvTool.Analysis;
using OnnxConvTool.Ir;
using OnnxConvTool.Pipeline;
using OnnxConvTool.Rules;
using OnnxConvTool.Verification;

namespace OnnxConvTool.Samples;

/// <summary>
/// The README's "Use it from C#" section: each step between a <c>// begin: NAME</c> and <c>// end: NAME</c>
/// line is shown there verbatim (a test compares them).
/// </summary>
public static class Guide
{
    /// <summary>Reads a model and prints its size.</summary>
    public static Model Load(string path)
    {
        // begin: load
        Model model = ModelReader.Load(path);
        Console.WriteLine($"{path}: opset {model.OnnxOpset}, {model.AllNodes().Count()} nodes");
        // end: load
        return model;
    }

    /// <summary>Lists the model's 1x1 convolutions.</summary>
    public static AuditReport Audit(Model model)
    {
        // begin: audit
        AuditReport audit = Conv1x1Audit.Run(model);
        Console.WriteLine($"{audit.Totals.Conv1x1} of {audit.Totals.Conv} convolutions are 1x1");
        foreach (Conv1x1Row conv in audit.Conv1x1)
            Console.WriteLine($"  {conv.Node}: {conv.InChannels} -> {conv.OutChannels} channels, {Conv1x1Audit.RoleName(conv.Role)}");
        // end: audit
        return audit;
    }

    /// <summary>Optimizes a model in memory, as <c>onnxconv optimize</c> does.</summary>
    public static TransformResult Optimize(Model model)
    {
        // begin: optimize
        TransformResult result = ModelTransformer.Run(model, TransformPlans.Optimize(convertTo: RewriteTarget.MatMul));
        foreach (StageResult stage in result.Stages)
            Console.WriteLine($"{stage.Name}: {(stage.Modified ? "changed the model" : "nothing to do")}");
        // end: optimize
        return result;
    }

    /// <summary>Checks with ONNX Runtime that the optimized model computes what the original does.</summary>
    public static VerificationReport Verify(string originalPath, Model optimized, TransformResult result)
    {
        // begin: verify
        Model original = ModelReader.Load(originalPath);
        VerificationReport report = EquivalenceChecker.Verify(original, optimized, new VerifyOptions
        {
            NameMap = result.ValueNameMap,
            CreatedNodes = result.CreatedNodes.Select(node => node.NodeName).ToList(),
        });
        Console.WriteLine(report.Summary);
        // end: verify
        return report;
    }

    /// <summary>Writes the optimized model when it was verified.</summary>
    public static SaveResult? Save(Model optimized, VerificationReport report, string outputPath)
    {
        // begin: save
        if (!report.Equivalent) return null;
        SaveResult saved = ModelWriter.Save(optimized, outputPath);
        Console.WriteLine($"wrote {saved.ModelPath} ({saved.ModelBytes} bytes)");
        // end: save
        return saved;
    }

    /// <summary>All of the above in one call, as <c>onnxconv optimize MODEL -o OUTPUT</c> does.</summary>
    public static PipelineResult Pipeline(string inputPath, string outputPath)
    {
        // begin: pipeline
        PipelineResult run = ModelPipeline.Run(new PipelineRequest
        {
            InputPath = inputPath,
            OutputPath = outputPath,
            Plan = TransformPlans.Optimize(),
            Verify = new VerifyOptions(),
        });
        Console.WriteLine(run.Written ? $"verified and written: {run.Verification?.Summary}" : $"not written: {run.Verification!.Summary}");
        // end: pipeline
        return run;
    }
}
