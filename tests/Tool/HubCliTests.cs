using System.Diagnostics;
using System.Text.Json.Nodes;
using DotnetMerge.Tests.Hub;

namespace DotnetMerge.Tool.Tests;

/// <summary>Hugging Face ids on the command line, against a real hub on loopback (Kestrel) and the real CLI process with
/// HF_ENDPOINT / HF_HUB_CACHE set: plan and check say what a run would download, --offline never touches the network.</summary>
public sealed class HubCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private string Cache => _ws.PathOf("hf-cache");

    /// <summary>The CLI as a process that sees the loopback hub and a private cache (and no token of the machine's).</summary>
    private ProcessStartInfo Cli(LoopbackHub hub, params string[] args)
    {
        var start = ToolProcess.StartInfo(_ws.Root, "0", args);
        start.Environment["HF_ENDPOINT"] = hub.Endpoint;
        start.Environment["HF_HUB_CACHE"] = Cache;
        start.Environment["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1";
        start.Environment.Remove("HF_HUB_OFFLINE");
        start.Environment.Remove("TRANSFORMERS_OFFLINE");
        return start;
    }

    private static long WeightBytes(string dir) => Directory.EnumerateFiles(dir, "*.safetensors").Sum(f => new FileInfo(f).Length);

    [Fact]
    public async Task PlanAndCheckShowTheBytesToDownloadPerModelAndZeroOnceCached()
    {
        await using var hub = await LoopbackHub.StartAsync();
        var baseDir = await _ws.BaseAsync();
        var tune = await _ws.FineTuneAsync("tune", "mlp", 1);
        hub.Publish("org/base", baseDir);
        hub.Publish("org/tune", tune);
        var config = _ws.Write("hub.yaml", "merge_method: task_arithmetic\nbase_model: org/base\nmodels:\n  - model: org/tune\n    parameters: {weight: 0.5}\n");

        var json = ToolProcess.Run(Cli(hub, "plan", config, "--json"));
        Assert.True(json.ExitCode == 0, json.ToString());
        var plan = JsonNode.Parse(json.Out)!.AsObject();
        Assert.Equal(WeightBytes(baseDir) + WeightBytes(tune), (long)plan["bytes_to_download"]!);
        var downloads = plan["downloads"]!.AsArray();
        Assert.Equal(["org/tune", "org/base"], downloads.Select(d => (string)d!["model"]!));
        Assert.Equal(WeightBytes(tune), (long)downloads[0]!["bytes"]!);
        Assert.Equal(WeightBytes(baseDir), (long)downloads[1]!["bytes"]!);
        // Known from HEAD answers: of the weights, only the two safetensors headers were sent.
        Assert.Equal(HeaderBytes(Path.Combine(baseDir, "model.safetensors")) + HeaderBytes(Path.Combine(tune, "model.safetensors")), hub.BytesSent("model.safetensors"));

        var check = ToolProcess.Run(Cli(hub, "check", config));
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains($"to download from the hub: {DotnetMerge.Safetensors.ShardSize.Format(WeightBytes(baseDir) + WeightBytes(tune))} (org/tune: ", check.Out, StringComparison.Ordinal);

        var run = ToolProcess.Run(Cli(hub, config, _ws.PathOf("out"), "--no-progress"));
        Assert.True(run.ExitCode == 0, run.ToString());
        var text = ToolProcess.Run(Cli(hub, "plan", config));
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("to download from the hub: 0 B (org/tune: cached; org/base: cached)", text.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TransformersCacheIsTheHubCacheOfTheRunAndAnOfflineRunReusesIt()
    {
        await using var hub = await LoopbackHub.StartAsync();
        var baseDir = await _ws.BaseAsync();
        var tune = await _ws.FineTuneAsync("tune", "attn", 0);
        var repo = hub.Publish("org/base", baseDir);
        hub.Publish("org/tune", tune);
        var config = _ws.Write("hub.yaml", "merge_method: linear\nmodels:\n  - model: org/base\n    parameters: {weight: 0.3}\n  - model: org/tune\n    parameters: {weight: 0.7}\n");
        var local = _ws.Write("local.yaml", $"merge_method: linear\nmodels:\n  - model: {baseDir}\n    parameters: {{weight: 0.3}}\n  - model: {tune}\n    parameters: {{weight: 0.7}}\n");

        // mergekit's spelling, a relative folder: taken from the current directory, not from HF_HUB_CACHE.
        var run = ToolProcess.Run(Cli(hub, config, "out", "--no-progress", "--transformers-cache", "mk-cache"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("--transformers-cache: ignored", run.Err, StringComparison.Ordinal);
        var snapshot = _ws.PathOf("mk-cache", "models--org--base", "snapshots", repo.Commit);
        Assert.Equal("../../blobs/" + LoopbackHub.Sha256(File.ReadAllBytes(Path.Combine(baseDir, "model.safetensors"))),
            new FileInfo(Path.Combine(snapshot, "model.safetensors")).LinkTarget);
        Assert.True(File.Exists(_ws.PathOf("mk-cache", "models--org--tune", "refs", "main")));
        Assert.False(Directory.Exists(Cache), "HF_HUB_CACHE was not used");

        // Offline, with the same folder: no request at all, the same bytes as the merge of the local directories.
        hub.ResetCounts();
        var offline = ToolProcess.Run(Cli(hub, config, "again", "--no-progress", "--offline", "--transformers-cache", _ws.PathOf("mk-cache")));
        Assert.True(offline.ExitCode == 0, offline.ToString());
        Assert.Empty(hub.Requests);
        var fromLocal = ToolProcess.Run(Cli(hub, local, "local", "--no-progress"));
        Assert.True(fromLocal.ExitCode == 0, fromLocal.ToString());
        Assert.Equal(File.ReadAllBytes(_ws.PathOf("local", "model.safetensors")), File.ReadAllBytes(_ws.PathOf("again", "model.safetensors")));
        Assert.Equal(File.ReadAllBytes(_ws.PathOf("local", "model.safetensors")), File.ReadAllBytes(_ws.PathOf("out", "model.safetensors")));

        var file = _ws.Write("not-a-folder", "x");
        var bad = ToolProcess.Run(Cli(hub, "check", config, "--transformers-cache", file));
        Assert.True(bad.ExitCode == ExitCodes.InvalidDefinition, bad.ToString());
        Assert.Contains("--transformers-cache '" + file + "' is a file", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADownloadShowsBytesPerSecondAndEtaAndALinePerFileAtDetailed()
    {
        await using var hub = await LoopbackHub.StartAsync();
        // A 6144-token vocabulary makes a ~0.9 MB file: about 4 s at the trickle's 200 kB/s (a line every 2 s).
        var spec = TestWorkspace.SmallSpec with { Vocab = 6144 };
        var baseDir = await _ws.BaseAsync(spec);
        hub.Publish("org/base", baseDir);
        hub.Trickle["model.safetensors"] = true;
        var config = _ws.Write("hub.yaml", "merge_method: linear\nmodels:\n  - model: org/base\n    parameters: {weight: 1.0}\n");

        var run = ToolProcess.Run(Cli(hub, config, "out", "--no-progress", "-v", "d"));
        Assert.True(run.ExitCode == 0, run.ToString());
        long size = new FileInfo(Path.Combine(baseDir, "model.safetensors")).Length;
        var size_ = DotnetMerge.Safetensors.ShardSize.Format(size);
        Assert.Matches($@"  downloading 1 file: [0-9.]+ [KM]?B of {System.Text.RegularExpressions.Regex.Escape(size_)}, [0-9.]+ [KM]?B/s, ETA 00:00:0\d", run.Err);
        Assert.Matches($@"  downloaded org/base model\.safetensors: {System.Text.RegularExpressions.Regex.Escape(size_)} in [0-9]+\.[0-9] s \([0-9.]+ [KM]?B/s\)", run.Err);
        Assert.Matches(@"  downloaded org/base config\.json: ", run.Err);

        // Minimal verbosity: no download lines at all.
        hub.Trickle["model.safetensors"] = false;
        var quiet = ToolProcess.Run(Cli(hub, config, "out2", "--no-progress", "-v", "m", "--transformers-cache", _ws.PathOf("other-cache")));
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.DoesNotContain("download", quiet.Err, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AFullDiskDuringADownloadIsExit5NamingTheCacheAndTheNextRunWithSpaceResumes()
    {
        await using var hub = await LoopbackHub.StartAsync();
        var baseDir = await _ws.BaseAsync(TestWorkspace.SmallSpec with { Vocab = 6144 }); // a ~0.9 MB shard
        var repo = hub.Publish("org/base", baseDir);
        var config = _ws.Write("hub.yaml", "merge_method: linear\nmodels:\n  - model: org/base\n    parameters: {weight: 1.0}\n");
        var shard = File.ReadAllBytes(Path.Combine(baseDir, "model.safetensors"));
        // The small files and the header stand-in fit in 400 KiB; the shard does not.
        using var disk = Reliability.Tmpfs.Mount(_ws.PathOf("small-disk"), "size=400k");
        var cache = Path.Combine(disk.Path, "hub");

        var full = ToolProcess.Run(Cli(hub, config, "out", "--no-progress", "--transformers-cache", cache));
        Assert.True(full.ExitCode == ExitCodes.OutputError, full.ToString());
        Assert.Contains("cannot write the hub cache file " + cache, full.Err, StringComparison.Ordinal);
        Assert.Contains("No space left on device", full.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected", full.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_ws.PathOf("out")));
        var blobs = Path.Combine(cache, "models--org--base", "blobs");
        var blob = Path.Combine(blobs, LoopbackHub.Sha256(shard));
        Assert.False(File.Exists(blob), "no blob of the shard");
        Assert.False(File.Exists(Path.Combine(cache, "models--org--base", "snapshots", repo.Commit, "model.safetensors")), "no snapshot link to it");
        long kept = new FileInfo(blob + ".incomplete").Length;
        Assert.InRange(kept, 1, shard.Length - 1);
        // What the partial file holds is the start of the shard, nothing else.
        Assert.True(File.ReadAllBytes(blob + ".incomplete").AsSpan().SequenceEqual(shard.AsSpan(0, (int)kept)));

        disk.Remount("size=4m");
        hub.ResetCounts();
        var again = ToolProcess.Run(Cli(hub, config, "out", "--no-progress", "--transformers-cache", cache));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(shard.Length - kept, hub.BytesSent("org/base", "model.safetensors")); // resumed: only the rest travelled
        Assert.Equal(shard, File.ReadAllBytes(blob));
        Assert.False(File.Exists(blob + ".incomplete"));
    }

    private static long HeaderBytes(string shard)
        => 8 + (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(shard).AsSpan(0, 8));

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
