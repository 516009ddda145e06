using OnnxConvTool.Benchmarks;

return BenchmarkHost.Run(args, Console.Out, Console.Error);
