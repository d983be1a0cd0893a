using DotnetMerge.Tool;

return await Cli.RunAsync(args, new ToolConsole(Console.Out, Console.Error, interactive: ToolConsole.IsInteractiveTerminal()));
