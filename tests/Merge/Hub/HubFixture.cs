using DotnetMerge.Demo;
using DotnetMerge.Hub;
using DotnetMerge.Tests.Safetensors;

namespace DotnetMerge.Tests.Hub;

/// <summary>Generated tiny llama models (sharded: an index and several shards) on disk, shared by the hub tests.</summary>
public sealed class HubModels : IDisposable
{
    private readonly TempDirectory _dir = new();

    public HubModels()
    {
        var spec = new LlamaSpec(MaxShardBytes: 120_000);
        Base = Path.Combine(_dir.Path, "local", "base");
        TuneA = Path.Combine(_dir.Path, "local", "tune-a");
        TuneB = Path.Combine(_dir.Path, "local", "tune-b");
        SyntheticModels.WriteBaseAsync(Base, spec).GetAwaiter().GetResult();
        SyntheticModels.WriteFineTuneAsync(TuneA, spec, new FineTune("a", "mlp", 1, 0.02, 1.0, 11)).GetAwaiter().GetResult();
        SyntheticModels.WriteFineTuneAsync(TuneB, spec, new FineTune("b", "attn", 0, 0.03, 1.0, 12)).GetAwaiter().GetResult();
    }

    public string Base { get; }
    public string TuneA { get; }
    public string TuneB { get; }

    /// <summary>The shard files of a model, from its index.</summary>
    public static IReadOnlyList<string> Shards(string directory)
        => Directory.EnumerateFiles(directory, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;

    public void Dispose() => _dir.Dispose();
}

/// <summary>A fresh loopback hub, cache and work folder for one test.</summary>
public sealed class HubTestContext : IAsyncDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _log = new();

    private HubTestContext(LoopbackHub hub) => Hub = hub;

    public static async Task<HubTestContext> StartAsync() => new(await LoopbackHub.StartAsync());

    public LoopbackHub Hub { get; }
    public string Cache => Path.Combine(_dir.Path, "hf-cache");
    public string Work => _dir.Path;
    public IReadOnlyList<string> Log { get { lock (_log) return _log.ToList(); } }

    public HubSettings Settings(bool offline = false, string? token = null, string? endpoint = null, CancellationToken cancellation = default) => new()
    {
        Cancellation = cancellation,
        Endpoint = endpoint ?? Hub.Endpoint,
        CacheDirectory = Cache,
        Offline = offline,
        Token = token,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        MaxRetries = 3,
        Timeout = TimeSpan.FromSeconds(5),
        Log = line => { lock (_log) _log.Add(line); },
    };

    public async ValueTask DisposeAsync()
    {
        await Hub.DisposeAsync();
        _dir.Dispose();
    }
}
