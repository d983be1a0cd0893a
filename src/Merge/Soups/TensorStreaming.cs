using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Soups;

/// <summary>Chunked access to stored tensors for the soup and task-vector commands: a tensor is read and decoded a
/// chunk at a time, so only the tensor being written is held whole (the writer takes whole tensors).</summary>
internal static class TensorStreaming
{
    /// <summary>Elements per chunk read from an input.</summary>
    public const int ChunkElements = 1 << 20;

    /// <summary>A tensor of an open file.</summary>
    public readonly record struct Source(SafetensorsFile File, TensorInfo Tensor)
    {
        public long ElementCount => Tensor.ElementCount;
    }

    /// <summary>Reads and decodes elements [start, start + destination.Length) of a float tensor; the raw bytes also go
    /// into <paramref name="hash"/> when given (chunks must then be read in order).</summary>
    public static void Read(Source source, long start, Span<float> destination, ref byte[] scratch, System.Security.Cryptography.IncrementalHash? hash = null)
    {
        var dtype = source.Tensor.Dtype;
        long byteStart = dtype.ByteCount(start);
        int bytes = checked((int)dtype.ByteCount(destination.Length));
        if (scratch.Length < bytes) scratch = new byte[Math.Max(bytes, scratch.Length * 2)];
        source.File.ReadTensorRange(source.Tensor, byteStart, scratch.AsSpan(0, bytes));
        hash?.AppendData(scratch, 0, bytes);
        DtypeConversion.Decode(dtype, scratch.AsSpan(0, bytes), 0, destination);
    }

    /// <summary>Reads a whole tensor's raw bytes (non-float tensors that are copied unchanged).</summary>
    public static byte[] ReadAll(Source source)
    {
        var bytes = new byte[CheckedLength(source.Tensor.Name, source.Tensor.ByteLength)];
        source.File.ReadTensor(source.Tensor, bytes);
        return bytes;
    }

    /// <summary>A whole-tensor output buffer; tensors beyond what one array holds are refused with a clear error.</summary>
    public static byte[] Allocate(string name, Dtype dtype, long elements) => new byte[CheckedLength(name, dtype.ByteCount(elements))];

    private static int CheckedLength(string name, long bytes)
        => bytes <= Array.MaxLength ? (int)bytes
            : throw new MergeException(MergeErrorKind.Input, $"tensor '{name}' has {bytes} bytes; this command holds one tensor at a time in memory and supports tensors up to {Array.MaxLength} bytes");

    /// <summary>Walks [0, count) in chunks of <see cref="ChunkElements"/>.</summary>
    public static IEnumerable<(long Start, int Length)> Chunks(long count)
    {
        for (long start = 0; start < count; start += ChunkElements)
            yield return (start, (int)Math.Min(ChunkElements, count - start));
    }
}
