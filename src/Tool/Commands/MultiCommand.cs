using System.CommandLine;
using DotnetMerge.Engine;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge multi CONFIG OUT</c>: a multi-stage definition (several YAML documents, mergekit-multi).
/// The same as <c>run</c>, which also runs multi-stage files; the name is there for mergekit-multi users.</summary>
public static class MultiCommand
{
    public const string Description =
        "Run a multi-stage definition (mergekit-multi): YAML documents separated by '---', each a merge with a 'name:' " +
        "(except the final one, whose model goes to OUTPUT_DIR); a model reference equal to a stage's name uses that " +
        "stage's output. Every stage is checked before any tensor is read. By default intermediate stages are computed " +
        "in the same pass as the final one and never written; --intermediate-dir writes each to DIR/<name> and reads it " +
        "back (then --lazy, the default, reuses complete ones). Both give the same bytes. `run` does the same.";

    public static Command Create(ToolConsole console)
    {
        var command = new Command("multi", Description);
        RunCommand.Configure(command, console);
        return command;
    }
}

/// <summary>The options of multi-stage runs (mergekit-multi's <c>--intermediate-dir</c>, <c>--lazy/--no-lazy</c>).</summary>
public sealed class StageOptions
{
    public Option<DirectoryInfo?> IntermediateDir { get; } = new("--intermediate-dir")
    {
        Description = "Multi-stage definitions: write each named stage's model to DIR/<name> and read it back, instead of computing it in the same pass (same bytes either way).",
    };
    public Option<bool> Lazy { get; } = new("--lazy") { Description = "With --intermediate-dir: reuse a stage whose model in DIR is complete (the default)." };
    public Option<bool> NoLazy { get; } = new("--no-lazy") { Description = "With --intermediate-dir: run every stage again, replacing its model in DIR." };

    public void AddTo(Command command)
    {
        command.Options.Add(IntermediateDir);
        command.Options.Add(Lazy);
        command.Options.Add(NoLazy);
    }

    public MultiStageOptions Get(ParseResult result)
    {
        if (result.GetValue(Lazy) && result.GetValue(NoLazy))
            throw new ArgumentException("--lazy and --no-lazy contradict each other; give one of them");
        return new MultiStageOptions { IntermediateDirectory = result.GetValue(IntermediateDir)?.FullName, Lazy = !result.GetValue(NoLazy) };
    }
}
