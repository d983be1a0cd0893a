using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DotnetMerge.Tests.Hub;

/// <summary>A Hugging Face hub on 127.0.0.1 (Kestrel), answering as the reference describes (hub-adapters-pickle.md
/// A.1-A.7): repo info, HEAD/GET on resolve URLs with X-Repo-Commit and ETag (regular files, git sha1) or a 302 to a
/// CDN path with X-Linked-Etag / X-Linked-Size (LFS files, sha256), Range on the CDN, X-Error-Code errors.
/// Faults are injected per file; every body byte sent is counted.</summary>
public sealed class LoopbackHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Repo> _repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _bytesSent = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _requests = new();

    public sealed class Repo
    {
        public required string Id { get; init; }
        public required string Commit { get; init; }
        public Dictionary<string, string> Refs { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);
        /// <summary>Files too large to hold (multi-GB shards): the bytes they start with, then zeros up to the size.
        /// Their ETag is made up (they are only ever read in ranges, never downloaded and verified).</summary>
        public Dictionary<string, (byte[] Prefix, long Size)> Virtual { get; } = new(StringComparer.Ordinal);
        public bool Gated { get; set; }
    }

    /// <summary>Fault injection, keyed by repo file name.</summary>
    public ConcurrentDictionary<string, int> DropAfterBytes { get; } = new(StringComparer.Ordinal);
    public ConcurrentDictionary<string, int> FailuresBefore { get; } = new(StringComparer.Ordinal);
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new(StringComparer.Ordinal);
    /// <summary>Files sent slowly: 4 KiB every 20 ms.</summary>
    public ConcurrentDictionary<string, bool> Trickle { get; } = new(StringComparer.Ordinal);

    public void ResetCounts() { _bytesSent.Clear(); _requests.Clear(); }
    /// <summary>Failures left for the repo-info endpoint: <see cref="ApiFailureStatus"/> (503, or 429 with Retry-After: 1).</summary>
    public int ApiFailures;
    public int ApiFailureStatus { get; set; } = 503;
    public string? RequiredToken { get; set; }

    private LoopbackHub(WebApplication app) => _app = app;

    public string Endpoint { get; private set; } = "";
    public string CdnEndpoint => Endpoint.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);

    public IReadOnlyCollection<string> Requests => _requests.ToArray();

    /// <summary>Body bytes sent for a file of any repo / of one repo (all requests together).</summary>
    public long BytesSent(string file) => _bytesSent.Where(p => p.Key.EndsWith(":" + file, StringComparison.Ordinal)).Sum(p => p.Value);
    public long BytesSent(string repoId, string file) => _bytesSent.TryGetValue(repoId + ":" + file, out var n) ? n : 0;
    public long TotalBytesSent => _bytesSent.Values.Sum();

    public static async Task<LoopbackHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var hub = new LoopbackHub(app);
        app.Run(hub.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        hub.Endpoint = address.TrimEnd('/');
        return hub;
    }

    /// <summary>Publishes a model directory as <paramref name="repoId"/> at a fresh commit, with <c>main</c> pointing at it.</summary>
    public Repo Publish(string repoId, string directory, params string[] extraRefs)
        => PublishAt(repoId, directory, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)), extraRefs);

    public Repo PublishAt(string repoId, string directory, string commit, params string[] extraRefs)
    {
        var repo = new Repo { Id = repoId, Commit = commit };
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
            repo.Files[Path.GetRelativePath(directory, file).Replace('\\', '/')] = File.ReadAllBytes(file);
        repo.Refs["main"] = repo.Commit;
        foreach (var r in extraRefs) repo.Refs[r] = repo.Commit;
        _repos[repoId] = repo;
        return repo;
    }

    /// <summary>Publishes <paramref name="files"/> (more can be added to the repo returned) at a fresh commit, as <c>main</c>.</summary>
    public Repo PublishFiles(string repoId, IReadOnlyDictionary<string, byte[]> files)
    {
        var repo = new Repo { Id = repoId, Commit = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)) };
        foreach (var (name, data) in files) repo.Files[name] = data;
        repo.Refs["main"] = repo.Commit;
        _repos[repoId] = repo;
        return repo;
    }

    public static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".bin", StringComparison.Ordinal);
    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
    public static string GitSha1(byte[] data)
        => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {data.Length}\0"), .. data]));

    private async Task HandleAsync(HttpContext ctx)
    {
        var raw = ctx.Features.Get<IHttpRequestFeature>()!.RawTarget;
        _requests.Enqueue(ctx.Request.Method + " " + raw + (ctx.Request.Headers.Range.Count > 0 ? " " + ctx.Request.Headers.Range : ""));
        var path = raw.Split('?')[0].TrimStart('/').Split('/');
        if (path.Length >= 6 && path[0] == "api" && path[1] == "models" && path[4] == "revision")
            await RepoInfoAsync(ctx, path[2] + "/" + path[3], Uri.UnescapeDataString(string.Join('/', path[5..])));
        else if (path.Length >= 5 && path[2] == "resolve")
            await ResolveAsync(ctx, path[0] + "/" + path[1], Uri.UnescapeDataString(path[3]), string.Join('/', path[4..].Select(Uri.UnescapeDataString)));
        else if (path.Length == 4 && path[0] == "cdn")
            await CdnAsync(ctx, path[1] + "/" + path[2], Uri.UnescapeDataString(path[3]));
        else ctx.Response.StatusCode = 404;
    }

    private bool Find(HttpContext ctx, string repoId, string revision, out Repo repo, out string commit)
    {
        commit = "";
        if (!_repos.TryGetValue(repoId, out repo!))
        {
            Error(ctx, 404, "RepoNotFound", "Repository not found");
            return false;
        }
        if (repo.Gated && ctx.Request.Headers.Authorization != "Bearer " + RequiredToken)
        {
            Error(ctx, 401, "GatedRepo", $"Access to model {repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return false;
        }
        if (revision == repo.Commit) commit = revision;
        else if (repo.Refs.TryGetValue(revision, out var c)) commit = c;
        else
        {
            Error(ctx, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return false;
        }
        return true;
    }

    private static void Error(HttpContext ctx, int status, string code, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.Headers["X-Error-Code"] = code;
        ctx.Response.Headers["X-Error-Message"] = message;
    }

    private async Task RepoInfoAsync(HttpContext ctx, string repoId, string revision)
    {
        if (Interlocked.Decrement(ref ApiFailures) >= 0)
        {
            ctx.Response.StatusCode = ApiFailureStatus;
            if (ApiFailureStatus == 429) ctx.Response.Headers.RetryAfter = "1";
            return;
        }
        if (!Find(ctx, repoId, revision, out var repo, out var commit)) return;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            id = repoId, sha = commit, @private = false, gated = repo.Gated ? "manual" : (object)false,
            siblings = repo.Files.Keys.Concat(repo.Virtual.Keys).Select(f => new { rfilename = f }),
        }));
    }

    private async Task ResolveAsync(HttpContext ctx, string repoId, string revision, string file)
    {
        if (!Find(ctx, repoId, revision, out var repo, out var commit)) return;
        ctx.Response.Headers["X-Repo-Commit"] = commit;
        if (repo.Virtual.TryGetValue(file, out var large))
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers["X-Linked-Etag"] = "\"" + Sha256(large.Prefix) + "\"";
            ctx.Response.Headers["X-Linked-Size"] = large.Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
            ctx.Response.Headers.Location = $"{CdnEndpoint}/cdn/{repoId}/{Uri.EscapeDataString(file)}";
            return;
        }
        if (!repo.Files.TryGetValue(file, out var data))
        {
            Error(ctx, 404, "EntryNotFound", $"{file} does not exist on \"{revision}\"");
            return;
        }
        if (IsLfs(file))
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers["X-Linked-Etag"] = "\"" + Sha256(data) + "\"";
            ctx.Response.Headers["X-Linked-Size"] = data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // The CDN is another host name for the same server (as cdn-lfs.hf.co is for huggingface.co): the token must not follow.
            ctx.Response.Headers.Location = $"{CdnEndpoint}/cdn/{repoId}/{Uri.EscapeDataString(file)}";
            return;
        }
        ctx.Response.Headers.ETag = "\"" + GitSha1(data) + "\"";
        await SendAsync(ctx, repoId, file, data);
    }

    private async Task CdnAsync(HttpContext ctx, string repoId, string file)
    {
        if (_repos.TryGetValue(repoId, out var owner) && owner.Virtual.TryGetValue(file, out var large))
        {
            await SendVirtualAsync(ctx, repoId, file, large.Prefix, large.Size);
            return;
        }
        if (!_repos.TryGetValue(repoId, out var repo) || !repo.Files.TryGetValue(file, out var data)) { ctx.Response.StatusCode = 404; return; }
        if (ctx.Request.Headers.Authorization.Count > 0) { ctx.Response.StatusCode = 400; return; } // signed CDN URLs take no token
        await SendAsync(ctx, repoId, file, data);
    }

    /// <summary>The body, with Range (bytes=N- and bytes=N-M) and the faults set for this file.</summary>
    private async Task SendAsync(HttpContext ctx, string repoId, string file, byte[] data)
    {
        if (FailuresBefore.TryGetValue(file, out var left) && left > 0)
        {
            FailuresBefore[file] = left - 1;
            ctx.Response.StatusCode = 503;
            return;
        }
        if (Corrupt.TryGetValue(file, out var corrupt) && corrupt)
        {
            data = (byte[])data.Clone();
            data[^1] ^= 0xFF;
        }
        var (from, to) = AnswerRange(ctx, data.Length);
        if (HttpMethods.IsHead(ctx.Request.Method)) return;
        int count = (int)(to + 1 - from);
        if (DropAfterBytes.TryRemove(file, out var drop) && drop < count)
        {
            await ctx.Response.Body.WriteAsync(data.AsMemory((int)from, drop));
            await ctx.Response.Body.FlushAsync();
            _bytesSent.AddOrUpdate(repoId + ":" + file, drop, (_, n) => n + drop);
            // Let the bytes leave the socket before the reset (an abort discards what the kernel has not sent yet).
            await Task.Delay(300);
            ctx.Abort();
            return;
        }
        if (Trickle.TryGetValue(file, out var slow) && slow)
        {
            for (int at = 0; at < count; at += 4096)
            {
                int n = Math.Min(4096, count - at);
                await ctx.Response.Body.WriteAsync(data.AsMemory((int)from + at, n), ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                _bytesSent.AddOrUpdate(repoId + ":" + file, n, (_, total) => total + n);
                await Task.Delay(20, ctx.RequestAborted);
            }
            return;
        }
        await ctx.Response.Body.WriteAsync(data.AsMemory((int)from, count));
        _bytesSent.AddOrUpdate(repoId + ":" + file, count, (_, n) => n + count);
    }

    /// <summary>The bytes asked for (Range: bytes=N- or bytes=N-M, else all of <paramref name="length"/>), with the
    /// status, Content-Range and Content-Length of the answer set.</summary>
    private static (long From, long To) AnswerRange(HttpContext ctx, long length)
    {
        long from = 0, to = length - 1;
        var range = ctx.Request.Headers.Range.ToString();
        if (range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            var ends = range[6..].Split('-');
            from = long.Parse(ends[0], System.Globalization.CultureInfo.InvariantCulture);
            if (ends[1].Length > 0) to = Math.Min(to, long.Parse(ends[1], System.Globalization.CultureInfo.InvariantCulture));
            ctx.Response.StatusCode = 206;
            ctx.Response.Headers.ContentRange = $"bytes {from}-{to}/{length}";
        }
        ctx.Response.ContentLength = to + 1 - from;
        return (from, to);
    }

    /// <summary>A range (or all) of a virtual file: its prefix, then zeros, generated in 64 KiB pieces and counted.</summary>
    private async Task SendVirtualAsync(HttpContext ctx, string repoId, string file, byte[] prefix, long size)
    {
        var (from, to) = AnswerRange(ctx, size);
        var piece = new byte[65536];
        for (long at = from; at <= to;)
        {
            int n = (int)Math.Min(piece.Length, to + 1 - at);
            Array.Clear(piece);
            if (at < prefix.Length) prefix.AsSpan((int)at, (int)Math.Min(n, prefix.Length - at)).CopyTo(piece);
            await ctx.Response.Body.WriteAsync(piece.AsMemory(0, n), ctx.RequestAborted);
            _bytesSent.AddOrUpdate(repoId + ":" + file, n, (_, total) => total + n);
            at += n;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
