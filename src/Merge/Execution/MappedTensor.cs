using System.Buffers;
using System.Runtime.InteropServices;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Execution;

/// <summary>The bytes of one input tensor mapped read-only from its file (Linux): the kernels read the page cache
/// directly, so a merge neither copies the inputs into private buffers (<c>pread</c>) nor makes the kernel zero fresh
/// anonymous pages for them (both a large share of the CPU time of a linear merge).
/// The mapping is prefaulted (<c>MAP_POPULATE</c>) by the reader stage and unmapped when disposed, so resident memory
/// stays bounded by the pipeline's budget as with buffers.</summary>
internal sealed unsafe class MappedTensor : MemoryManager<byte>
{
    private byte* _mapping;
    private readonly nuint _mappedLength;
    private readonly int _offset, _length;

    private MappedTensor(byte* mapping, nuint mappedLength, int offset, int length)
    {
        _mapping = mapping; _mappedLength = mappedLength; _offset = offset; _length = length;
    }

    /// <summary>Maps <paramref name="tensor"/> of <paramref name="file"/>, or returns null where mapping is not possible
    /// (not Linux, a truncated file, an empty or &gt; 2 GiB tensor, a failed call): the caller then reads it instead.</summary>
    public static MappedTensor? TryMap(Models.ITensorFile file, TensorInfo tensor)
    {
        long length = tensor.ByteLength;
        if (!OperatingSystem.IsLinux() || length <= 0 || length > Array.MaxLength || !file.TryGetFileRange(tensor, out long start))
            return null;
        try
        {
            long page = Environment.SystemPageSize;
            long aligned = start / page * page;
            nuint mappedLength = (nuint)(start - aligned + length);
            using var handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (RandomAccess.GetLength(handle) < start + length) return null;
            void* p = Linux.mmap(null, mappedLength, Linux.ProtRead, Linux.MapPrivate | Linux.MapPopulate,
                (int)handle.DangerousGetHandle(), (nint)aligned);
            if (p == (void*)-1) return null;
            return new MappedTensor((byte*)p, mappedLength, (int)(start - aligned), (int)length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    public long Length => _length;

    /// <summary>Read-only in fact: writing through this span faults.</summary>
    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_mapping is null, this);
        return new Span<byte>(_mapping + _offset, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0) => new(_mapping + _offset + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (_mapping is null) return;
        Linux.munmap(_mapping, _mappedLength);
        _mapping = null;
    }

    private static class Linux
    {
        public const int ProtRead = 1, MapPrivate = 2, MapPopulate = 0x8000;

        [DllImport("libc", SetLastError = true)]
        public static extern void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

        [DllImport("libc", SetLastError = true)]
        public static extern int munmap(void* address, nuint length);
    }
}
