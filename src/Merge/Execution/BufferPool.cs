namespace DotnetMerge.Execution;

/// <summary>Keeps freed tensor buffers for reuse by later tensors of the same byte size (a transformer repeats a handful
/// of shapes in every layer), so steady-state merging maps no new memory: no page faults, no kernel zeroing.
/// Idle buffers count against the same <see cref="MemoryBudget"/> as the buffers in flight: before a new buffer is
/// mapped, idle ones are released until idle + held fits the budget's capacity, so the process never holds more
/// than the capacity (plus one oversized job running alone).</summary>
internal sealed class BufferPool : IDisposable
{
    private readonly MemoryBudget _budget;
    private readonly LinkedList<NativeBuffer> _idle = new();
    private readonly object _gate = new();
    private long _idleBytes;

    public BufferPool(MemoryBudget budget) => _budget = budget;

    /// <summary>Bytes of idle buffers kept for reuse.</summary>
    public long IdleBytes { get { lock (_gate) return _idleBytes; } }

    /// <summary>A buffer of exactly <paramref name="length"/> bytes (reused when one is idle); the caller has already
    /// acquired its bytes from the budget.</summary>
    public NativeBuffer Rent(long length)
    {
        var evicted = new List<NativeBuffer>();
        lock (_gate)
        {
            for (var node = _idle.Last; node is not null; node = node.Previous)
            {
                if (node.Value.Length != length) continue;
                _idle.Remove(node);
                _idleBytes -= length;
                return node.Value;
            }
            // Oldest idle buffers go first until the new one fits next to what is held.
            while (_idle.First is { } oldest && _idleBytes + _budget.Held > _budget.Capacity)
            {
                _idle.RemoveFirst();
                _idleBytes -= oldest.Value.Length;
                evicted.Add(oldest.Value);
            }
        }
        foreach (var b in evicted) ((IDisposable)b).Dispose();
        return new NativeBuffer(length);
    }

    /// <summary>Takes back a buffer whose bytes the caller releases from the budget right after.</summary>
    public void Return(NativeBuffer buffer)
    {
        lock (_gate)
        {
            if (_idleBytes + buffer.Length + _budget.Held - buffer.Length <= _budget.Capacity)
            {
                _idle.AddLast(buffer);
                _idleBytes += buffer.Length;
                return;
            }
        }
        ((IDisposable)buffer).Dispose();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var b in _idle) ((IDisposable)b).Dispose();
            _idle.Clear();
            _idleBytes = 0;
        }
    }
}
