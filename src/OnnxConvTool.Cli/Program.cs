using OnnxConvTool.Cli;

return OnnxConvCli.RunAsProcess(args);
