using System.Text;
using DotnetMerge.Numerics;
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

/// <summary>An open PyTorch zip checkpoint (<c>pytorch_model.bin</c>): the pickle is read safely by
/// <see cref="TorchPickle"/> when the file is opened; tensor bytes are read on demand, in place, from the stored
/// <c>data/N</c> records (positional reads, thread-safe). Views with an offset, strided (transposed, sliced) views and
/// storages shared by several tensors (tied weights) each read their own elements.</summary>
public sealed class TorchBinFile : IDisposable
{
    /// <summary>Pickles larger than this are refused (a state dict's pickle is a few hundred bytes per tensor).</summary>
    public const long MaxPickleBytes = 512L << 20;

    private static readonly byte[] ZipMagic = [0x50, 0x4b, 0x03, 0x04];
    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, TorchBinTensor> _byName;

    private TorchBinFile(string path, SafeFileHandle handle, List<TorchBinTensor> tensors)
    {
        Path = path; _handle = handle; Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path { get; }

    /// <summary>The tensors in the pickle's order.</summary>
    public IReadOnlyList<TorchBinTensor> Tensors { get; }

    public TorchBinTensor? Find(string name) => _byName.GetValueOrDefault(name);

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
                TorchZip.ReadExactly(path, handle, bytes, order.DataOffset);
                if (Encoding.ASCII.GetString(bytes).Trim() != "little")
                    throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, "the checkpoint was written big-endian; only little-endian checkpoints are read");
            }
            if (!records.TryGetValue(prefix + "data.pkl", out var pkl))
                throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"the archive has no {prefix}data.pkl");
            if (pkl.Length > MaxPickleBytes)
                throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"{prefix}data.pkl holds {pkl.Length} bytes, more than a state dict's pickle ({MaxPickleBytes})");
            var pickle = new byte[pkl.Length];
            TorchZip.ReadExactly(path, handle, pickle, pkl.DataOffset);
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
    /// (exactly <see cref="TorchBinTensor.ByteLength"/> bytes).</summary>
    public void ReadTensor(TorchBinTensor tensor, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException($"tensor '{tensor.Name}' has {tensor.ByteLength} bytes but the destination holds {destination.Length}", nameof(destination));
        if (destination.Length == 0) return;
        int item = tensor.Dtype.BitSize() / 8;
        long start = tensor.Storage.DataOffset + tensor.Offset * item;
        if (tensor.IsContiguous)
        {
            TorchZip.ReadExactly(Path, _handle, destination, start);
            return;
        }
        // A strided view: read the span it covers once, then gather the elements (the innermost run when its stride is 1).
        int rank = tensor.Shape.Length;
        long last = 0;
        for (int i = 0; i < rank; i++) last += (tensor.Shape[i] - 1) * tensor.Strides[i];
        long spanBytes = (last + 1) * item;
        if (spanBytes > Array.MaxLength) throw new TorchCheckpointException(Path, TorchCheckpointException.BadTensor, $"tensor '{tensor.Name}': a strided view spanning {spanBytes} bytes is too large to gather");
        var span = GC.AllocateUninitializedArray<byte>((int)spanBytes);
        TorchZip.ReadExactly(Path, _handle, span, start);
        var index = new long[rank];
        long count = tensor.ElementCount;
        for (long e = 0, o = 0; e < count; e++)
        {
            long source = 0;
            for (int i = 0; i < rank; i++) source += index[i] * tensor.Strides[i];
            span.AsSpan((int)(source * item), item).CopyTo(destination.Slice((int)(o), item));
            o += item;
            for (int i = rank - 1; i >= 0; i--)
            {
                if (++index[i] < tensor.Shape[i]) break;
                index[i] = 0;
            }
        }
    }

    public void Dispose() => _handle.Dispose();
}
