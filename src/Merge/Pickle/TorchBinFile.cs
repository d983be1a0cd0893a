using System.Buffers;
using System.IO.Compression;
using System.Text;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;
using Microsoft.Win32.SafeHandles;

namespace DotnetMerge.Pickle;

/// <summary>One tensor of a torch checkpoint: its view of a storage record, checked to lie inside the record.</summary>
public sealed record TorchBinTensor(string Name, Dtype Dtype, long[] Shape, long[] Strides, long Offset, ZipRecord Storage)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n = checked(n * d);
            return n;
        }
    }

    /// <summary>Bytes of the tensor once made contiguous.</summary>
    public long ByteLength => ElementCount * (Dtype.BitSize() / 8);

    /// <summary>True when the elements lie back to back in row-major order from the offset (read in one piece).</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Strides[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }
}

/// <summary>An open PyTorch zip checkpoint (<c>pytorch_model.bin</c>), a tensor file like a safetensors file: the pickle
/// is read safely by <see cref="TorchPickle"/> when the file is opened, which gives the names, dtypes and shapes
/// (<see cref="Tensors"/>); tensor bytes are read on demand with positional reads (thread-safe). A contiguous view of a
/// stored record is read in place at its file offset (and can be mapped: <see cref="TryGetFileRange"/>), exactly as a
/// safetensors tensor; a strided view (transposed, sliced) is gathered into row-major order; a deflated record is
/// inflated. Storages shared by several tensors (tied weights) are read by each tensor.
/// <para>A tensor's <see cref="TensorInfo.Begin"/> is the byte of its first element inside its storage record and
/// <see cref="TensorInfo.End"/> is Begin plus its contiguous byte length.</para></summary>
public sealed class TorchBinFile : ITensorFile
{
    /// <summary>Pickles larger than this are refused (a state dict's pickle is a few hundred bytes per tensor).</summary>
    public const long MaxPickleBytes = 512L << 20;

    /// <summary>Bytes of a strided view's storage read at once while gathering.</summary>
    internal const int GatherWindowBytes = 8 << 20;

    private static readonly byte[] ZipMagic = [0x50, 0x4b, 0x03, 0x04];
    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, (TensorInfo Info, TorchBinTensor View)> _byName;
    private readonly Dictionary<string, RecordInflater> _inflaters = new(StringComparer.Ordinal);

    private TorchBinFile(string path, SafeFileHandle handle, List<TorchBinTensor> views)
    {
        Path = path; _handle = handle; Views = views;
        var infos = new List<TensorInfo>(views.Count);
        _byName = new(StringComparer.Ordinal);
        long total = 0;
        foreach (var v in views)
        {
            long begin = v.Offset * (v.Dtype.BitSize() / 8);
            var info = new TensorInfo(v.Name, v.Dtype, v.Shape, begin, begin + v.ByteLength);
            infos.Add(info);
            _byName.Add(v.Name, (info, v));
            total += v.ByteLength;
        }
        Tensors = infos;
        DataLength = total;
    }

    public string Path { get; }

    /// <summary>The tensors in the pickle's order, as contiguous tensors (what a reader gets).</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>The tensors as the pickle describes them: views of storage records (offset, strides).</summary>
    public IReadOnlyList<TorchBinTensor> Views { get; }

    /// <summary>A .bin has no string metadata.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    public long DataLength { get; }

    public TensorInfo? Find(string name) => _byName.TryGetValue(name, out var e) ? e.Info : null;

    /// <summary>The view of tensor <paramref name="name"/>, or null.</summary>
    public TorchBinTensor? FindView(string name) => _byName.TryGetValue(name, out var e) ? e.View : null;

    public static TorchBinFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"cannot open the file: {ex.Message}", ex);
        }
        try
        {
            long length = RandomAccess.GetLength(handle);
            var magic = new byte[4];
            int got = RandomAccess.Read(handle, magic, 0);
            if (got < 4 || !magic.AsSpan().SequenceEqual(ZipMagic))
                throw new TorchCheckpointException(path, TorchCheckpointException.NotZipFormat,
                    (got >= 2 && magic[0] == 0x80 ? "a legacy PyTorch pickle-stream checkpoint (torch < 1.6 or _use_new_zipfile_serialization=False)" : "not a PyTorch zip checkpoint")
                    + "; only torch's zip format is read: load it with torch and save it again (torch.save(torch.load(F, weights_only=True), F)), or save it as safetensors");
            var records = TorchZip.ReadRecords(path, handle, length, out string first);
            int slash = first.IndexOf('/');
            if (slash <= 0)
                throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"the first record '{first}' has no archive folder (not a torch checkpoint)");
            string prefix = first[..(slash + 1)];
            if (records.ContainsKey(prefix + "constants.pkl"))
                throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, "a TorchScript archive, not a state dict: save model.state_dict() instead");
            if (records.TryGetValue(prefix + "byteorder", out var order))
            {
                var bytes = new byte[Math.Min(order.Length, 16)];
                ReadWholeRecord(path, handle, order, bytes);
                if (Encoding.ASCII.GetString(bytes).Trim() != "little")
                    throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, "the checkpoint was written big-endian; only little-endian checkpoints are read");
            }
            if (!records.TryGetValue(prefix + "data.pkl", out var pkl))
                throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"the archive has no {prefix}data.pkl");
            if (pkl.Length > MaxPickleBytes)
                throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"{prefix}data.pkl holds {pkl.Length} bytes, more than a state dict's pickle ({MaxPickleBytes})");
            var pickle = new byte[pkl.Length];
            ReadWholeRecord(path, handle, pkl, pickle);
            var state = TorchPickle.ReadStateDict(path, pickle);

            var tensors = new List<TorchBinTensor>(state.Count);
            foreach (var (name, t) in state)
            {
                if (!records.TryGetValue(prefix + "data/" + t.Storage.Key, out var record))
                    throw BadTensor(path, name, $"its storage '{t.Storage.Key}' has no record {prefix}data/{t.Storage.Key}");
                int storageItem = t.Storage.TypeName == "UntypedStorage" ? 1 : t.Storage.Dtype.BitSize() / 8;
                if (t.Storage.Numel > record.Length / storageItem || t.Storage.Numel * storageItem != record.Length)
                    throw BadTensor(path, name, $"storage '{t.Storage.Key}' claims {t.Storage.Numel} elements of {storageItem} bytes but its record holds {record.Length} bytes");
                CheckSpan(path, name, t, record.Length);
                tensors.Add(new TorchBinTensor(name, t.Dtype, t.Shape, t.Strides, t.Offset, record));
            }
            return new TorchBinFile(path, handle, tensors);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Every element index must lie inside the storage record: itemsize · (offset + Σ (size−1)·stride + 1) bytes.</summary>
    private static void CheckSpan(string path, string name, TorchTensorRef t, long recordBytes)
    {
        int item = t.Dtype.BitSize() / 8;
        if (item == 0) throw BadTensor(path, name, $"dtype {t.Dtype} is not byte-sized");
        if (t.Offset < 0) throw BadTensor(path, name, $"a negative storage offset {t.Offset}");
        long last = t.Offset;
        bool empty = false;
        try
        {
            for (int i = 0; i < t.Shape.Length; i++)
            {
                if (t.Shape[i] < 0) throw BadTensor(path, name, $"a negative size {t.Shape[i]}");
                if (t.Strides[i] < 0) throw BadTensor(path, name, $"a negative stride {t.Strides[i]}");
                if (t.Shape[i] == 0) empty = true;
                else last = checked(last + (t.Shape[i] - 1) * t.Strides[i]);
            }
            long elements = 1;
            foreach (long d in t.Shape) elements = checked(elements * d);
            long bytes = checked(elements * item); // the contiguous byte length must be a long
            // A broadcast view (stride 0) reads as more bytes than its storage holds: a few bytes on disk could claim a
            // tensor of any size. State dicts do not hold them (parameters are real tensors), so it is refused.
            if (bytes > recordBytes && t.Shape.Where((d, i) => d > 1 && t.Strides[i] == 0).Any())
                throw BadTensor(path, name,
                    $"an expanded view (stride 0, shape [{string.Join(",", t.Shape)}]) reads as {bytes} bytes from a {recordBytes}-byte storage; save it with .contiguous()");
            if (!empty && checked((last + 1) * item) > recordBytes)
                throw BadTensor(path, name,
                    $"its view (offset {t.Offset}, shape [{string.Join(",", t.Shape)}], strides [{string.Join(",", t.Strides)}]) reaches byte {(last + 1) * item} of a {recordBytes}-byte storage");
        }
        catch (OverflowException)
        {
            throw BadTensor(path, name, "its view's extent overflows");
        }
    }

    private static TorchCheckpointException BadTensor(string path, string name, string message) =>
        new(path, TorchCheckpointException.BadTensor, $"tensor '{name}': {message}");

    /// <summary>Reads the tensor's elements in row-major order (contiguous, little-endian) into <paramref name="destination"/>
    /// (exactly <see cref="TensorInfo.ByteLength"/> bytes).</summary>
    public void ReadTensor(TensorInfo tensor, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException($"tensor '{tensor.Name}' has {tensor.ByteLength} bytes but the destination holds {destination.Length}", nameof(destination));
        ReadTensorRange(tensor, 0, destination);
    }

    /// <summary>Reads bytes [offsetInTensor, offsetInTensor + destination.Length) of the tensor in row-major order.</summary>
    public void ReadTensorRange(TensorInfo tensor, long offsetInTensor, Span<byte> destination)
    {
        var view = ViewOf(tensor, offsetInTensor, destination.Length);
        if (destination.Length == 0) return;
        int item = view.Dtype.BitSize() / 8;
        if (view.IsContiguous)
        {
            ReadRecord(view.Storage, view.Offset * item + offsetInTensor, destination);
            return;
        }
        long first = offsetInTensor / item, end = (offsetInTensor + destination.Length + item - 1) / item;
        if (offsetInTensor % item == 0 && destination.Length % item == 0)
        {
            Gather(view, first, end - first, destination);
            return;
        }
        // A range that cuts elements: gather the whole elements it touches, then copy its bytes.
        var whole = ArrayPool<byte>.Shared.Rent(checked((int)((end - first) * item)));
        try
        {
            Gather(view, first, end - first, whole.AsSpan(0, (int)((end - first) * item)));
            whole.AsSpan((int)(offsetInTensor - first * item), destination.Length).CopyTo(destination);
        }
        finally { ArrayPool<byte>.Shared.Return(whole); }
    }

    public ValueTask ReadTensorAsync(TensorInfo tensor, Memory<byte> destination, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException($"tensor '{tensor.Name}' has {tensor.ByteLength} bytes but the destination holds {destination.Length}", nameof(destination));
        return ReadTensorRangeAsync(tensor, 0, destination, ct);
    }

    /// <summary>A contiguous view of a stored record is read asynchronously in place; a gather or an inflate runs on the
    /// thread pool.</summary>
    public async ValueTask ReadTensorRangeAsync(TensorInfo tensor, long offsetInTensor, Memory<byte> destination, CancellationToken ct = default)
    {
        var view = ViewOf(tensor, offsetInTensor, destination.Length);
        if (view.IsContiguous && !view.Storage.Deflated)
        {
            long start = view.Storage.DataOffset + view.Offset * (view.Dtype.BitSize() / 8) + offsetInTensor;
            int done = 0;
            while (done < destination.Length)
            {
                int r;
                try { r = await RandomAccess.ReadAsync(_handle, destination[done..], start + done, ct).ConfigureAwait(false); }
                catch (IOException ex) { throw new TorchCheckpointException(Path, TorchCheckpointException.BadArchive, $"cannot read the file: {ex.Message}", ex); }
                if (r == 0) throw Truncated(start + done);
                done += r;
            }
            return;
        }
        await Task.Run(() => ReadTensorRange(tensor, offsetInTensor, destination.Span), ct).ConfigureAwait(false);
    }

    /// <summary>A contiguous view of a stored (uncompressed) record lies back to back in the file.</summary>
    public bool TryGetFileRange(TensorInfo tensor, out long fileOffset)
    {
        fileOffset = 0;
        if (tensor is null || !_byName.TryGetValue(tensor.Name, out var e) || !Same(e.Info, tensor)) return false;
        var view = e.View;
        if (!view.IsContiguous || view.Storage.Deflated) return false;
        fileOffset = view.Storage.DataOffset + view.Offset * (view.Dtype.BitSize() / 8);
        return true;
    }

    private TorchBinTensor ViewOf(TensorInfo tensor, long offsetInTensor, int count)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!_byName.TryGetValue(tensor.Name, out var e) || !Same(e.Info, tensor))
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {Path}", nameof(tensor));
        if (offsetInTensor < 0 || count > tensor.ByteLength - offsetInTensor)
            throw new ArgumentOutOfRangeException(nameof(offsetInTensor),
                $"bytes [{offsetInTensor}, {offsetInTensor + count}) are outside tensor '{tensor.Name}' ({tensor.ByteLength} bytes)");
        return e.View;
    }

    private static bool Same(TensorInfo own, TensorInfo other) =>
        ReferenceEquals(own, other) || own.Begin == other.Begin && own.End == other.End && own.Dtype == other.Dtype;

    /// <summary>Elements [first, first + count) of a strided view in row-major order into <paramref name="destination"/>.
    /// The part of the storage the elements reach is read once when it fits in <see cref="GatherWindowBytes"/>, else a
    /// window at a time, so memory stays bounded whatever the view's extent.</summary>
    private void Gather(TorchBinTensor view, long first, long count, Span<byte> destination)
    {
        int item = view.Dtype.BitSize() / 8;
        // Where the elements lie in the storage (in elements): one pass over their indices, no data read.
        long low = long.MaxValue, high = long.MinValue;
        var walk = new StridedWalk(view, first);
        for (long e = 0; e < count; e++, walk.Next())
        {
            low = Math.Min(low, walk.Source);
            high = Math.Max(high, walk.Source);
        }
        long windowElements = Math.Min(high - low + 1, GatherWindowBytes / item);
        var window = ArrayPool<byte>.Shared.Rent((int)(windowElements * item));
        try
        {
            long windowStart = 0, windowEnd = 0; // storage elements held in the window
            walk = new StridedWalk(view, first);
            for (long e = 0; e < count; e++, walk.Next())
            {
                long source = walk.Source;
                if (source < windowStart || source >= windowEnd)
                {
                    windowStart = Math.Min(source, high + 1 - windowElements);
                    windowEnd = windowStart + windowElements;
                    ReadRecord(view.Storage, windowStart * item, window.AsSpan(0, (int)(windowElements * item)));
                }
                window.AsSpan((int)((source - windowStart) * item), item).CopyTo(destination.Slice(checked((int)(e * item)), item));
            }
        }
        finally { ArrayPool<byte>.Shared.Return(window); }
    }

    /// <summary>Row-major walk over a view's elements: the storage element (<see cref="Source"/>) of each, from a
    /// starting linear index.</summary>
    private struct StridedWalk
    {
        private readonly long[] _shape, _strides, _index;

        public StridedWalk(TorchBinTensor view, long first)
        {
            _shape = view.Shape; _strides = view.Strides; _index = new long[_shape.Length];
            Source = view.Offset;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                _index[i] = first % _shape[i];
                first /= _shape[i];
                Source += _index[i] * _strides[i];
            }
        }

        public long Source { get; private set; }

        public void Next()
        {
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (++_index[i] < _shape[i]) { Source += _strides[i]; return; }
                Source -= (_shape[i] - 1) * _strides[i];
                _index[i] = 0;
            }
        }
    }

    /// <summary>Bytes [offset, offset + destination.Length) of a record: in place when stored, inflated when deflated.</summary>
    private void ReadRecord(ZipRecord record, long offset, Span<byte> destination)
    {
        if (!record.Deflated)
        {
            TorchZip.ReadExactly(Path, _handle, destination, record.DataOffset + offset);
            return;
        }
        RecordInflater inflater;
        lock (_inflaters)
        {
            if (!_inflaters.TryGetValue(record.Name, out inflater!))
                _inflaters.Add(record.Name, inflater = new RecordInflater(Path, _handle, record));
        }
        inflater.Read(offset, destination);
    }

    /// <summary>The first <paramref name="destination"/>.Length bytes of a small record, before the file is open as an instance.</summary>
    private static void ReadWholeRecord(string path, SafeFileHandle handle, ZipRecord record, Span<byte> destination)
    {
        if (!record.Deflated)
        {
            TorchZip.ReadExactly(path, handle, destination, record.DataOffset);
            return;
        }
        using var inflater = new RecordInflater(path, handle, record);
        inflater.Read(0, destination);
    }

    private TorchCheckpointException Truncated(long at) =>
        new(Path, TorchCheckpointException.BadArchive, $"the file is truncated (expected bytes at {at}; was it modified after it was opened?)");

    public void Dispose()
    {
        lock (_inflaters)
        {
            foreach (var i in _inflaters.Values) i.Dispose();
            _inflaters.Clear();
        }
        _handle.Dispose();
    }

    /// <summary>A forward-only inflating cursor over one deflated record: a read at or after the cursor continues from
    /// it (chunked reads in order inflate the record once); a read before it starts over. One read at a time.</summary>
    private sealed class RecordInflater(string path, SafeFileHandle handle, ZipRecord record) : IDisposable
    {
        private DeflateStream? _stream;
        private long _position;

        public void Read(long offset, Span<byte> destination)
        {
            lock (this)
            {
                try
                {
                    if (_stream is null || offset < _position)
                    {
                        _stream?.Dispose();
                        _stream = new DeflateStream(new RecordStream(path, handle, record.DataOffset, record.StoredLength), CompressionMode.Decompress);
                        _position = 0;
                    }
                    Span<byte> skip = stackalloc byte[4096];
                    while (_position < offset)
                    {
                        int n = _stream.Read(skip[..(int)Math.Min(skip.Length, offset - _position)]);
                        if (n == 0) throw Short();
                        _position += n;
                    }
                    int done = 0;
                    while (done < destination.Length)
                    {
                        int n = _stream.Read(destination[done..]);
                        if (n == 0) throw Short();
                        done += n;
                    }
                    _position += done;
                }
                catch (InvalidDataException ex)
                {
                    _stream?.Dispose();
                    _stream = null;
                    throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"record '{record.Name}' holds corrupt deflate data: {ex.Message}", ex);
                }
            }
        }

        private TorchCheckpointException Short()
        {
            _stream?.Dispose();
            _stream = null;
            return new(path, TorchCheckpointException.BadArchive, $"record '{record.Name}' inflates to fewer bytes than the {record.Length} its directory entry says");
        }

        public void Dispose()
        {
            lock (this) { _stream?.Dispose(); _stream = null; }
        }
    }

    /// <summary>The stored bytes of one record as a read-only stream (positional reads; the file handle is not owned).</summary>
    private sealed class RecordStream(string path, SafeFileHandle handle, long start, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, length - _position);
            if (n <= 0) return 0;
            int r;
            try { r = RandomAccess.Read(handle, buffer[..n], start + _position); }
            catch (IOException ex) { throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"cannot read the file: {ex.Message}", ex); }
            _position += r;
            return r;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
