using System.Buffers;
using System.Runtime.InteropServices;

namespace DotnetMerge.Execution;

/// <summary>A 64-byte aligned block of native memory holding one tensor's bytes. Native so that large tensors do not
/// churn the GC's large-object heap, aligned so SIMD loads never split cache lines. On Linux, blocks of 1 MiB and more
/// are mapped directly (<c>mmap</c>, transparent huge pages requested) and unmapped when disposed: the C allocator
/// would keep freed tensor-sized blocks in its per-thread arenas, so the process would grow well past the pipeline's
/// byte budget.</summary>
internal sealed unsafe class NativeBuffer : MemoryManager<byte>
{
    private const long MapThreshold = 1 << 20;
    private void* _pointer;
    private readonly int _length;
    private readonly nuint _mapped;

    public NativeBuffer(long length)
    {
        if (length > Array.MaxLength)
            throw new NotSupportedException($"a single tensor of {length} bytes is larger than the {Array.MaxLength} bytes this version can hold");
        _length = (int)length;
        void* mapped = length >= MapThreshold && OperatingSystem.IsLinux() ? Map((nuint)length) : null;
        if (mapped is not null)
        {
            _pointer = mapped;
            _mapped = (nuint)length;
        }
        else
        {
            _pointer = NativeMemory.AlignedAlloc((nuint)Math.Max(1, _length), 64);
        }
    }

    public long Length => _length;

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_pointer is null, this);
        return new Span<byte>(_pointer, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0) => new((byte*)_pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (_pointer is null) return;
        if (_mapped != 0) Linux.munmap(_pointer, _mapped);
        else NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }

    private static void* Map(nuint length)
    {
        try
        {
            void* p = Linux.mmap(null, length, Linux.ProtRead | Linux.ProtWrite, Linux.MapPrivate | Linux.MapAnonymous, -1, 0);
            if (p == (void*)-1) return null;
            Linux.madvise(p, length, Linux.MadvHugePage); // best effort: fewer page faults when THP is in madvise mode
            return p;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    private static class Linux
    {
        public const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MadvHugePage = 14;

        [DllImport("libc", SetLastError = true)]
        public static extern void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

        [DllImport("libc", SetLastError = true)]
        public static extern int munmap(void* address, nuint length);

        [DllImport("libc", SetLastError = true)]
        public static extern int madvise(void* address, nuint length, int advice);
    }
}
