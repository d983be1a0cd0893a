using System.Buffers;
using System.Runtime.InteropServices;

namespace DotnetMerge.Execution;

/// <summary>A 64-byte aligned block of native memory holding one tensor's bytes. Native so that large tensors do not
/// churn the GC's large-object heap, aligned so SIMD loads never split cache lines.</summary>
internal sealed unsafe class NativeBuffer : MemoryManager<byte>
{
    private void* _pointer;
    private readonly int _length;

    public NativeBuffer(long length)
    {
        if (length > Array.MaxLength)
            throw new NotSupportedException($"a single tensor of {length} bytes is larger than the {Array.MaxLength} bytes this version can hold");
        _length = (int)length;
        _pointer = NativeMemory.AlignedAlloc((nuint)Math.Max(1, _length), 64);
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
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }
}
