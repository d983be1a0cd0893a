namespace DotnetMerge.Execution;

/// <summary>Back-pressure for the pipeline: a count of bytes that tensor buffers may occupy at once. A request larger
/// than the whole budget is granted only when nothing else is held, so one huge tensor still runs, alone.</summary>
public sealed class MemoryBudget
{
    private readonly long _capacity;
    private long _held;
    private long _peak;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _changed = new(0);

    public MemoryBudget(long capacity) => _capacity = Math.Max(1, capacity);

    public long Capacity => _capacity;
    public long Peak { get { lock (_gate) return _peak; } }

    /// <summary>Bytes held now.</summary>
    public long Held { get { lock (_gate) return _held; } }

    public async ValueTask AcquireAsync(long bytes, CancellationToken ct)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_held == 0 || _held + bytes <= _capacity)
                {
                    _held += bytes;
                    _peak = Math.Max(_peak, _held);
                    return;
                }
            }
            await _changed.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    public void Release(long bytes)
    {
        lock (_gate) _held -= bytes;
        _changed.Release();
    }

    /// <summary>Default of a run whose largest job (inputs + output) holds <paramref name="largestJobBytes"/>: room for two
    /// such jobs in flight (one being read while one is computed and written), which is all the three-stage pipeline needs
    /// to keep every stage busy, never more than <see cref="DefaultCapacity()"/> and never less than 64 MiB. Peak memory so
    /// depends on the largest tensor, not on the model size.</summary>
    public static long DefaultCapacityFor(long largestJobBytes)
        => Math.Min(DefaultCapacity(), Math.Max(64L << 20, 2 * largestJobBytes));

    /// <summary>Default: a quarter of the memory available to the process, at least 1 GiB.</summary>
    public static long DefaultCapacity()
    {
        long total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return Math.Max(1L << 30, total / 4);
    }
}
