using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Output;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Issue 14.11: staging directories of processes that no longer run are removed by the next run into the
/// same output, and reported; those of running processes are left alone, unless the process id was reused.</summary>
public sealed class StaleStagingTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private string Staging(int pid, string output = "out")
    {
        string dir = _ws.PathOf(string.Create(CultureInfo.InvariantCulture, $".{output}.partial-{pid}-{Guid.NewGuid():N}"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "model-00001-of-00002.safetensors"), "partial");
        return dir;
    }

    private static int DeadPid()
    {
        using var p = Process.Start("true")!;
        p.WaitForExit();
        return p.Id;
    }

    [SkippableFact]
    public void Stale_staging_of_dead_or_reused_processes_is_removed_and_reported_live_ones_are_kept()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "process ids and start times from /proc");
        int dead = DeadPid();
        string ofDead = Staging(dead);
        using var live = Process.Start("sleep", ["30"])!;
        try
        {
            Thread.Sleep(1100); // the directories below are made after the process started
            string ofLive = Staging(live.Id);
            // The same live process, but the directory is older than it: the id was reused, the directory is stale.
            string ofReused = Staging(live.Id);
            Directory.SetCreationTimeUtc(ofReused, DateTime.UtcNow.AddDays(-1));
            Directory.SetLastWriteTimeUtc(ofReused, DateTime.UtcNow.AddDays(-1));
            string otherOutput = Staging(dead, "other");

            using var transaction = OutputTransaction.Begin(_ws.PathOf("out"), force: false, []);
            Assert.False(Directory.Exists(ofDead));
            Assert.False(Directory.Exists(ofReused));
            Assert.True(Directory.Exists(ofLive), "a running process's staging directory was removed");
            Assert.True(Directory.Exists(otherOutput), "only the output's own staging directories are touched");
            Assert.Equal(2, transaction.RemovedStale.Count);
            Assert.Contains(transaction.RemovedStale, l => l.Contains(ofDead, StringComparison.Ordinal) && l.Contains($"process {dead} ", StringComparison.Ordinal));
            Assert.Contains(transaction.RemovedStale, l => l.Contains(ofReused, StringComparison.Ordinal));
        }
        finally
        {
            live.Kill();
            live.WaitForExit();
        }
    }

    [SkippableFact]
    public void An_output_moved_aside_by_an_interrupted_forced_commit_is_restored()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "process ids from /proc");
        int dead = DeadPid();
        string aside = _ws.PathOf(string.Create(CultureInfo.InvariantCulture, $".out.old-{dead}-{Guid.NewGuid():N}"));
        Directory.CreateDirectory(aside);
        File.WriteAllText(Path.Combine(aside, "model.safetensors"), "the previous model");
        using var transaction = OutputTransaction.Begin(_ws.PathOf("out"), force: true, []);
        Assert.Equal("the previous model", File.ReadAllText(_ws.PathOf("out", "model.safetensors")));
        Assert.False(Directory.Exists(aside));
        Assert.Contains(transaction.RemovedStale, l => l.StartsWith("restored", StringComparison.Ordinal));
    }
}
