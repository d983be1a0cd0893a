using System.Buffers;
using System.Runtime.CompilerServices;

namespace DotnetMerge.Kernels;

/// <summary>Produces elements [start, start + destination.Length) of a float stream (e.g. |x − base| of one model).</summary>
public delegate void FloatSource(long start, Span<float> destination);

/// <summary>The <see cref="Count"/> largest elements of a float stream under a strict total order:
/// larger value first and, among equal values, the lower element index first (what a stable descending sort gives).
/// Membership is "value above the threshold, or equal to it with an index up to <see cref="LastTieIndex"/>".</summary>
public readonly record struct TopSet(long Count, uint ThresholdKey, long LastTieIndex)
{
    /// <summary>No element.</summary>
    public static TopSet None { get; } = new(0, uint.MaxValue, -1);

    /// <summary>Every element of a stream of <paramref name="length"/> elements.</summary>
    public static TopSet All(long length) => new(length, 0, long.MaxValue);

    /// <summary>The smallest value in the set (the k-th largest of the stream).</summary>
    public float Threshold => MagnitudeSelect.FromSortKey(ThresholdKey);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Contains(float value, long index)
    {
        uint key = MagnitudeSelect.SortKey(value);
        return key > ThresholdKey || (key == ThresholdKey && index <= LastTieIndex);
    }
}

/// <summary>O(n) order statistics over chunked float streams, without sorting and without per-element index arrays:
/// a radix select on the order-preserving 32-bit keys of the floats (a histogram pass on the high 16 bits, one on
/// the low 16 bits inside the selected bucket), plus, only when the k-th value is duplicated and not all of its
/// copies fit, a counting pass that finds the index of the last copy kept. Histograms are integer, so the result
/// does not depend on the thread count or chunk size.</summary>
public static class MagnitudeSelect
{
    private const int Bins = 1 << 16;

    /// <summary>Maps a float to an unsigned key with the same order (−NaN &lt; −∞ &lt; … &lt; −0 &lt; +0 &lt; … &lt; +∞ &lt; +NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint SortKey(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }

    public static float FromSortKey(uint key)
        => BitConverter.UInt32BitsToSingle((key & 0x8000_0000u) != 0 ? key & 0x7FFF_FFFFu : ~key);

    /// <summary>The <paramref name="count"/> largest elements of a stream of <paramref name="length"/> elements.</summary>
    public static TopSet SelectTop(long length, long count, FloatSource source, ExecutionSettings settings)
    {
        if (count <= 0 || length <= 0) return TopSet.None;
        return count >= length ? TopSet.All(length) : Select(length, count, source, settings);
    }

    /// <summary>The k-th largest element (k = 1 is the maximum).</summary>
    public static float KthLargest(long length, long k, FloatSource source, ExecutionSettings settings)
    {
        if (k < 1 || k > length) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} is outside [1, {length}]");
        return Select(length, k, source, settings).Threshold;
    }

    /// <summary>The k-th smallest element (k = 1 is the minimum).</summary>
    public static float KthSmallest(long length, long k, FloatSource source, ExecutionSettings settings)
        => KthLargest(length, length - k + 1, source, settings);

    private static TopSet Select(long length, long count, FloatSource source, ExecutionSettings settings)
    {
        long[] high = Histogram(length, settings, source, 0, 0, 16);
        var (highBin, remaining, _) = FromTop(high, count);
        uint prefix = (uint)highBin << 16;
        long[] low = Histogram(length, settings, source, 0xFFFF_0000u, prefix, 0);
        var (lowBin, tiesKept, tiesTotal) = FromTop(low, remaining);
        uint key = prefix | (uint)lowBin;
        long lastTie = tiesKept == tiesTotal ? long.MaxValue : IndexOfOccurrence(length, settings, source, key, tiesKept);
        return new TopSet(count, key, lastTie);
    }

    /// <summary>The k-th largest |x| of one input tensor.</summary>
    public static float KthLargestMagnitude(MergeInput input, long k, ExecutionSettings settings)
        => KthLargest(input.ElementCount, k, (start, destination) =>
        {
            input.Decode(start, destination);
            foreach (ref float v in destination) v = MathF.Abs(v);
        }, settings);

    /// <summary>Walks the histogram from the top bin down until <paramref name="count"/> elements are covered.
    /// Returns the bin reached, how many of its elements are needed, and how many it holds.</summary>
    private static (int Bin, long Needed, long InBin) FromTop(long[] histogram, long count)
    {
        long above = 0;
        for (int bin = histogram.Length - 1; bin >= 0; bin--)
        {
            if (above + histogram[bin] >= count) return (bin, count - above, histogram[bin]);
            above += histogram[bin];
        }
        throw new InvalidOperationException("the stream changed between selection passes");
    }

    private static long[] Histogram(long length, ExecutionSettings settings, FloatSource source, uint matchMask, uint match, int shift)
    {
        int workers = Workers(length, settings);
        var perWorker = new long[workers][];
        for (int w = 0; w < workers; w++) perWorker[w] = new long[Bins];
        ForEachChunk(length, settings, source, (worker, _, _, values) =>
        {
            var histogram = perWorker[worker];
            foreach (float v in values)
            {
                uint key = SortKey(v);
                if ((key & matchMask) == match) histogram[(key >> shift) & 0xFFFF]++;
            }
        });
        for (int w = 1; w < workers; w++)
            for (int b = 0; b < Bins; b++) perWorker[0][b] += perWorker[w][b];
        return perWorker[0];
    }

    /// <summary>Index of the <paramref name="occurrence"/>-th element (1-based, in index order) whose key is <paramref name="key"/>.</summary>
    private static long IndexOfOccurrence(long length, ExecutionSettings settings, FloatSource source, uint key, long occurrence)
    {
        long chunkElements = settings.ChunkElements;
        long chunks = (length + chunkElements - 1) / chunkElements;
        var perChunk = new long[chunks];
        ForEachChunk(length, settings, source, (_, chunk, _, values) =>
        {
            long n = 0;
            foreach (float v in values) if (SortKey(v) == key) n++;
            perChunk[chunk] = n;
        });
        long seen = 0;
        for (long c = 0; c < chunks; c++)
        {
            if (seen + perChunk[c] < occurrence) { seen += perChunk[c]; continue; }
            long start = c * chunkElements;
            var buffer = new float[(int)Math.Min(chunkElements, length - start)];
            source(start, buffer);
            for (int i = 0; i < buffer.Length; i++)
                if (SortKey(buffer[i]) == key && ++seen == occurrence) return start + i;
        }
        throw new InvalidOperationException("the stream changed between selection passes");
    }

    private static int Workers(long length, ExecutionSettings settings)
        => (int)Math.Max(1, Math.Min(settings.Threads, (length + settings.ChunkElements - 1) / settings.ChunkElements));

    private delegate void ChunkBody(int worker, long chunk, long start, ReadOnlySpan<float> values);

    /// <summary>Runs <paramref name="body"/> on every chunk, in parallel, with a worker id for per-worker state.</summary>
    private static void ForEachChunk(long length, ExecutionSettings settings, FloatSource source, ChunkBody body)
    {
        long chunkElements = settings.ChunkElements;
        long chunks = (length + chunkElements - 1) / chunkElements;
        int workers = Workers(length, settings);
        long next = -1;
        void Work(int worker)
        {
            var buffer = ArrayPool<float>.Shared.Rent((int)Math.Min(chunkElements, length));
            try
            {
                long c;
                while ((c = Interlocked.Increment(ref next)) < chunks)
                {
                    long start = c * chunkElements;
                    var values = buffer.AsSpan(0, (int)Math.Min(chunkElements, length - start));
                    source(start, values);
                    body(worker, c, start, values);
                }
            }
            finally { ArrayPool<float>.Shared.Return(buffer); }
        }
        if (workers == 1) { Work(0); return; }
        var tasks = new Task[workers];
        for (int w = 0; w < workers; w++)
        {
            int worker = w;
            tasks[w] = Task.Factory.StartNew(() => Work(worker), CancellationToken.None,
                TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        }
        Task.WaitAll(tasks);
    }
}
