namespace DotnetMerge.Tool.Tests;

public sealed class TaskVectorCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task ExtractThenApply_ReproducesTheFineTune_AndAnotherBaseIsRefused()
    {
        var b = await _ws.BaseAsync();
        var f = await _ws.FineTuneAsync("math", "mlp", 1);
        var tv = _ws.PathOf("tv");
        var extract = await CliRunner.RunAsync("extract", "--base", b, "--model", f, "-o", tv, "--no-progress");
        Assert.True(extract.ExitCode == 0, extract.ToString());
        Assert.Contains("task vector of", extract.Out);
        var inspect = await CliRunner.RunAsync("inspect", tv);
        Assert.Contains("dotnet_merge.kind=task_vector", inspect.Out);

        var output = _ws.PathOf("applied");
        var apply = await CliRunner.RunAsync("apply", "--base", b, tv + ":1", "-o", output, "--no-progress");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        foreach (var name in new[] { "model.layers.2.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.embed_tokens.weight" })
            Assert.Equal(TestWorkspace.ReadRaw(f, name).Bytes, TestWorkspace.ReadRaw(output, name).Bytes);

        var other = await _ws.FineTuneAsync("chat", "self_attn", 0);
        var refused = await CliRunner.RunAsync("apply", "--base", other, tv, "-o", _ws.PathOf("refused"), "--no-progress");
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("--force-base", refused.Err);
        Assert.False(Directory.Exists(_ws.PathOf("refused")));
        var forced = await CliRunner.RunAsync("apply", "--base", other, tv, "-o", _ws.PathOf("forced"), "--force-base", "--no-progress");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.Contains("warning:", forced.Err);
    }

    [Fact]
    public async Task Extract_LowRank_PrintsErrors_AndApplyReconstructs()
    {
        var b = await _ws.BaseAsync();
        var f = await _ws.FineTuneAsync("math", "mlp", 2);
        var tv = _ws.PathOf("tv");
        var extract = await CliRunner.RunAsync("extract", "--base", b, "--model", f, "-o", tv, "--rank", "4", "--dtype", "bfloat16", "--no-progress");
        Assert.True(extract.ExitCode == 0, extract.ToString());
        Assert.Matches(@"model\.layers\.3\.mlp\.up_proj\.weight\s+rank\s+4\s+relative error 0\.\d+", extract.Out);
        Assert.Contains("stored as rank-4 factors; relative Frobenius error overall", extract.Out);
        var output = _ws.PathOf("applied");
        var apply = await CliRunner.RunAsync("apply", "--base", b, tv + ":0.5", "-o", output, "--no-progress");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        // a tensor the fine-tune did not change has a zero delta: the base comes back exactly
        const string untouched = "model.layers.0.mlp.up_proj.weight";
        Assert.Equal(TestWorkspace.ReadRaw(b, untouched).Bytes, TestWorkspace.ReadRaw(output, untouched).Bytes);
    }

    [Fact]
    public async Task Extract_BadDtype_IsACommandLineError()
    {
        var b = await _ws.BaseAsync();
        var result = await CliRunner.RunAsync("extract", "--base", b, "--model", b, "-o", _ws.PathOf("tv"), "--dtype", "int8");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--dtype 'int8'", result.Err);
    }
}
