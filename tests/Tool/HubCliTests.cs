namespace DotnetMerge.Tool.Tests;

/// <summary>Hugging Face ids on the command line: --offline never touches the network and names what is missing.</summary>
public sealed class HubCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task OfflineAnUncachedHubIdIsAnInputErrorThatSaysWhatToDo()
    {
        var id = "dotnet-merge-tests/never-cached-" + Guid.NewGuid().ToString("N")[..8];
        var config = _ws.Write("hub.yaml", $"merge_method: linear\nmodels:\n  - model: {id}@v1\n    parameters: {{weight: 1.0}}\n");

        var check = await CliRunner.RunAsync("check", config, "--offline");
        Assert.True(check.ExitCode == ExitCodes.InvalidInput, check.ToString());
        Assert.Contains($"model '{id}@v1' is not fully in the Hugging Face cache", check.Err + check.Out, StringComparison.Ordinal);
        Assert.Contains("no commit for revision 'v1'", check.Err + check.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("DMRG0601", check.Err + check.Out, StringComparison.Ordinal);

        var run = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--offline", "--no-progress");
        Assert.True(run.ExitCode == ExitCodes.InvalidInput, run.ToString());
        Assert.Contains("offline mode is on", run.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_ws.PathOf("out")));
    }
}
