using OnnxConvTool.Cli;

return OnnxConvCli.Run(args, Console.Out, Console.Error);
