using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Encodings.Web;
using System.Text.Json;
using DotnetMerge.Numerics;

namespace DotnetMerge.Safetensors;

/// <summary>Streams one safetensors file. The header is computed up front from the declared tensors (in the given
/// order, offsets back to back, compact JSON, <c>__metadata__</c> first with <c>"format":"pt"</c>, space-padded so the
/// data starts at a multiple of 8), then tensor data is written in the same order through a <see cref="PipeWriter"/>.
/// The file is created new (an existing file is never overwritten); a writer disposed before
/// <see cref="CompleteAsync"/> deletes its partial file. Given a <see cref="FileHasher"/>, every byte written (header,
/// padding, data) is digested on its way to the file, so <see cref="Digest"/> is that of the file without reading it back.</summary>
public sealed class SafetensorsWriter : IAsyncDisposable
{
    private const int DirectWriteThreshold = 256 << 10;
    private const int FlushThreshold = 2 << 20;

    private readonly FileStream _stream;
    private readonly PipeWriter _pipe;
    private readonly IReadOnlyList<OutputTensor> _tensors;
    private readonly long[] _byteLengths;
    private readonly Output.FileHasher? _hasher;
    private int _next;
    private bool _completed, _disposed;

    private SafetensorsWriter(string path, FileStream stream, IReadOnlyList<OutputTensor> tensors, long[] byteLengths, Output.FileHasher? hasher)
    {
        Path = path; _stream = stream; _tensors = tensors; _byteLengths = byteLengths; _hasher = hasher;
        _pipe = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 1 << 20, leaveOpen: true));
    }

    public string Path { get; }

    /// <summary>Total file size: 8 + padded header + data.</summary>
    public long FileLength { get; private init; }

    /// <summary>Index of the next tensor to write (equals the tensor count once all are written).</summary>
    public int NextTensorIndex => _next;

    /// <summary>The digest of the whole file, once <see cref="CompleteAsync"/> has run with a hasher (else null).</summary>
    public Output.FileDigest? Digest { get; private set; }

    public static SafetensorsWriter Create(string path, IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        Output.FileHasher? hasher = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var byteLengths = new long[tensors.Count];
        byte[] header = BuildHeader(path, tensors, metadata, byteLengths, out long dataLength);
        long fileLength = checked(header.Length + dataLength);

        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0,
            PreallocationSize = fileLength,
        });
        var writer = new SafetensorsWriter(path, stream, tensors, byteLengths, hasher) { FileLength = fileLength };
        try
        {
            hasher?.Append(header);
            var span = writer._pipe.GetSpan(header.Length);
            header.CopyTo(span);
            writer._pipe.Advance(header.Length);
        }
        catch
        {
            stream.Dispose();
            hasher?.Dispose();
            File.Delete(path);
            throw;
        }
        return writer;
    }

    /// <summary>Writes the next tensor's bytes; tensors must come in the declared order with exactly their byte size.</summary>
    public async ValueTask WriteTensorAsync(string name, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) throw new InvalidOperationException($"{Path}: the file is already complete; cannot write tensor '{name}'");
        if (_next >= _tensors.Count)
            throw new InvalidOperationException($"{Path}: tensor '{name}' was not declared (all {_tensors.Count} declared tensors are written)");
        var expected = _tensors[_next];
        if (!string.Equals(expected.Name, name, StringComparison.Ordinal))
            throw new InvalidOperationException($"{Path}: tensor '{name}' written out of order; the next declared tensor is '{expected.Name}'");
        if (data.Length != _byteLengths[_next])
            throw new InvalidOperationException($"{Path}: tensor '{name}' needs exactly {_byteLengths[_next]} bytes, got {data.Length}");
        _next++;
        if (data.Length == 0) return;
        _hasher?.Append(data.Span);
        FlushResult result;
        if (data.Length >= DirectWriteThreshold)
        {
            // big tensors: the pipe writes what it buffered, then the data straight to the file (no copy)
            result = await _pipe.WriteAsync(data, ct).ConfigureAwait(false);
        }
        else
        {
            // small tensors (norms, biases) are gathered so that they reach the file in large writes
            var span = _pipe.GetSpan(data.Length);
            data.Span.CopyTo(span);
            _pipe.Advance(data.Length);
            if (_pipe.UnflushedBytes < FlushThreshold) return;
            result = await _pipe.FlushAsync(ct).ConfigureAwait(false);
        }
        if (result.IsCanceled) throw new OperationCanceledException(ct);
    }

    /// <summary>Checks that every tensor was written, flushes and syncs the file to disk, and closes it.</summary>
    public async ValueTask CompleteAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) return;
        if (_next != _tensors.Count)
            throw new InvalidOperationException($"{Path}: only {_next} of {_tensors.Count} tensors were written; the next missing one is '{_tensors[_next].Name}'");
        await _pipe.FlushAsync(ct).ConfigureAwait(false);
        await _pipe.CompleteAsync().ConfigureAwait(false);
        _stream.Flush(flushToDisk: true);
        await _stream.DisposeAsync().ConfigureAwait(false);
        Digest = _hasher?.Finish();
        _completed = true;
    }

    /// <summary>Closes the file; if it was not completed, the partial file is deleted.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _hasher?.Dispose(); // the writer owns its hasher
        if (_completed) return;
        try
        {
            await _pipe.CompleteAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // the partial file is deleted below; the original failure (if any) is what the caller sees
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Builds 8-byte prefix + padded JSON header. Fills <paramref name="byteLengths"/>.</summary>
    internal static byte[] BuildHeader(string path, IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string>? metadata,
        long[] byteLengths, out long dataLength)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var json = new ArrayBufferWriter<byte>(256 + tensors.Count * 96);
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false }))
        {
            w.WriteStartObject();
            w.WriteStartObject(SafetensorsHeader.MetadataKey);
            w.WriteString("format", metadata is not null && metadata.TryGetValue("format", out var format) ? format : "pt");
            if (metadata is not null)
            {
                var keys = new List<string>(metadata.Keys);
                keys.Sort(StringComparer.Ordinal);
                foreach (var key in keys)
                    if (key != "format") w.WriteString(key, metadata[key]);
            }
            w.WriteEndObject();

            long offset = 0;
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                if (t.Name == SafetensorsHeader.MetadataKey)
                    throw new ArgumentException($"{path}: a tensor may not be named '{SafetensorsHeader.MetadataKey}' (reserved for metadata)", nameof(tensors));
                if (!names.Add(t.Name))
                    throw new ArgumentException($"{path}: tensor '{t.Name}' is declared twice", nameof(tensors));
                long size = t.ByteLength;
                byteLengths[i] = size;
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.Dtype.HeaderName());
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset = checked(offset + size);
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            dataLength = offset;
        }

        long n = (json.WrittenCount + 7) & ~7L;
        if (n > SafetensorsHeader.MaxHeaderLength)
            throw new SafetensorsFormatException(SafetensorsError.HeaderTooLarge, path, null,
                $"the header would be {n} bytes, over the 100,000,000-byte limit (too many tensors or too much metadata for one file; use smaller shards)");
        var bytes = new byte[8 + n];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)n);
        json.WrittenSpan.CopyTo(bytes.AsSpan(8));
        bytes.AsSpan(8 + json.WrittenCount).Fill((byte)' ');
        return bytes;
    }
}
