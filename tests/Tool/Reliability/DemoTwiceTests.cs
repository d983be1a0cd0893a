namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Issue 14.6: the demo can be run again in the same directory, with or without --force.</summary>
public sealed class DemoTwiceTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task The_demo_runs_twice_in_one_directory_with_and_without_force()
    {
        string dir = _ws.PathOf("demo");
        foreach (var args in new[] { new[] { "demo", dir, "--no-progress" }, ["demo", dir, "--no-progress"], ["demo", dir, "--no-progress", "--force"] })
        {
            var run = await CliRunner.RunAsync(args);
            Assert.True(run.ExitCode == 0, string.Join(' ', args) + "\n" + run);
            Assert.True(File.Exists(Path.Combine(dir, "merged", "model.safetensors")));
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir, ".*"));
    }

    [Fact]
    public async Task A_model_in_the_way_that_is_not_the_demos_is_replaced_only_with_force()
    {
        string dir = _ws.PathOf("demo");
        string mine = Path.Combine(dir, "models", "base", "model.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(mine)!);
        File.WriteAllText(mine, "mine");
        var refused = await CliRunner.RunAsync("demo", dir, "--no-progress");
        Assert.True(refused.ExitCode == ExitCodes.OutputError, refused.ToString());
        Assert.Contains("is not the demo's model; pass --force", refused.Err);
        Assert.Equal("mine", File.ReadAllText(mine));
        var forced = await CliRunner.RunAsync("demo", dir, "--no-progress", "--force");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.NotEqual("mine", File.ReadAllText(mine));
    }
}
