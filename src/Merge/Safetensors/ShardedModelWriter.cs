using System.Text.Encodings.Web;
using System.Text.Json;

namespace DotnetMerge.Safetensors;

/// <summary>Writes a model's tensors as one <c>model.safetensors</c> or as numbered shards plus
/// <c>model.safetensors.index.json</c> (transformers' layout). Tensors are written in the declared order; shard files
/// are opened as the stream reaches them. The directory must exist (callers write to a temporary directory and rename).
/// With <see cref="Digests"/> each shard is digested as it is written, and <see cref="ShardCompleted"/> hears of it once
/// the file is complete and synced to disk.</summary>
public sealed class ShardedModelWriter : IAsyncDisposable
{
    private readonly string _directory;
    private readonly IReadOnlyDictionary<string, string>? _metadata;
    private readonly IReadOnlyList<OutputTensor> _tensors;
    private SafetensorsWriter? _current;
    private int _shardIndex = -1;
    private bool _completed;

    public ShardedModelWriter(string directory, IReadOnlyList<OutputTensor> tensorsInWriteOrder, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(tensorsInWriteOrder);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: the output directory does not exist");
        _directory = directory; _metadata = metadata; _tensors = tensorsInWriteOrder;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensorsInWriteOrder)
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' is declared twice", nameof(tensorsInWriteOrder));
        Shards = ShardLayout.Plan(tensorsInWriteOrder, maxShardBytes);
    }

    public IReadOnlyList<ShardPlan> Shards { get; }

    /// <summary>Which digests each shard gets (none by default).</summary>
    public Output.ShardDigests Digests { get; init; }

    /// <summary>Called with a shard's file name and digest when it is complete and synced (only with <see cref="Digests"/>).</summary>
    public Action<string, Output.FileDigest>? ShardCompleted { get; init; }

    public async ValueTask WriteTensorAsync(string name, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        if (_completed) throw new InvalidOperationException($"{_directory}: the model is already complete; cannot write tensor '{name}'");
        while (_current is null || _current.NextTensorIndex == Shards[_shardIndex].Tensors.Count)
        {
            if (_shardIndex + 1 >= Shards.Count)
                throw new InvalidOperationException($"{_directory}: tensor '{name}' was not declared (all {_tensors.Count} declared tensors are written)");
            await OpenNextShardAsync(ct).ConfigureAwait(false);
        }
        await _current.WriteTensorAsync(name, data, ct).ConfigureAwait(false);
    }

    /// <summary>Completes every remaining shard (opening empty ones if needed, e.g. a model with no tensors) and writes
    /// the index when there is more than one shard.</summary>
    public async ValueTask CompleteAsync(CancellationToken ct = default)
    {
        if (_completed) return;
        while (_shardIndex < Shards.Count - 1 || _current is not null)
        {
            if (_current is not null && _current.NextTensorIndex < Shards[_shardIndex].Tensors.Count)
                throw new InvalidOperationException(
                    $"{_directory}: not every tensor was written; the next missing one is '{Shards[_shardIndex].Tensors[_current.NextTensorIndex].Name}'");
            if (_shardIndex < Shards.Count - 1) await OpenNextShardAsync(ct).ConfigureAwait(false);
            else await CompleteCurrentAsync(ct).ConfigureAwait(false);
        }
        if (Shards.Count > 1) await WriteIndexAsync(_directory, Shards, ct).ConfigureAwait(false);
        _completed = true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_current is not null)
        {
            await _current.DisposeAsync().ConfigureAwait(false); // deletes the partial shard
            _current = null;
        }
    }

    private async ValueTask OpenNextShardAsync(CancellationToken ct)
    {
        if (_current is not null) await CompleteCurrentAsync(ct).ConfigureAwait(false);
        _shardIndex++;
        var plan = Shards[_shardIndex];
        var hasher = Digests == Output.ShardDigests.None ? null : new Output.FileHasher(Digests == Output.ShardDigests.WithSha256);
        _current = SafetensorsWriter.Create(Path.Combine(_directory, plan.FileName), plan.Tensors, _metadata, hasher);
    }

    private async ValueTask CompleteCurrentAsync(CancellationToken ct)
    {
        await _current!.CompleteAsync(ct).ConfigureAwait(false);
        await _current.DisposeAsync().ConfigureAwait(false);
        var digest = _current.Digest;
        _current = null;
        if (digest is not null) ShardCompleted?.Invoke(Shards[_shardIndex].FileName, digest);
    }

    /// <summary>Writes <c>model.safetensors.index.json</c> for <paramref name="shards"/> into <paramref name="directory"/>
    /// (also what joining a partitioned run writes, so both give the same bytes).</summary>
    public static async ValueTask WriteIndexAsync(string directory, IReadOnlyList<ShardPlan> shards, CancellationToken ct)
    {
        var entries = new List<(string Name, string File)>();
        long total = 0;
        foreach (var shard in shards)
        {
            foreach (var t in shard.Tensors)
            {
                entries.Add((t.Name, shard.FileName));
                total = checked(total + t.ByteLength);
            }
        }
        entries.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));

        string path = Path.Combine(directory, ModelCheckpoint.IndexFileName);
        await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        await using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            Indented = true, IndentSize = 2, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteNumber("total_size", total);
            w.WriteEndObject();
            w.WriteStartObject("weight_map");
            foreach (var (name, file) in entries) w.WriteString(name, file);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        await stream.FlushAsync(ct).ConfigureAwait(false);
        stream.Flush(flushToDisk: true);
    }
}
