namespace DotnetMerge.Hub;

/// <summary>Where the hub is and how to talk to it: the endpoint, the shared cache, the token, offline mode. Read from
/// the same environment variables as huggingface_hub (reference/hub-adapters-pickle.md A.6, A.9, B.1).</summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Base URL (<c>HF_ENDPOINT</c>), without a trailing '/'.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>The hub cache (<c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>): <c>models--org--name/{blobs,refs,snapshots}</c>.</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>Never use the network (<c>HF_HUB_OFFLINE</c> / <c>--offline</c>): only what the cache holds.</summary>
    public bool Offline { get; init; }

    /// <summary>Fetch only what checking needs: the small files for real, and for each weight file that is not cached a
    /// stand-in of its full size holding just its safetensors header (two Range requests), so every check runs on
    /// kilobytes before any weight is downloaded (<see cref="HubResolver"/>).</summary>
    public bool HeadersOnly { get; init; }

    /// <summary>Bearer token for gated and private repos (<c>HF_TOKEN</c>, else the token file).</summary>
    public string? Token { get; init; }

    /// <summary>Stops downloads (Ctrl+C): the partial file is kept and the next run resumes it.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Told, per hub model resolved, the bytes a run would still download (<c>plan</c> and <c>check</c> show them).</summary>
    public HubDownloadLedger? Downloads { get; init; }

    /// <summary>Told of every file downloaded (the live display's bytes/s and ETA, a line per file at <c>-v d</c>).</summary>
    public IHubDownloadProgress? Progress { get; init; }

    /// <summary>Lines for the user: which source a model came from, what was downloaded.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>First wait between retries of a transient failure; it doubles up to 8 s (huggingface_hub's backoff).</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Retries of a transient failure (5xx, 408, 429, connection reset) before giving up.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>Time allowed for a response's headers, and for each read of a body, before it counts as a transient failure.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Files downloaded at once.</summary>
    public int ParallelDownloads { get; init; } = 4;

    /// <summary>Ask the hub which commit a branch or tag names now, even when the cache holds a complete snapshot of the
    /// commit it named before, and record the answer in <c>refs/&lt;revision&gt;</c> when it changed
    /// (<c>DOTNET_MERGE_HUB_REFRESH=1</c>; the build step sets it to notice a moved branch). Ignored offline.</summary>
    public bool RefreshRevisions { get; init; }

    /// <summary>The settings the environment gives, as huggingface_hub reads them.</summary>
    public static HubSettings FromEnvironment(Func<string, string?>? environment = null)
    {
        var env = environment ?? Environment.GetEnvironmentVariable;
        string? Get(string name) => env(name) is { Length: > 0 } v ? v : null;
        var home = Get("HF_HOME") is { } h ? Expand(h, env)
            : Get("XDG_CACHE_HOME") is { } x ? Path.Combine(Expand(x, env), "huggingface")
            : Path.Combine(UserHome(env), ".cache", "huggingface");
        var cache = Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE");
        var timeout = int.TryParse(Get("HF_HUB_DOWNLOAD_TIMEOUT"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromSeconds(10);
        return new HubSettings
        {
            Endpoint = (Get("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            CacheDirectory = Path.GetFullPath(cache is null ? Path.Combine(home, "hub") : Expand(cache, env)),
            Offline = IsTrue(Get("HF_HUB_OFFLINE")) || IsTrue(Get("TRANSFORMERS_OFFLINE")),
            Token = IsTrue(Get("HF_HUB_DISABLE_IMPLICIT_TOKEN")) ? null : ReadToken(env, home),
            Timeout = timeout,
            RefreshRevisions = IsTrue(Get("DOTNET_MERGE_HUB_REFRESH")),
        };
    }

    /// <summary>huggingface_hub's booleans: 1, ON, YES, TRUE in any case.</summary>
    internal static bool IsTrue(string? value)
        => value is not null && new[] { "1", "ON", "YES", "TRUE" }.Contains(value.Trim().ToUpperInvariant());

    /// <summary><c>HF_TOKEN</c>, else <c>HUGGING_FACE_HUB_TOKEN</c>, else the token file (<c>HF_TOKEN_PATH</c>, default
    /// <c>$HF_HOME/token</c>); line breaks removed and blanks trimmed, empty meaning none.</summary>
    private static string? ReadToken(Func<string, string?> env, string home)
    {
        var token = env("HF_TOKEN") ?? env("HUGGING_FACE_HUB_TOKEN");
        if (token is null)
        {
            var file = env("HF_TOKEN_PATH") is { Length: > 0 } p ? Expand(p, env) : Path.Combine(home, "token");
            try { token = File.Exists(file) ? File.ReadAllText(file) : null; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { token = null; }
        }
        token = token?.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Trim();
        return string.IsNullOrEmpty(token) ? null : token;
    }

    private static string UserHome(Func<string, string?> env)
        => env("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Expands a leading <c>~</c> and <c>$VAR</c> / <c>${VAR}</c>, as Python's expanduser and expandvars do.</summary>
    public static string Expand(string path, Func<string, string?> env)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal)) path = UserHome(env) + path[1..];
        return System.Text.RegularExpressions.Regex.Replace(path, @"\$(\w+|\{\w+\})", m =>
        {
            var name = m.Groups[1].Value.Trim('{', '}');
            return env(name) ?? m.Value;
        });
    }
}
