using EmKernels.Cli;

// emk: the command-line tool. Everything lives in Emk.Run so tests run the same code in-process.
return Emk.Run(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);
