namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Issue 14.5: file-system failures of the output are exit code 5 with the path, never "unexpected" (1),
/// and leave nothing behind. Real processes on real mounts.</summary>
public sealed class OutputFailureProcessTests(MergeFixture fixture) : IClassFixture<MergeFixture>
{
    private string Root => fixture.Workspace.Root;

    private static void AssertOutputError(CliRunner.Result run, string expectedInMessage)
    {
        Assert.True(run.ExitCode == ExitCodes.OutputError, run.ToString());
        Assert.Contains("error DMRG1020: cannot write the output", run.Err);
        Assert.Contains(expectedInMessage, run.Err);
        Assert.DoesNotContain("unexpected", run.Err);
    }

    [SkippableFact]
    public void A_full_disk_while_writing_shards_is_exit_5_and_leaves_the_disk_empty()
    {
        using var disk = Tmpfs.Mount(fixture.Workspace.PathOf("full-shards"), "size=16k");
        var run = ToolProcess.Run(Root, fixture.Definition, Path.Combine(disk.Path, "out"), "--no-progress");
        AssertOutputError(run, disk.Path);
        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
    }

    [SkippableFact]
    public void A_full_disk_while_copying_the_tokenizer_is_exit_5_and_leaves_the_disk_empty()
    {
        // The shards (~100 KB) fit in 1 MiB; the donor's 2 MiB merges.txt does not.
        string merges = fixture.Workspace.PathOf("models", "base", "merges.txt");
        File.WriteAllText(merges, new string('m', 2 << 20));
        try
        {
            using var disk = Tmpfs.Mount(fixture.Workspace.PathOf("full-tokenizer"), "size=1m");
            var run = ToolProcess.Run(Root, fixture.Definition, Path.Combine(disk.Path, "out"), "--no-progress");
            AssertOutputError(run, disk.Path);
            Assert.Contains("writing config, tokenizer", run.Err); // it failed there, not before
            Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
        }
        finally
        {
            File.Delete(merges);
        }
    }

    [SkippableFact]
    public void A_read_only_file_system_is_exit_5()
    {
        using var disk = Tmpfs.Mount(fixture.Workspace.PathOf("read-only"), "ro,size=1m");
        AssertOutputError(ToolProcess.Run(Root, fixture.Definition, Path.Combine(disk.Path, "out"), "--no-progress"), "Read-only file system");
    }

    [Fact]
    public void An_output_under_a_regular_file_is_exit_5_naming_it()
    {
        string file = fixture.Workspace.Write("afile", "x");
        AssertOutputError(ToolProcess.Run(Root, fixture.Definition, Path.Combine(file, "sub"), "--no-progress"), file);
    }

    [SkippableFact]
    public void An_output_in_proc_is_exit_5()
    {
        Skip.IfNot(Directory.Exists("/proc/self"), "no /proc here");
        AssertOutputError(ToolProcess.Run(Root, fixture.Definition, "/proc/x", "--no-progress"), "/proc/x");
    }

    [SkippableFact]
    public void Too_many_open_files_is_exit_5_and_says_the_limit()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "ulimit through bash");
        const int models = 120, limit = 100;
        var source = fixture.Workspace.PathOf("models", "ft1");
        var lines = new List<string> { "merge_method: linear", "models:" };
        for (int i = 0; i < models; i++)
        {
            string dir = fixture.Workspace.PathOf("many", $"m{i}");
            Directory.CreateDirectory(dir);
            foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)), overwrite: true);
            lines.Add($"  - model: m{i}");
            lines.Add("    parameters: {weight: 1}");
        }
        string config = fixture.Workspace.Write(Path.Combine("many", "many.yaml"), string.Join('\n', lines) + "\n");
        var start = ToolProcess.StartInfo(Root, "0", []);
        start.FileName = "bash";
        start.ArgumentList.Clear();
        foreach (var a in new[] { "-c", $"ulimit -n {limit} && exec dotnet exec \"$0\" \"$1\" \"$2\" --no-progress", ToolProcess.ToolPath, config, fixture.Workspace.PathOf("many-out") })
            start.ArgumentList.Add(a);
        var run = ToolProcess.Run(start);
        Assert.True(run.ExitCode == ExitCodes.OutputError, run.ToString());
        Assert.Contains("Too many open files", run.Err);
        Assert.Contains($"at most {limit} files", run.Err);
        Assert.Contains($"references {models} models", run.Err);
    }
}
