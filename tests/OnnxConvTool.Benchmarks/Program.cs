using OnnxConvTool.Benchmarks;

// Placeholder entry point until the shared benchmark host lands on main; then `verify` becomes one of its subcommands.
int runs = args.Length >= 2 && args[0] == "--runs" ? int.Parse(args[1]) : 5;
return VerifyBenchmark.Run(Console.Out, runs);
