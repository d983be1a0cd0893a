using System.Security.Cryptography;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Inputs are only ever read: a merge runs from models on a read-only mount, and neither a completed nor a
/// failed run changes a byte or a timestamp of an input file.</summary>
public sealed class InputsUntouchedTests(MergeFixture fixture) : IClassFixture<MergeFixture>
{
    private Dictionary<string, (string Hash, DateTime Written)> Inputs() => Directory
        .GetFiles(fixture.Workspace.PathOf("models"), "*", SearchOption.AllDirectories)
        .ToDictionary(f => f, f => (Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))), File.GetLastWriteTimeUtc(f)));

    [Fact]
    public async Task Completed_and_failed_runs_leave_every_input_file_as_it_was()
    {
        var before = Inputs();
        Assert.Equal(0, (await fixture.RunAsync(fixture.Workspace.PathOf("done"), new MergeOptions())).ExitCode);
        var failing = new Faults(throwAt: (FaultPoint.Write, 7), error: () => new IOException("injected"));
        Assert.Equal(ExitCodes.OutputError, (await fixture.RunAsync(fixture.Workspace.PathOf("failed"), new MergeOptions { Faults = failing })).ExitCode);
        Assert.Equal(before, Inputs());
    }

    [SkippableFact]
    public void A_merge_runs_from_models_on_a_read_only_file_system()
    {
        using var disk = Tmpfs.Mount(fixture.Workspace.PathOf("ro-models"), "size=8m");
        foreach (var model in new[] { "base", "ft1", "ft2" })
        {
            string target = Path.Combine(disk.Path, "models", model);
            Directory.CreateDirectory(target);
            foreach (var f in Directory.GetFiles(fixture.Workspace.PathOf("models", model))) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        }
        string definition = Path.Combine(disk.Path, "merge.yaml");
        File.Copy(fixture.Definition, definition);
        disk.Remount("ro");
        var run = ToolProcess.Run(fixture.Workspace.Root, definition, fixture.Workspace.PathOf("from-ro"), "--no-progress");
        Assert.True(run.ExitCode == 0, run.ToString());
    }
}
