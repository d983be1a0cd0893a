using DotnetMerge.Engine;
using DotnetMerge.Tool;
using DotnetMerge.Tool.Hosting;

// On AVX-512 machines, merges run in a child process with 512-bit Vector<T> (see SimdRelaunch); this process then
// only forwards Ctrl+C / SIGTERM and returns the child's exit code.
PhaseTimings.Mark("runtime started, Main entered");
if (SimdRelaunch.TryRun(args) is int childExitCode) return childExitCode;
// A relaunched child stops when its launcher is gone (kill -9 of the launcher must not leave a merge running).
if (!SimdRelaunch.BindToLauncher())
{
    Console.Error.WriteLine("the launching dotnet-merge process has exited; " + Cli.CancelledMessage);
    return ExitCodes.Cancelled;
}

// Ctrl+C / SIGTERM cancel the run from here on: the command stops, removes what it staged and exits with 130.
using var signals = TerminationSignals.Register(Console.Error);
int exitCode = await Cli.RunAsync(args, new ToolConsole(Console.Out, Console.Error, interactive: ToolConsole.IsInteractiveTerminal()), signals.Token);
PhaseTimings.Mark("command finished");
return exitCode;
