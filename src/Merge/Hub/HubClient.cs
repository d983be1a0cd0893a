using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Polly;
using Polly.Retry;

namespace DotnetMerge.Hub;

/// <summary>A repository at a resolved commit and the files it holds (from <c>/api/models/{repo}/revision/{rev}</c>).</summary>
public sealed record HubRepoInfo(string Commit, IReadOnlyList<string> Files);

/// <summary>What HEAD on a resolve URL says about one file (reference/hub-adapters-pickle.md A.4).</summary>
public sealed record HubFileMetadata(string File, string Commit, string Etag, long Size, Uri Location)
{
    /// <summary>LFS files are named by the sha256 of their content, regular files by their git blob sha1.</summary>
    public bool EtagIsSha256 => Etag.Length == 64;
}

/// <summary>The hub's HTTP protocol, as huggingface_hub speaks it: repo info, HEAD metadata with relative redirects,
/// downloads that resume with Range and are verified against the announced size and hash. Transient failures (5xx,
/// 408, 429 with Retry-After, connection resets, stalls) are retried with exponential backoff by Polly.</summary>
public sealed class HubClient : IDisposable
{
    private static readonly HttpStatusCode[] TransientStatuses =
        [HttpStatusCode.RequestTimeout, HttpStatusCode.TooManyRequests, HttpStatusCode.InternalServerError,
         HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable, HttpStatusCode.GatewayTimeout];

    private const int ChunkBytes = 1 << 20;

    private readonly HubSettings _settings;
    private readonly HttpClient _http;
    private readonly ResiliencePipeline<HttpResponseMessage> _requests;
    private readonly ResiliencePipeline _transfers;

    public HubClient(HubSettings settings)
    {
        _settings = settings;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = settings.Timeout,
        }) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("dotnet-merge/" + (typeof(HubClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
        _http.DefaultRequestHeaders.AcceptEncoding.ParseAdd("identity");

        var backoff = new RetryStrategyOptions<HttpResponseMessage>
        {
            MaxRetryAttempts = Math.Max(0, settings.MaxRetries),
            BackoffType = DelayBackoffType.Exponential,
            Delay = settings.RetryBaseDelay,
            MaxDelay = TimeSpan.FromSeconds(8),
            UseJitter = false,
            ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                .Handle<HttpRequestException>().Handle<TimeoutException>()
                .HandleResult(r => TransientStatuses.Contains(r.StatusCode)),
            // 429: the server's Retry-After (integer seconds) wins over the exponential wait.
            DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.Headers.RetryAfter?.Delta is { } wait ? (TimeSpan?)wait : null),
            OnRetry = args => { args.Outcome.Result?.Dispose(); return ValueTask.CompletedTask; },
        };
        _requests = new ResiliencePipelineBuilder<HttpResponseMessage>().AddRetry(backoff).Build();
        // A body that breaks off or stalls is resumed from the bytes already on disk (Range), with the same backoff.
        _transfers = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = Math.Max(0, settings.MaxRetries),
            BackoffType = DelayBackoffType.Exponential,
            Delay = settings.RetryBaseDelay,
            MaxDelay = TimeSpan.FromSeconds(8),
            UseJitter = false,
            ShouldHandle = new PredicateBuilder().Handle<TransferInterruptedException>(),
        }).Build();
    }

    public void Dispose() => _http.Dispose();

    private bool IsEndpointHost(Uri url)
        => Uri.TryCreate(_settings.Endpoint, UriKind.Absolute, out var endpoint)
           && string.Equals(url.Host, endpoint.Host, StringComparison.OrdinalIgnoreCase) && url.Port == endpoint.Port;

    public Uri RepoInfoUrl(HubModelId model, string revision)
        => new($"{_settings.Endpoint}/api/models/{model.RepoId}/revision/{Uri.EscapeDataString(revision)}");

    public Uri ResolveUrl(HubModelId model, string revision, string file)
        => new($"{_settings.Endpoint}/{model.RepoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>The commit a revision points at and the files of the repo at that commit.</summary>
    public async Task<HubRepoInfo> GetRepoInfoAsync(HubModelId model, string revision, CancellationToken ct)
    {
        var url = RepoInfoUrl(model, revision);
        using var response = await SendAsync(HttpMethod.Get, url, followRedirects: true, rangeFrom: null, ct).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, model, revision, file: null, url, ct).ConfigureAwait(false);
        try
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            var root = json.RootElement;
            var sha = root.TryGetProperty("sha", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            if (!HubModelId.IsCommit(sha))
                throw new HubException(HubFailure.Protocol, $"{url}: the answer has no commit sha ('sha'); is HF_ENDPOINT a Hugging Face hub?");
            var files = new List<string>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
                foreach (var sibling in siblings.EnumerateArray())
                    if (sibling.TryGetProperty("rfilename", out var name) && name.GetString() is { Length: > 0 } n) files.Add(n);
            return new HubRepoInfo(sha, files);
        }
        catch (JsonException e)
        {
            throw new HubException(HubFailure.Protocol, $"{url}: the answer is not JSON ({e.Message}); is HF_ENDPOINT a Hugging Face hub?", e);
        }
    }

    /// <summary>HEAD on the resolve URL: commit, etag (X-Linked-Etag before ETag), size (X-Linked-Size, else the
    /// Content-Length of a non-redirect) and where the bytes are. Relative redirects (renamed repos, mirrors) are
    /// followed; a redirect to another host (the CDN) is not, its headers carry the metadata.</summary>
    public async Task<HubFileMetadata> HeadAsync(HubModelId model, string commit, string file, CancellationToken ct)
    {
        var url = ResolveUrl(model, commit, file);
        using var response = await SendAsync(HttpMethod.Head, url, followRedirects: false, rangeFrom: null, ct).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, model, commit, file, url, ct).ConfigureAwait(false);
        var requestUrl = response.RequestMessage?.RequestUri ?? url;
        string? Header(string name) => response.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault()
            : response.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault() : null;
        var repoCommit = Header("X-Repo-Commit")
            ?? throw new HubException(HubFailure.Protocol, $"{url}: no X-Repo-Commit header; the server is not a Hugging Face hub (a proxy in the way?)");
        var etag = (Header("X-Linked-Etag") ?? Header("ETag"))?.TrimStart('W', '/').Trim('"')
            ?? throw new HubException(HubFailure.Protocol, $"{url}: no ETag header, so the file cannot be verified or cached");
        bool redirect = (int)response.StatusCode is >= 300 and < 400;
        long size = long.TryParse(Header("X-Linked-Size"), System.Globalization.CultureInfo.InvariantCulture, out var linked) ? linked
            : !redirect && response.Content.Headers.ContentLength is { } length ? length
            : throw new HubException(HubFailure.Protocol, $"{url}: no X-Linked-Size or Content-Length header, so the file's size is unknown");
        var location = redirect && response.Headers.Location is { } loc ? new Uri(requestUrl, loc) : requestUrl;
        return new HubFileMetadata(file, repoCommit, etag, size, location);
    }

    /// <summary>Downloads <paramref name="metadata"/>'s bytes into <paramref name="partialPath"/>, continuing from what
    /// the file already holds (Range: bytes=N-), then checks the size and the hash. On a mismatch the partial file is
    /// deleted. <paramref name="received"/> is told of every chunk.</summary>
    public async Task DownloadAsync(HubModelId model, HubFileMetadata metadata, string partialPath, Action<long>? received, CancellationToken ct)
    {
        var url = metadata.Location;
        try
        {
            await TransferAsync(model, metadata, partialPath, received, ct).ConfigureAwait(false);
        }
        catch (TransferInterruptedException e)
        {
            throw new HubException(HubFailure.Network,
                $"the download of {url} broke off {_settings.MaxRetries + 1} times ({e.InnerException?.Message}); run again: the {new FileInfo(partialPath).Length} bytes received are kept in {partialPath} and the download resumes from there", e);
        }
        Verify(model, metadata, partialPath);
    }

    private Task TransferAsync(HubModelId model, HubFileMetadata metadata, string partialPath, Action<long>? received, CancellationToken ct)
    {
        var url = metadata.Location;
        return _transfers.ExecuteAsync(async token =>
        {
            long have = File.Exists(partialPath) ? new FileInfo(partialPath).Length : 0;
            if (have > metadata.Size) { Disk(() => File.Delete(partialPath), partialPath); have = 0; }
            if (have == metadata.Size) return;
            using var response = await SendAsync(HttpMethod.Get, url, followRedirects: true, rangeFrom: have > 0 ? have : null, token).ConfigureAwait(false);
            await ThrowIfFailedAsync(response, model, metadata.Commit, metadata.File, url, token).ConfigureAwait(false);
            if (have > 0 && response.StatusCode != HttpStatusCode.PartialContent) have = 0; // the server ignored Range: take the whole body
            FileStream output = Disk(() => new FileStream(partialPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true), partialPath);
            await using (output.ConfigureAwait(false))
            {
                Disk(() => { output.SetLength(have); output.Position = have; }, partialPath);
                Stream body;
                try { body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or HttpRequestException) { throw new TransferInterruptedException(url, e); }
                await using (body.ConfigureAwait(false))
                {
                    var buffer = new byte[ChunkBytes];
                    while (true)
                    {
                        int n;
                        using (var stall = CancellationTokenSource.CreateLinkedTokenSource(token))
                        {
                            stall.CancelAfter(_settings.Timeout);
                            try { n = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false); }
                            catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !token.IsCancellationRequested))
                            {
                                await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                                throw new TransferInterruptedException(url, e);
                            }
                        }
                        if (n == 0) break;
                        try { await output.WriteAsync(buffer.AsMemory(0, n), token).ConfigureAwait(false); }
                        catch (IOException e) { throw DiskError(partialPath, e); }
                        received?.Invoke(n);
                    }
                    try { await output.FlushAsync(token).ConfigureAwait(false); }
                    catch (IOException e) { throw DiskError(partialPath, e); }
                }
            }
            if (new FileInfo(partialPath).Length < metadata.Size)
                throw new TransferInterruptedException(url, new IOException("the body ended early"));
        }, ct).AsTask();
    }

    /// <summary>Bytes <paramref name="from"/> to <paramref name="from"/>+<paramref name="count"/>-1 of a file (one Range
    /// request; a server that ignores Range is read only that far).</summary>
    public async Task<byte[]> ReadRangeAsync(HubModelId model, HubFileMetadata metadata, long from, int count, CancellationToken ct)
    {
        var url = metadata.Location;
        using var response = await SendAsync(HttpMethod.Get, url, followRedirects: true, rangeFrom: from, ct, rangeTo: from + count - 1).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, model, metadata.Commit, metadata.File, url, ct).ConfigureAwait(false);
        var buffer = new byte[count];
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.PartialContent && from > 0)
                for (long skip = from; skip > 0;)
                {
                    int n = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(skip, count)), ct).ConfigureAwait(false);
                    if (n == 0) break;
                    skip -= n;
                }
            await body.ReadExactlyAsync(buffer, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            throw new HubException(HubFailure.Network, $"cannot read bytes {from}-{from + count - 1} of {url} ({e.Message}); run again", e);
        }
        return buffer;
    }

    /// <summary>Size, then sha256 (LFS etag) or git blob sha1 (regular etag). A mismatch deletes the file.</summary>
    private static void Verify(HubModelId model, HubFileMetadata metadata, string path)
    {
        long size = new FileInfo(path).Length;
        string? problem = size != metadata.Size ? $"{size} bytes instead of the {metadata.Size} the hub announced" : null;
        if (problem is null)
        {
            using var stream = File.OpenRead(path);
            string actual;
            if (metadata.EtagIsSha256) actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            else
            {
                using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
                sha1.AppendData(System.Text.Encoding.ASCII.GetBytes($"blob {size}\0"));
                var buffer = new byte[ChunkBytes];
                for (int n; (n = stream.Read(buffer)) > 0;) sha1.AppendData(buffer, 0, n);
                actual = Convert.ToHexStringLower(sha1.GetHashAndReset());
            }
            if (!string.Equals(actual, metadata.Etag, StringComparison.OrdinalIgnoreCase))
                problem = $"{(metadata.EtagIsSha256 ? "sha256" : "git sha1")} {actual} instead of {metadata.Etag}";
        }
        if (problem is null) return;
        File.Delete(path);
        throw new HubException(HubFailure.Integrity,
            $"{model.RepoId}: downloaded '{metadata.File}' has {problem}; the partial file was deleted: run again to download it anew (a proxy or mirror may be altering files)");
    }

    /// <summary>Sends one request through the retry pipeline. Redirects: with <paramref name="followRedirects"/> all are
    /// followed (the token is dropped when the host changes: CDN URLs are signed); without it only relative ones.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, bool followRedirects, long? rangeFrom, CancellationToken ct, long? rangeTo = null)
    {
        try
        {
            return await _requests.ExecuteAsync(async token =>
            {
                var current = url;
                for (int hop = 0; ; hop++)
                {
                    using var request = new HttpRequestMessage(method, current);
                    // The token goes to the hub's own host only: a CDN URL on another host is signed and must not see it.
                    if (_settings.Token is { } bearer && IsEndpointHost(current))
                        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                    if (rangeFrom is { } from) request.Headers.Range = new RangeHeaderValue(from, rangeTo);
                    HttpResponseMessage response;
                    using (var headers = CancellationTokenSource.CreateLinkedTokenSource(token))
                    {
                        headers.CancelAfter(_settings.Timeout);
                        try { response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false); }
                        catch (OperationCanceledException e) when (!token.IsCancellationRequested)
                        {
                            throw new TimeoutException($"no answer within {_settings.Timeout.TotalSeconds:0} s", e);
                        }
                    }
                    int status = (int)response.StatusCode;
                    if (status is < 300 or >= 400 || response.Headers.Location is not { } location || hop >= 10) return response;
                    bool relative = !location.IsAbsoluteUri;
                    if (!followRedirects && !relative) return response;
                    response.Dispose();
                    current = relative ? new Uri(current, location) : location;
                }
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException)
        {
            throw new HubException(HubFailure.Network,
                $"cannot reach {url} after {_settings.MaxRetries + 1} tries ({e.Message}); check the network or HF_ENDPOINT and run again " +
                "(files already downloaded are kept and partial ones resume), or use --offline with models already in the cache", e);
        }
    }

    /// <summary>Maps the hub's error answers (X-Error-Code first, then the status) to messages that say what to do.</summary>
    private async Task ThrowIfFailedAsync(HttpResponseMessage response, HubModelId model, string revision, string? file, Uri url, CancellationToken ct)
    {
        int status = (int)response.StatusCode;
        if (status < 400) return;
        string? code = response.Headers.TryGetValues("X-Error-Code", out var c) ? c.FirstOrDefault() : null;
        string? serverMessage = response.Headers.TryGetValues("X-Error-Message", out var m) ? m.FirstOrDefault() : null;
        if (serverMessage is null && response.RequestMessage?.Method != HttpMethod.Head)
        {
            try
            {
                var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                using var json = JsonDocument.Parse(body);
                if (json.RootElement.TryGetProperty("error", out var err) && err.ValueKind == JsonValueKind.String) serverMessage = err.GetString();
            }
            catch (Exception e) when (e is JsonException or IOException or HttpRequestException) { /* no message in the body */ }
        }
        string said = serverMessage is null ? "" : $" (the hub says: {serverMessage})";
        string page = $"{_settings.Endpoint}/{model.RepoId}";
        if (code == "RevisionNotFound")
            throw new HubException(HubFailure.BadReference, $"{model.RepoId}: revision '{revision}' not found{said}; check the branch, tag or commit at {page}");
        if (code == "EntryNotFound" || (file is not null && status == 404 && code is null))
            throw new HubException(HubFailure.BadReference, $"{model.RepoId}: file '{file}' is not in the repository at '{revision}'{said}");
        if (code == "GatedRepo" || status == 403)
            throw new HubException(HubFailure.BadReference, _settings.Token is null
                ? $"{model.RepoId} is gated{said}: accept its licence at {page}, then set HF_TOKEN (or run `huggingface-cli login`) and run again"
                : $"{model.RepoId} is gated and the token given (HF_TOKEN or the token file) has no access{said}: accept the licence at {page} with that account, or use a token that has access");
        if (code == "RepoNotFound" || status is 401 or 404)
            throw new HubException(HubFailure.BadReference, _settings.Token is null
                ? $"repository '{model.RepoId}' not found on {_settings.Endpoint}{said}: check the name (org/name); if it is private or gated, set HF_TOKEN"
                : $"repository '{model.RepoId}' not found on {_settings.Endpoint}, or the token has no access to it{said}: check the name (org/name)");
        throw new HubException(HubFailure.Network,
            $"{url}: the hub answered {status} {response.ReasonPhrase}{said} after {_settings.MaxRetries + 1} tries; run again later (files already downloaded are kept)");
    }

    private static T Disk<T>(Func<T> action, string path)
    {
        try { return action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw DiskError(path, e); }
    }

    private static void Disk(Action action, string path) => Disk(() => { action(); return 0; }, path);

    internal static HubException DiskError(string path, Exception e)
    {
        // .NET ends the OS's message with " : 'path'"; the path is said once, first.
        var reason = e.Message;
        int quoted = reason.LastIndexOf(" : '", StringComparison.Ordinal);
        if (quoted > 0 && reason.EndsWith('\'')) reason = reason[..quoted];
        return new(HubFailure.Disk, $"cannot write the hub cache file {path}: {reason}; free space or fix the permissions (or point HF_HUB_CACHE or --transformers-cache elsewhere) and run again: the partial download is kept and resumes", e);
    }

    /// <summary>A body that broke off or stalled: the transfer pipeline resumes it.</summary>
    private sealed class TransferInterruptedException(Uri url, Exception inner) : IOException($"the download of {url} broke off: {inner.Message}", inner);
}
