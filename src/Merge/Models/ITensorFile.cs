using DotnetMerge.Safetensors;

namespace DotnetMerge.Models;

/// <summary>One open file of stored tensors, whatever its format: a safetensors file (<see cref="SafetensorsFile"/>) or a
/// PyTorch zip checkpoint (<see cref="Pickle.TorchBinFile"/>). The planner and the checks read only
/// <see cref="Tensors"/> (names, dtypes, shapes, from the safetensors header or the .bin's pickle); the read stage reads
/// a tensor's bytes, always contiguous, row-major and little-endian, with positional reads (thread-safe).</summary>
public interface ITensorFile : IDisposable
{
    /// <summary>The file's path (what errors name).</summary>
    string Path { get; }

    /// <summary>The tensors in file order (safetensors: header order; .bin: pickle order).</summary>
    IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>String metadata (safetensors <c>__metadata__</c>; a .bin has none).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Sum of the tensors' byte sizes as read (contiguous).</summary>
    long DataLength { get; }

    TensorInfo? Find(string name);

    /// <summary>Reads the whole tensor into <paramref name="destination"/> (exactly <see cref="TensorInfo.ByteLength"/> bytes).</summary>
    void ReadTensor(TensorInfo tensor, Span<byte> destination);

    /// <summary>Reads bytes [offsetInTensor, offsetInTensor + destination.Length) of the contiguous tensor.</summary>
    void ReadTensorRange(TensorInfo tensor, long offsetInTensor, Span<byte> destination);

    ValueTask ReadTensorAsync(TensorInfo tensor, Memory<byte> destination, CancellationToken ct = default);

    ValueTask ReadTensorRangeAsync(TensorInfo tensor, long offsetInTensor, Memory<byte> destination, CancellationToken ct = default);

    /// <summary>Where the tensor's bytes lie in the file, back to back and uncompressed, so that they can be mapped in
    /// place; false when they have to be gathered (a strided view) or decompressed, and then only the read methods give them.</summary>
    bool TryGetFileRange(TensorInfo tensor, out long fileOffset);
}
