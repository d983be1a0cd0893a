using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Soups;

/// <summary>Chunked access to stored tensors for the soup and task-vector commands: a tensor is read and decoded a
/// chunk at a time, so only the tensor being written is held whole (the writer takes whole tensors). A LoRA-adapted
/// input (a base tensor with an adapter's delta, computed in the read stage) has no stored bytes to read in chunks: it
/// is computed whole, once per tensor, into memory (<see cref="Of"/>), so these commands hold at most one adapted input
/// tensor beside the output tensor, and no adapted model is ever written.</summary>
internal static class TensorStreaming
{
    /// <summary>Elements per chunk read from an input.</summary>
    public const int ChunkElements = 1 << 20;

    /// <summary>A tensor of an open file, or (<see cref="Computed"/>) the bytes of a tensor computed in memory.</summary>
    public readonly record struct Source(Models.ITensorFile? File, TensorInfo Tensor, byte[]? Computed = null)
    {
        public long ElementCount => Tensor.ElementCount;
    }

    /// <summary>The source of a planned input: its stored file, or for a LoRA-adapted tensor the adapted bytes, computed
    /// now (in the base tensor's dtype, as the merge engine's read stage computes them).</summary>
    public static Source Of(JobInput input, CancellationToken ct = default)
    {
        if (input.File is not null) return new(input.File, input.Tensor);
        if (input.Adaptation is not { } adaptation) return new(input.StoredFile, input.Tensor); // throws: an earlier stage's output
        var bytes = new byte[CheckedLength(input.TensorName, input.Tensor.ByteLength)];
        adaptation.Apply(bytes, ExecutionSettings.Default, ct);
        return new(null, input.Tensor, bytes);
    }

    /// <summary>Reads and decodes elements [start, start + destination.Length) of a float tensor; the raw bytes also go
    /// into <paramref name="hash"/> when given (chunks must then be read in order).</summary>
    public static void Read(Source source, long start, Span<float> destination, ref byte[] scratch, System.Security.Cryptography.IncrementalHash? hash = null)
    {
        var dtype = source.Tensor.Dtype;
        long byteStart = dtype.ByteCount(start);
        int bytes = checked((int)dtype.ByteCount(destination.Length));
        if (source.Computed is { } computed)
        {
            var range = computed.AsSpan(checked((int)byteStart), bytes);
            hash?.AppendData(range);
            DtypeConversion.Decode(dtype, range, 0, destination);
            return;
        }
        if (scratch.Length < bytes) scratch = new byte[Math.Max(bytes, scratch.Length * 2)];
        source.File!.ReadTensorRange(source.Tensor, byteStart, scratch.AsSpan(0, bytes));
        hash?.AppendData(scratch, 0, bytes);
        DtypeConversion.Decode(dtype, scratch.AsSpan(0, bytes), 0, destination);
    }

    /// <summary>Reads a whole tensor's raw bytes (non-float tensors that are copied unchanged).</summary>
    public static byte[] ReadAll(Source source)
    {
        if (source.Computed is { } computed) return computed;
        var bytes = new byte[CheckedLength(source.Tensor.Name, source.Tensor.ByteLength)];
        source.File!.ReadTensor(source.Tensor, bytes);
        return bytes;
    }

    /// <summary>A whole-tensor output buffer; tensors beyond what one array holds are refused with a clear error.</summary>
    public static byte[] Allocate(string name, Dtype dtype, long elements) => new byte[CheckedLength(name, dtype.ByteCount(elements))];

    private static int CheckedLength(string name, long bytes)
        => bytes <= Array.MaxLength ? (int)bytes
            : throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor, $"tensor '{name}' has {bytes} bytes; this command holds one tensor at a time in memory and supports tensors up to {Array.MaxLength} bytes");

    /// <summary>Walks [0, count) in chunks of <see cref="ChunkElements"/>.</summary>
    public static IEnumerable<(long Start, int Length)> Chunks(long count)
    {
        for (long start = 0; start < count; start += ChunkElements)
            yield return (start, (int)Math.Min(ChunkElements, count - start));
    }
}
