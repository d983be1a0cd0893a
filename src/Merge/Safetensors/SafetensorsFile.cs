using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Win32.SafeHandles;

namespace DotnetMerge.Safetensors;

/// <summary>An open, validated safetensors file. Only the 8-byte prefix and the header are read by <see cref="Open"/>;
/// tensor data is read on demand with positional reads (thread-safe: no shared file position).</summary>
public sealed class SafetensorsFile : Models.ITensorFile
{
    /// <summary>Buffer size of <see cref="OpenSequentialReader"/>.</summary>
    public const int SequentialBufferSize = 2 << 20;

    /// <summary>Headers up to this size are read into a pooled buffer.</summary>
    private const int PooledHeaderLimit = 1 << 20;

    private readonly SafeFileHandle _handle;

    private SafetensorsFile(string path, SafeFileHandle handle, long length, SafetensorsHeader header)
    {
        Path = path; _handle = handle; Length = length; Header = header;
    }

    public string Path { get; }
    public SafetensorsHeader Header { get; }

    /// <summary>File length in bytes when it was opened.</summary>
    public long Length { get; }

    public IReadOnlyList<TensorInfo> Tensors => Header.Tensors;
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;
    public long DataLength => Header.DataLength;
    public TensorInfo? Find(string name) => Header.Find(name);

    /// <summary>A safetensors tensor always lies back to back at data start + begin (when the file is still that long).</summary>
    public bool TryGetFileRange(TensorInfo tensor, out long fileOffset)
    {
        fileOffset = Header.DataStart + tensor.Begin;
        return tensor.Begin >= 0 && fileOffset + tensor.ByteLength <= Length;
    }

    /// <summary>Opens <paramref name="path"/> read-only (others may read it too) and validates its header.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw SafetensorsHeader.Error(SafetensorsError.Io, path, null, $"cannot open the file: {ex.Message}", ex);
        }
        try
        {
            long length = RandomAccess.GetLength(handle);
            Span<byte> prefix = stackalloc byte[8];
            int got = ReadFully(handle, prefix, 0);
            long n = SafetensorsHeader.ReadHeaderLength(prefix.Slice(0, got), length, path);
            // A large header gets an array of its own size, freed after parsing: a pooled one would be rounded up to
            // the next power of two and kept by the pool for the life of the process.
            bool pooled = 8 + n <= PooledHeaderLimit;
            byte[] buffer = pooled ? ArrayPool<byte>.Shared.Rent((int)(8 + n)) : GC.AllocateUninitializedArray<byte>((int)(8 + n));
            try
            {
                prefix.CopyTo(buffer);
                var headerSpan = buffer.AsSpan(0, (int)(8 + n));
                int read = ReadFully(handle, headerSpan.Slice(8), 8);
                if (read != n)
                    throw SafetensorsHeader.Error(SafetensorsError.Io, path, null,
                        $"the file is truncated: expected {8 + n} header bytes, found {8 + read}");
                var header = SafetensorsHeader.Parse(headerSpan, length, path);
                return new SafetensorsFile(path, handle, length, header);
            }
            finally
            {
                if (pooled) ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads the whole tensor into <paramref name="destination"/> (exactly <see cref="TensorInfo.ByteLength"/> bytes).</summary>
    public void ReadTensor(TensorInfo tensor, Span<byte> destination)
    {
        CheckLength(tensor, destination.Length);
        ReadTensorRange(tensor, 0, destination);
    }

    /// <summary>Reads bytes [offsetInTensor, offsetInTensor + destination.Length) of a tensor (for tensors read in
    /// pieces, e.g. ones larger than 2 GiB).</summary>
    public void ReadTensorRange(TensorInfo tensor, long offsetInTensor, Span<byte> destination)
    {
        long fileOffset = FileOffset(tensor, offsetInTensor, destination.Length);
        int read = ReadFully(_handle, destination, fileOffset);
        if (read != destination.Length) throw Truncated(tensor, fileOffset + read);
    }

    /// <summary>Asynchronously reads the whole tensor into <paramref name="destination"/>.</summary>
    public ValueTask ReadTensorAsync(TensorInfo tensor, Memory<byte> destination, CancellationToken ct = default)
    {
        CheckLength(tensor, destination.Length);
        return ReadTensorRangeAsync(tensor, 0, destination, ct);
    }

    /// <summary>Asynchronously reads a byte range of a tensor.</summary>
    public async ValueTask ReadTensorRangeAsync(TensorInfo tensor, long offsetInTensor, Memory<byte> destination, CancellationToken ct = default)
    {
        long fileOffset = FileOffset(tensor, offsetInTensor, destination.Length);
        int done = 0;
        while (done < destination.Length)
        {
            int r = await RandomAccess.ReadAsync(_handle, destination.Slice(done), fileOffset + done, ct).ConfigureAwait(false);
            if (r == 0) throw Truncated(tensor, fileOffset + done);
            done += r;
        }
    }

    /// <summary>A pipe over the whole data section, in file order (tensors appear in <see cref="SafetensorsHeader.Tensors"/>
    /// order, back to back). The caller completes the reader, which closes its own file stream.</summary>
    public PipeReader OpenSequentialReader()
    {
        var stream = new FileStream(Path, new FileStreamOptions
        {
            Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 0,
            Options = FileOptions.SequentialScan | FileOptions.Asynchronous,
        });
        try
        {
            stream.Position = Header.DataStart;
            return PipeReader.Create(stream, new StreamPipeReaderOptions(
                bufferSize: SequentialBufferSize, minimumReadSize: SequentialBufferSize / 4, leaveOpen: false));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public void Dispose() => _handle.Dispose();

    private long FileOffset(TensorInfo tensor, long offsetInTensor, int count)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var own = Header.Find(tensor.Name);
        if (own is null || own.Begin != tensor.Begin || own.End != tensor.End)
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {Path}", nameof(tensor));
        if (offsetInTensor < 0 || count > tensor.ByteLength - offsetInTensor)
            throw new ArgumentOutOfRangeException(nameof(offsetInTensor),
                $"bytes [{offsetInTensor}, {offsetInTensor + count}) are outside tensor '{tensor.Name}' ({tensor.ByteLength} bytes)");
        return Header.DataStart + tensor.Begin + offsetInTensor;
    }

    private static void CheckLength(TensorInfo tensor, int length)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (length != tensor.ByteLength)
            throw new ArgumentException($"tensor '{tensor.Name}' has {tensor.ByteLength} bytes but the destination holds {length}", "destination");
    }

    private SafetensorsFormatException Truncated(TensorInfo tensor, long foundLength) =>
        SafetensorsHeader.Error(SafetensorsError.Io, Path, tensor.Name,
            $"the file is truncated: expected {Length} bytes, found {foundLength} (was it modified after it was opened?)");

    private static int ReadFully(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int r = RandomAccess.Read(handle, destination.Slice(done), offset + done);
            if (r == 0) break;
            done += r;
        }
        return done;
    }
}
