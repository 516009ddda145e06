using OnnxConvTool.Samples;

// Runs every step of the guide: Program MODEL OUTPUT.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: OnnxConvTool.Samples MODEL OUTPUT");
    return 2;
}
var model = Guide.Load(args[0]);
Guide.Audit(model);
var result = Guide.Optimize(model);
var report = Guide.Verify(args[0], model, result);
return Guide.Save(model, report, args[1]) is null ? 1 : 0;
