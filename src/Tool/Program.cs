using DotnetMerge.Tool;
using DotnetMerge.Tool.Hosting;

// On AVX-512 machines, merges run in a child process with 512-bit Vector<T> (see SimdRelaunch).
if (SimdRelaunch.TryRun(args) is int childExitCode) return childExitCode;

return await Cli.RunAsync(args, new ToolConsole(Console.Out, Console.Error, interactive: ToolConsole.IsInteractiveTerminal()));
