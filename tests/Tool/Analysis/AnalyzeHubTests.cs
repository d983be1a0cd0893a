using System.Diagnostics;
using System.Text.Json.Nodes;
using DotnetMerge.Tests.Hub;

namespace DotnetMerge.Tool.Tests.Analysis;

/// <summary><c>analyze</c> with Hugging Face ids, against a loopback hub and the real CLI process: the ids resolve as for
/// a run (downloaded into the cache), and the numbers are those of the same models given as local directories.</summary>
public sealed class AnalyzeHubTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    private ProcessStartInfo Cli(LoopbackHub hub, params string[] args)
    {
        var start = ToolProcess.StartInfo(_ws.Root, "0", args);
        start.Environment["HF_ENDPOINT"] = hub.Endpoint;
        start.Environment["HF_HUB_CACHE"] = _ws.PathOf("hf-cache");
        start.Environment["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1";
        start.Environment.Remove("HF_HUB_OFFLINE");
        start.Environment.Remove("TRANSFORMERS_OFFLINE");
        return start;
    }

    [Fact]
    public async Task Hub_ids_give_the_numbers_of_the_same_local_models()
    {
        await using var hub = await LoopbackHub.StartAsync();
        var baseDir = await _ws.BaseAsync();
        var tune = await _ws.FineTuneAsync("tune", "mlp", 1);
        hub.Publish("org/base", baseDir);
        hub.Publish("org/tune", tune);
        const string models = "  - model: {0}\n    parameters: {{weight: 1.0, density: 0.4}}\n";
        var remote = _ws.Write("hub.yaml", "merge_method: ties\nbase_model: org/base\nmodels:\n" + string.Format(models, "org/tune"));
        var local = _ws.Write("local.yaml", "merge_method: ties\nbase_model: models/base\nmodels:\n" + string.Format(models, "models/tune"));

        var fromHub = ToolProcess.Run(Cli(hub, "analyze", remote, "--json", _ws.PathOf("hub.json")));
        Assert.True(fromHub.ExitCode == 0, fromHub.ToString());
        var fromDisk = ToolProcess.Run(Cli(hub, "analyze", local, "--json", _ws.PathOf("local.json")));
        Assert.True(fromDisk.ExitCode == 0, fromDisk.ToString());

        var a = JsonNode.Parse(File.ReadAllText(_ws.PathOf("hub.json")))!;
        var b = JsonNode.Parse(File.ReadAllText(_ws.PathOf("local.json")))!;
        Assert.Equal("org/tune", (string)a["models"]![0]!);
        Assert.True((double)a["total"]!["relativeNorm"]![0]! > 0);
        Assert.Equal(b["total"]!.ToJsonString(), a["total"]!.ToJsonString());
        Assert.Equal(b["layers"]!.ToJsonString(), a["layers"]!.ToJsonString());
    }

    public void Dispose() => _ws.Dispose();
}
