using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DotnetMerge.Kernels;

/// <summary>Produces elements [start, start + destination.Length) of a float stream (e.g. |x − base| of one model).</summary>
public delegate void FloatSource(long start, Span<float> destination);

/// <summary>Produces elements [start, start + length) of several float streams at once, one per destination buffer.</summary>
public delegate void StreamsSource(long start, int length, float[][] destinations);

/// <summary>The bracket pass of one stream over elements [start, start + length) straight from the stream's stored
/// form (see <see cref="MagnitudeSelect.ScanBracketBf16Delta"/>): the counts above the bracket and at its two ends, and
/// (key &lt;&lt; 32 | index) of the keys inside it appended in index order; the same as scanning the stream's floats.</summary>
public delegate (long Above, long AtHigh, long AtLow) BracketScan(int stream, long start, int length, uint high, uint low, List<ulong> found);

/// <summary>A selection request: the <see cref="Count"/> largest elements of stream <see cref="Stream"/>.</summary>
public readonly record struct SelectQuery(int Stream, long Count);

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
        => SelectTop(length, 1, [new SelectQuery(0, count)], (start, n, destinations) => source(start, destinations[0].AsSpan(0, n)), settings)[0];

    /// <summary>The k-th largest element (k = 1 is the maximum).</summary>
    public static float KthLargest(long length, long k, FloatSource source, ExecutionSettings settings)
    {
        if (k < 1 || k > length) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} is outside [1, {length}]");
        // Always selected explicitly: SelectTop's "all elements" answer for k = length carries no threshold.
        return SelectCore(length, 1, [new SelectQuery(0, k)], (start, n, d) => source(start, d[0].AsSpan(0, n)), settings)[0].Threshold;
    }

    /// <summary>The k-th smallest element (k = 1 is the minimum).</summary>
    public static float KthSmallest(long length, long k, FloatSource source, ExecutionSettings settings)
        => KthLargest(length, length - k + 1, source, settings);

    /// <summary>Several selections over several streams of the same length in the same passes: the source fills
    /// <paramref name="streams"/> buffers per chunk (e.g. |xᵢ − base| of every model, decoding the base once), and
    /// each query picks the <see cref="SelectQuery.Count"/> largest of its stream. Three passes at most, whatever the
    /// number of queries.</summary>
    /// <paramref name="scan"/>, when given, is the bracket pass over the stored form of the same streams (no floats
    /// materialised); the other passes still read <paramref name="source"/>.
    public static TopSet[] SelectTop(long length, int streams, IReadOnlyList<SelectQuery> queries, StreamsSource source, ExecutionSettings settings,
        BracketScan? scan = null)
    {
        var results = new TopSet[queries.Count];
        var active = new List<int>();
        for (int q = 0; q < queries.Count; q++)
        {
            if (Trivial(length, queries[q].Count) is { } set) results[q] = set;
            else active.Add(q);
        }
        if (active.Count == 0) return results;
        var selected = SelectCore(length, streams, active.Select(q => queries[q]).ToArray(), source, settings, scan);
        for (int a = 0; a < active.Count; a++) results[active[a]] = selected[a];
        return results;
    }

    /// <summary>The answer that needs no pass over the data: nothing (count ≤ 0 or an empty stream) or everything
    /// (count ≥ length); null when the elements must be selected. Shared with the CUDA backend's selection.</summary>
    public static TopSet? Trivial(long length, long count)
        => count <= 0 || length <= 0 ? TopSet.None : count >= length ? TopSet.All(length) : null;

    /// <summary>Streams at least this long (and at most 2³² elements: indices are kept as 32 bits) try the one-pass
    /// bracketed selection first (<see cref="Bracketed"/>). Tests lower it on their own thread.</summary>
    internal static long BracketMinLength
    {
        get => t_bracketMinLength > 0 ? t_bracketMinLength : 1 << 18;
        set => t_bracketMinLength = value <= 0 ? 0 : Math.Max(SampleBlocks * SampleBlock, value);
    }

    [ThreadStatic] private static long t_bracketMinLength;

    private static TopSet[] SelectCore(long length, int streams, SelectQuery[] queries, StreamsSource source, ExecutionSettings settings,
        BracketScan? scan = null)
    {
        if (length < BracketMinLength || length > uint.MaxValue) return RadixSelect(length, streams, queries, source, settings);
        var bracketed = Bracketed(length, streams, queries, source, settings, scan);
        var missed = Enumerable.Range(0, queries.Length).Where(i => bracketed[i] is null).ToArray();
        if (missed.Length > 0)
        {
            // The sample misjudged the threshold (or too many values fell inside the bracket): exact radix passes.
            var exact = RadixSelect(length, streams, missed.Select(i => queries[i]).ToArray(), source, settings);
            for (int m = 0; m < missed.Length; m++) bracketed[missed[m]] = exact[m];
        }
        return bracketed.Select(t => t!.Value).ToArray();
    }

    /// <summary>The sample of <see cref="Bracketed"/>: this many evenly spaced runs of <see cref="SampleBlock"/> elements.</summary>
    internal const int SampleBlocks = 2048, SampleBlock = 32;

    /// <summary>One pass instead of two or three: a sample of the stream (2048 evenly spaced runs of 32 elements) predicts
    /// where the k-th largest key lies, and brackets it generously (± 6 standard deviations of the sample rank, plus 32).
    /// The pass then counts, per chunk, the keys above the bracket and the keys equal to either end, and keeps
    /// (key, index) of the keys strictly inside it (a few percent of the stream). The threshold is selected exactly
    /// among those, or is one of the ends (its tie index found by rescanning one chunk). A query whose threshold falls
    /// outside the bracket, or whose bracket holds more than 1/16 of the stream, returns null: the caller runs the
    /// radix passes for it. Same result as <see cref="RadixSelect"/>, exactly.</summary>
    private static TopSet?[] Bracketed(long length, int streams, SelectQuery[] queries, StreamsSource source, ExecutionSettings settings,
        BracketScan? scan)
    {
        int q = queries.Length;
        var (high, low) = SampleBracket(length, streams, queries, source, settings);
        long chunkElements = settings.ChunkElements;
        long chunks = (length + chunkElements - 1) / chunkElements;
        long capacity = Math.Max(1 << 16, length / 16);
        var above = new long[q, chunks];
        var atHigh = new long[q, chunks];
        var atLow = new long[q, chunks];
        var inside = new ulong[q][][];
        var collected = new long[q];
        for (int i = 0; i < q; i++) inside[i] = new ulong[chunks][];
        // One growing list per worker, reused for every chunk: only the per-chunk copies are allocated.
        var foundBy = new List<ulong>[Workers(length, settings)];
        // With a scan of the stored form, the chunks' floats are never materialised (no source pass).
        ForEachChunk(length, scan is null ? streams : 0, settings, source, (worker, chunk, start, values, n) =>
        {
            var found = foundBy[worker] ??= new List<ulong>();
            for (int i = 0; i < q; i++)
            {
                if (Volatile.Read(ref collected[i]) > capacity) continue;
                found.Clear();
                var (a, h, l) = scan is not null
                    ? scan(queries[i].Stream, start, n, high[i], low[i], found)
                    : ScanBracket(values[queries[i].Stream].AsSpan(0, n), start, high[i], low[i], found);
                above[i, chunk] = a;
                atHigh[i, chunk] = h;
                atLow[i, chunk] = l;
                inside[i][chunk] = found.ToArray();
                Interlocked.Add(ref collected[i], found.Count);
            }
        });
        var result = new TopSet?[q];
        // The queries are independent: each resolves on its own worker (the models of a TIES merge side by side).
        ChunkLoop.ForEachChunk(settings, q, 1, (i, _) => result[i] = Resolve((int)i));
        return result;

        TopSet? Resolve(int i)
        {
            if (collected[i] > capacity) return null;
            long k = queries[i].Count, sumAbove = 0, sumHigh = 0, sumLow = 0;
            for (long c = 0; c < chunks; c++) { sumAbove += above[i, c]; sumHigh += atHigh[i, c]; sumLow += atLow[i, c]; }
            bool single = high[i] == low[i]; // both ends on one key: its copies are counted once, as atHigh
            if (single) sumLow = 0;
            long needed = k - sumAbove;
            if (needed <= 0) return null; // the threshold lies above the bracket
            if (needed <= sumHigh) return EndOfBracket(i, high[i], needed, sumHigh, atHigh);
            needed -= sumHigh;
            if (needed <= collected[i]) return Inside(k, inside[i], collected[i], needed);
            needed -= collected[i];
            if (!single && needed <= sumLow) return EndOfBracket(i, low[i], needed, sumLow, atLow);
            return null; // below the bracket
        }

        TopSet EndOfBracket(int i, uint key, long kept, long total, long[,] perChunk)
        {
            if (kept == total) return new TopSet(queries[i].Count, key, long.MaxValue);
            long seen = 0, c = 0;
            while (seen + perChunk[i, c] < kept) seen += perChunk[i, c++];
            long start = c * chunkElements;
            int n = (int)Math.Min(chunkElements, length - start);
            var buffers = new float[streams][];
            for (int s = 0; s < streams; s++) buffers[s] = new float[n];
            source(start, n, buffers);
            var values = buffers[queries[i].Stream];
            for (int j = 0; j < n; j++)
                if (SortKey(values[j]) == key && ++seen == kept) return new TopSet(queries[i].Count, key, start + j);
            throw new InvalidOperationException("the stream changed between selection passes");
        }
    }

    /// <summary>Per query, the bracket (high, low) of keys predicted to hold the k-th largest, from a sample.</summary>
    private static (uint[] High, uint[] Low) SampleBracket(long length, int streams, SelectQuery[] queries, StreamsSource source,
        ExecutionSettings settings)
    {
        int q = queries.Length, m = SampleBlocks * SampleBlock;
        var samples = new uint[q][];
        for (int i = 0; i < q; i++) samples[i] = ArrayPool<uint>.Shared.Rent(m);
        try
        {
            long stride = length / SampleBlocks;
            // Each block lands in its own slots, so the workers' share of blocks does not change the sample. The blocks
            // are far apart: their reads are mostly cache and TLB misses, which overlap across workers.
            ChunkLoop.ForEachChunk(settings, SampleBlocks, SampleBlocks / 16, (first, count) =>
            {
                var buffers = new float[streams][];
                for (int s = 0; s < streams; s++) buffers[s] = new float[SampleBlock];
                for (long b = first; b < first + count; b++)
                {
                    source(b * stride + (stride - SampleBlock) / 2, SampleBlock, buffers);
                    for (int i = 0; i < q; i++)
                        for (int j = 0; j < SampleBlock; j++) samples[i][b * SampleBlock + j] = SortKey(buffers[queries[i].Stream][j]);
                }
            });
            var high = new uint[q];
            var low = new uint[q];
            ChunkLoop.ForEachChunk(settings, q, 1, (query, _) =>
            {
                int i = (int)query;
                var sample = samples[i].AsSpan(0, m);
                double f = (double)queries[i].Count / length, position = f * m;
                double margin = 6 * Math.Sqrt(m * f * (1 - f)) + 32;
                long top = (long)Math.Floor(position - margin), bottom = (long)Math.Ceiling(position + margin);
                // Both ends in the same passes over the sample (they usually share the top buckets).
                Span<uint> ends = stackalloc uint[2];
                if (top >= 0 && bottom < m) RanksDescending(sample, [(int)top, (int)bottom], ends);
                else if (top >= 0) ends[0] = RankDescending(sample, (int)top);
                else if (bottom < m) ends[1] = RankDescending(sample, (int)bottom);
                high[i] = top < 0 ? uint.MaxValue : ends[0];
                low[i] = bottom >= m ? 0u : ends[1];
            });
            return (high, low);
        }
        finally
        {
            foreach (var sample in samples) ArrayPool<uint>.Shared.Return(sample);
        }
    }

    /// <summary>The key at 0-based position <paramref name="rank"/> of <paramref name="keys"/> sorted in descending
    /// order (what a sort would put there); see <see cref="RanksDescending"/>.</summary>
    internal static uint RankDescending(ReadOnlySpan<uint> keys, int rank)
    {
        Span<uint> result = stackalloc uint[1];
        RanksDescending(keys, [rank], result);
        return result[0];
    }

    private static readonly (int Shift, int Bits)[] RankDigits = [(21, 11), (10, 11), (0, 10)];

    /// <summary>The keys at several 0-based positions of <paramref name="keys"/> sorted in descending order, by an MSD
    /// radix select: a histogram of the top 11 bits finds the bucket of each rank, only the keys of those buckets go on
    /// to the next 11 bits, then the last 10. About two passes over the keys instead of a full sort's eight, and ranks
    /// that share a bucket (the two ends of a narrow bracket) share the passes.</summary>
    internal static void RanksDescending(ReadOnlySpan<uint> keys, ReadOnlySpan<int> ranks, Span<uint> results)
    {
        foreach (int rank in ranks)
            if ((uint)rank >= (uint)keys.Length) throw new ArgumentOutOfRangeException(nameof(ranks), $"rank {rank} is outside [0, {keys.Length})");
        var pending = new int[ranks.Length];
        for (int r = 0; r < pending.Length; r++) pending[r] = r;
        SelectRanks(keys, ranks.ToArray(), pending, round: 0, prefix: 0, prefixMask: 0, results);
    }

    /// <summary>One round of <see cref="RanksDescending"/> for the ranks <paramref name="which"/> (their positions
    /// counted within <paramref name="candidates"/>, all of which share the digits above this round).</summary>
    private static void SelectRanks(ReadOnlySpan<uint> candidates, int[] ranks, int[] which, int round, uint prefix, uint prefixMask,
        Span<uint> results)
    {
        var (shift, bits) = RankDigits[round];
        Span<int> digits = stackalloc int[1 << bits];
        digits.Clear();
        uint digitMask = (1u << bits) - 1;
        foreach (uint k in candidates) digits[(int)((k >> shift) & digitMask)]++;
        // Per rank: its digit (from the largest down) and its position among the keys with that digit.
        var digitOf = new int[which.Length];
        var within = new int[which.Length];
        for (int w = 0; w < which.Length; w++)
        {
            int rank = ranks[which[w]], digit = digits.Length - 1;
            while (rank >= digits[digit]) rank -= digits[digit--];
            digitOf[w] = digit;
            within[w] = rank;
        }
        bool last = round == RankDigits.Length - 1;
        for (int w = 0; w < which.Length; w++)
        {
            if (digitOf[w] < 0) continue; // done with an earlier rank of the same bucket
            int digit = digitOf[w];
            uint bucketPrefix = prefix | ((uint)digit << shift), bucketMask = prefixMask | (digitMask << shift);
            var group = new List<int>();
            for (int v = w; v < which.Length; v++)
                if (digitOf[v] == digit)
                {
                    group.Add(which[v]);
                    ranks[which[v]] = within[v];
                    digitOf[v] = -1;
                }
            if (last)
            {
                foreach (int r in group) results[r] = bucketPrefix;
                continue;
            }
            // Only this bucket's keys go on; the rank now counts within them.
            var bucket = ArrayPool<uint>.Shared.Rent(digits[digit]);
            try
            {
                int n = 0;
                foreach (uint k in candidates) if ((k & bucketMask) == bucketPrefix) bucket[n++] = k;
                SelectRanks(bucket.AsSpan(0, n), ranks, [.. group], round + 1, bucketPrefix, bucketMask, results);
            }
            finally
            {
                ArrayPool<uint>.Shared.Return(bucket);
            }
        }
    }

    /// <summary>Counts the keys above <paramref name="high"/>, equal to it and equal to <paramref name="low"/>, and
    /// appends (key &lt;&lt; 32 | index) of the keys strictly between them, in index order.</summary>
    private static (long Above, long AtHigh, long AtLow) ScanBracket(ReadOnlySpan<float> values, long start, uint high, uint low, List<ulong> found)
    {
        unsafe
        {
            fixed (float* v = values) return Scan(new FloatKeys(v, values.Length), start, high, low, found);
        }
    }

    /// <summary>The bracket pass of |x − base| for raw bf16 words (<paramref name="x"/> and <paramref name="b"/> hold
    /// elements [start, start + length)): widened to float32, subtracted, sign cleared, keyed, in registers. Exactly
    /// <see cref="ScanBracket"/> over the floats |x − b| that decoding both and subtracting gives.</summary>
    public static (long Above, long AtHigh, long AtLow) ScanBracketBf16Delta(ReadOnlySpan<ushort> x, ReadOnlySpan<ushort> b, long start,
        uint high, uint low, List<ulong> found)
    {
        if (b.Length != x.Length) throw new ArgumentException("the streams differ in length", nameof(b));
        unsafe
        {
            fixed (ushort* px = x, pb = b) return Scan(new Bf16DeltaKeys(px, pb, x.Length), start, high, low, found);
        }
    }

    /// <summary>The sort keys of a bracket pass's stream, read from its stored form: two vectors a step (elements j..
    /// and j + <see cref="Vector{T}"/>.Count..), or one key.</summary>
    private interface IKeyPairs
    {
        int Length { get; }
        void Keys(int j, out Vector<uint> first, out Vector<uint> second);
        uint Key(int j);
    }

    /// <summary>Keys of float values (<see cref="SortKey"/>).</summary>
    private readonly unsafe struct FloatKeys(float* values, int length) : IKeyPairs
    {
        public int Length => length;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Keys(int j, out Vector<uint> first, out Vector<uint> second)
        {
            first = Key(Unsafe.ReadUnaligned<Vector<uint>>(values + j));
            second = Key(Unsafe.ReadUnaligned<Vector<uint>>(values + j + Vector<uint>.Count));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector<uint> Key(Vector<uint> bits)
        {
            var negative = Vector.AsVectorUInt32(Vector.ShiftRightArithmetic(Vector.AsVectorInt32(bits), 31));
            return bits ^ (negative | new Vector<uint>(0x8000_0000u)); // SortKey
        }

        public uint Key(int j) => SortKey(values[j]);
    }

    /// <summary>Keys of |x − b| for raw bf16 words. |δ| has its sign bit clear, so its sort key is its bits with the top
    /// bit set.</summary>
    private readonly unsafe struct Bf16DeltaKeys(ushort* x, ushort* b, int length) : IKeyPairs
    {
        public int Length => length;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Keys(int j, out Vector<uint> first, out Vector<uint> second)
        {
            Bf16Lanes.AbsDifferenceBits(Unsafe.ReadUnaligned<Vector<ushort>>(x + j), Unsafe.ReadUnaligned<Vector<ushort>>(b + j), out first, out second);
            first |= new Vector<uint>(0x8000_0000u);
            second |= new Vector<uint>(0x8000_0000u);
        }

        public uint Key(int j) => SortKey(Bf16Lanes.AbsDifference(x[j], b[j]));
    }

    /// <summary>The bracket pass over the keys of one chunk. The lane counts are locals (not the fields of a struct the
    /// loop passes by reference, which made every count a load and a store); the rare keys inside the bracket are
    /// appended out of line.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (long Above, long AtHigh, long AtLow) Scan<TKeys>(TKeys keys, long start, uint high, uint low, List<ulong> found)
        where TKeys : struct, IKeyPairs
    {
        int n = keys.Length, j = 0, half = Vector<uint>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<uint> vHigh = new(high), vLow = new(low), above = default, atHigh = default, atLow = default;
            for (; j <= n - 2 * half; j += 2 * half)
            {
                keys.Keys(j, out var first, out var second);
                Count(first, vHigh, vLow, ref above, ref atHigh, ref atLow, start + j, found);
                Count(second, vHigh, vLow, ref above, ref atHigh, ref atLow, start + j + half, found);
            }
            // Per lane at most 2^32 - 1 counts: chunks are shorter than 2^32 elements.
            var totals = (Above: SumLanes(above), AtHigh: SumLanes(atHigh), AtLow: SumLanes(atLow));
            for (; j < n; j++) CountOne(keys.Key(j), high, low, ref totals, start + j, found);
            return totals;
        }
        (long Above, long AtHigh, long AtLow) scalar = (0, 0, 0);
        for (; j < n; j++) CountOne(keys.Key(j), high, low, ref scalar, start + j, found);
        return scalar;
    }

    /// <summary>Counts lanes [index, index + Count) of keys (each count lane-wise: a lane that matches is all ones,
    /// so subtracting adds one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Count(Vector<uint> key, Vector<uint> high, Vector<uint> low, ref Vector<uint> above, ref Vector<uint> atHigh,
        ref Vector<uint> atLow, long index, List<ulong> found)
    {
        if (Vector<uint>.Count == Vector512<uint>.Count && Avx512F.IsSupported)
        {
            // The compares stay in mask registers: each count is one masked add, the bracket test a masked compare.
            above = MaskedLanes.IncrementWhereGreater(above, key, high);
            atHigh = MaskedLanes.IncrementWhereEqual(atHigh, key, high);
            atLow = MaskedLanes.IncrementWhereEqual(atLow, key, low);
            Vector512<uint> k = key.AsVector512(), h = high.AsVector512();
            uint inside = (uint)(Vector512.GreaterThan(k, low.AsVector512()) & Vector512.LessThan(k, h)).ExtractMostSignificantBits();
            if (inside != 0) AppendBetween(key, inside, index, found);
            return;
        }
        var isAbove = Vector.GreaterThan(key, high);
        var isHigh = Vector.Equals(key, high);
        above -= isAbove;
        atHigh -= isHigh;
        atLow -= Vector.Equals(key, low);
        var between = Vector.AndNot(Vector.GreaterThan(key, low), isAbove | isHigh);
        if (between != Vector<uint>.Zero) AppendBetween(key, MatchMask(between), index, found);
    }

    /// <summary>Appends (key &lt;&lt; 32 | index) of the lanes whose bit is set in <paramref name="lanes"/>, in lane order.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AppendBetween(Vector<uint> key, uint lanes, long index, List<ulong> found)
    {
        while (lanes != 0)
        {
            int l = BitOperations.TrailingZeroCount(lanes);
            lanes &= lanes - 1;
            found.Add(((ulong)key[l] << 32) | (uint)(index + l));
        }
    }

    /// <summary>One key, element <paramref name="index"/>: the scalar form of <see cref="Count"/>.</summary>
    private static void CountOne(uint key, uint high, uint low, ref (long Above, long AtHigh, long AtLow) counts, long index, List<ulong> found)
    {
        if (key > high) counts.Above++;
        else if (key == high) counts.AtHigh++;
        if (key == low) counts.AtLow++;
        if (key > low && key < high) found.Add(((ulong)key << 32) | (uint)index);
    }

    private static long SumLanes(Vector<uint> v)
    {
        long sum = 0;
        for (int l = 0; l < Vector<uint>.Count; l++) sum += v[l];
        return sum;
    }

    /// <summary>The top set whose threshold is the <paramref name="needed"/>-th largest of the (key, index) entries
    /// collected inside the bracket (chunks in order, so entries are in index order): a radix select on the keys.</summary>
    private static TopSet Inside(long count, ulong[][] perChunk, long total, long needed)
    {
        var rented = ArrayPool<long>.Shared.Rent(Bins);
        try
        {
            var bins = rented.AsSpan(0, Bins);
            bins.Clear();
            foreach (var chunk in perChunk) foreach (ulong e in chunk) bins[(int)(e >> 48)]++;
            var (highBin, remaining, _) = FromTop(bins, needed);
            bins.Clear();
            foreach (var chunk in perChunk)
                foreach (ulong e in chunk)
                    if ((int)(e >> 48) == highBin) bins[(int)((e >> 32) & 0xFFFF)]++;
            var (lowBin, kept, inBin) = FromTop(bins, remaining);
            return TieIndex(count, perChunk, total, ((uint)highBin << 16) | (uint)lowBin, kept, inBin);
        }
        finally
        {
            ArrayPool<long>.Shared.Return(rented);
        }
    }

    /// <summary>The top set of threshold <paramref name="key"/> keeping the first <paramref name="kept"/> of its
    /// <paramref name="inBin"/> collected copies (in index order).</summary>
    private static TopSet TieIndex(long count, ulong[][] perChunk, long total, uint key, long kept, long inBin)
    {
        if (kept == inBin) return new TopSet(count, key, long.MaxValue);
        long seen = 0;
        foreach (var chunk in perChunk)
            foreach (ulong e in chunk)
                if ((uint)(e >> 32) == key && ++seen == kept) return new TopSet(count, key, (uint)e);
        throw new InvalidOperationException($"the bracket lost an element ({total} collected)");
    }

    /// <summary>The exact selection in two or three passes: high-16-bit histogram, low-16-bit histogram inside the
    /// chosen bucket, and the tie index when needed.</summary>
    private static TopSet[] RadixSelect(long length, int streams, SelectQuery[] queries, StreamsSource source, ExecutionSettings settings)
    {
        int q = queries.Length;
        var high = Histograms(length, streams, settings, source, queries, null);
        var prefixes = new uint[q];
        var remaining = new long[q];
        for (int i = 0; i < q; i++)
        {
            var (bin, needed, _) = FromTop(high[i], queries[i].Count);
            prefixes[i] = (uint)bin << 16;
            remaining[i] = needed;
        }
        var low = Histograms(length, streams, settings, source, queries, prefixes);
        var keys = new uint[q];
        var tiesKept = new long[q];
        var needIndex = new List<int>();
        for (int i = 0; i < q; i++)
        {
            var (bin, kept, total) = FromTop(low[i], remaining[i]);
            keys[i] = prefixes[i] | (uint)bin;
            tiesKept[i] = kept;
            if (kept != total) needIndex.Add(i);
        }
        var lastTie = new long[q];
        Array.Fill(lastTie, long.MaxValue);
        if (needIndex.Count > 0)
        {
            var found = IndexOfOccurrence(length, streams, settings, source,
                needIndex.Select(i => (queries[i].Stream, keys[i], tiesKept[i])).ToArray());
            for (int n = 0; n < needIndex.Count; n++) lastTie[needIndex[n]] = found[n];
        }
        var result = new TopSet[q];
        for (int i = 0; i < q; i++) result[i] = new TopSet(queries[i].Count, keys[i], lastTie[i]);
        return result;
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
    private static (int Bin, long Needed, long InBin) FromTop(ReadOnlySpan<long> histogram, long count)
    {
        long above = 0;
        for (int bin = histogram.Length - 1; bin >= 0; bin--)
        {
            if (above + histogram[bin] >= count) return (bin, count - above, histogram[bin]);
            above += histogram[bin];
        }
        throw new InvalidOperationException("the stream changed between selection passes");
    }

    /// <summary>Per query: a histogram of the high 16 key bits (<paramref name="prefixes"/> null), or of the low 16 bits
    /// among the keys whose high bits equal the query's prefix.</summary>
    private static long[][] Histograms(long length, int streams, ExecutionSettings settings, StreamsSource source, SelectQuery[] queries, uint[]? prefixes)
    {
        int workers = Workers(length, settings);
        var perWorker = new int[workers][][];
        ForEachChunk(length, streams, settings, source, (worker, _, _, values, n) =>
        {
            var histograms = perWorker[worker] ??= NewHistograms(queries.Length);
            for (int i = 0; i < queries.Length; i++)
            {
                var v = values[queries[i].Stream].AsSpan(0, n);
                if (prefixes is null) CountHigh(v, histograms[i]);
                else CountLow(v, prefixes[i], histograms[i]);
            }
        });
        var result = new long[queries.Length][];
        for (int i = 0; i < queries.Length; i++)
        {
            var sum = result[i] = new long[Bins];
            foreach (var w in perWorker)
                if (w is not null)
                    for (int b = 0; b < Bins; b++) sum[b] += w[i][b];
        }
        return result;
    }

    private static int[][] NewHistograms(int count)
    {
        var h = new int[count][];
        for (int i = 0; i < count; i++) h[i] = new int[Bins];
        return h;
    }

    private static void CountHigh(ReadOnlySpan<float> values, int[] histogram)
    {
        foreach (float v in values) histogram[SortKey(v) >> 16]++;
    }

    /// <summary>Counts the low key bits of the values whose high key bits are <paramref name="prefix"/>; whole vectors
    /// without such a value (nearly all of them) are skipped with one compare.</summary>
    private static void CountLow(ReadOnlySpan<float> values, uint prefix, int[] histogram)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var signFlip = new Vector<uint>(0x8000_0000u);
            var want = new Vector<uint>(prefix >> 16);
            var u = MemoryMarshal.Cast<float, uint>(values);
            for (; i <= u.Length - Vector<uint>.Count; i += Vector<uint>.Count)
            {
                var bits = new Vector<uint>(u.Slice(i));
                var negative = Vector.AsVectorUInt32(Vector.ShiftRightArithmetic(Vector.AsVectorInt32(bits), 31));
                var key = bits ^ (negative | signFlip);
                var match = Vector.Equals(Vector.ShiftRightLogical(key, 16), want);
                if (match == Vector<uint>.Zero) continue;
                // bf16 task vectors take few distinct values, so the threshold's bucket can hold a good share of the
                // elements: visit only the matching lanes (bit mask), not all of them.
                uint lanes = MatchMask(match);
                while (lanes != 0)
                {
                    int j = BitOperations.TrailingZeroCount(lanes);
                    lanes &= lanes - 1;
                    histogram[SortKey(values[i + j]) & 0xFFFF]++;
                }
            }
        }
        for (; i < values.Length; i++)
        {
            uint key = SortKey(values[i]);
            if ((key & 0xFFFF_0000u) == prefix) histogram[key & 0xFFFF]++;
        }
    }

    /// <summary>Bit j set when lane j of <paramref name="match"/> is all ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint MatchMask(Vector<uint> match)
    {
        if (Vector<uint>.Count == 8) return Vector256.ExtractMostSignificantBits(match.AsVector256());
        if (Vector<uint>.Count == 16) return (uint)Vector512.ExtractMostSignificantBits(match.AsVector512());
        if (Vector<uint>.Count == 4) return Vector128.ExtractMostSignificantBits(match.AsVector128());
        uint mask = 0;
        for (int j = 0; j < Vector<uint>.Count; j++) if (match[j] != 0) mask |= 1u << j;
        return mask;
    }

    /// <summary>How many of <paramref name="values"/> have sort key <paramref name="key"/>.</summary>
    private static long CountKey(ReadOnlySpan<float> values, uint key)
    {
        // SortKey(v) == key  ⇔  bits(v) == FromSortKey(key) bits: compare raw bits, a lane at a time in vectors.
        uint bits = BitConverter.SingleToUInt32Bits(FromSortKey(key));
        var u = MemoryMarshal.Cast<float, uint>(values);
        long count = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var want = new Vector<uint>(bits);
            var lanes = Vector<int>.Zero;
            for (; i <= u.Length - Vector<uint>.Count; i += Vector<uint>.Count)
                lanes -= Vector.AsVectorInt32(Vector.Equals(new Vector<uint>(u.Slice(i)), want)); // −1 per match
            count = Vector.Sum(lanes);
        }
        for (; i < u.Length; i++) if (u[i] == bits) count++;
        return count;
    }

    /// <summary>Per request: index of the <c>Occurrence</c>-th element (1-based, in index order) of stream <c>Stream</c>
    /// whose key is <c>Key</c>.</summary>
    private static long[] IndexOfOccurrence(long length, int streams, ExecutionSettings settings, StreamsSource source,
        (int Stream, uint Key, long Occurrence)[] requests)
    {
        long chunkElements = settings.ChunkElements;
        long chunks = (length + chunkElements - 1) / chunkElements;
        var perChunk = new long[requests.Length][];
        for (int r = 0; r < requests.Length; r++) perChunk[r] = new long[chunks];
        ForEachChunk(length, streams, settings, source, (_, chunk, _, values, n) =>
        {
            for (int r = 0; r < requests.Length; r++)
            {
                perChunk[r][chunk] = CountKey(values[requests[r].Stream].AsSpan(0, n), requests[r].Key);
            }
        });
        var result = new long[requests.Length];
        var buffers = new float[streams][];
        for (int r = 0; r < requests.Length; r++)
        {
            var (stream, key, occurrence) = requests[r];
            long seen = 0, c = 0;
            for (; c < chunks && seen + perChunk[r][c] < occurrence; c++) seen += perChunk[r][c];
            if (c == chunks) throw new InvalidOperationException("the stream changed between selection passes");
            long start = c * chunkElements;
            int n = (int)Math.Min(chunkElements, length - start);
            for (int s = 0; s < streams; s++) buffers[s] = new float[n];
            source(start, n, buffers);
            result[r] = -1;
            for (int i = 0; i < n; i++)
                if (SortKey(buffers[stream][i]) == key && ++seen == occurrence) { result[r] = start + i; break; }
            if (result[r] < 0) throw new InvalidOperationException("the stream changed between selection passes");
        }
        return result;
    }

    private static int Workers(long length, ExecutionSettings settings)
        => (int)Math.Max(1, Math.Min(settings.Threads, (length + settings.ChunkElements - 1) / settings.ChunkElements));

    private delegate void ChunkBody(int worker, long chunk, long start, float[][] values, int length);

    /// <summary>Runs <paramref name="body"/> on every chunk, in parallel, with a worker id for per-worker state.</summary>
    private static void ForEachChunk(long length, int streams, ExecutionSettings settings, StreamsSource source, ChunkBody body)
    {
        long chunkElements = settings.ChunkElements;
        long chunks = (length + chunkElements - 1) / chunkElements;
        int workers = Workers(length, settings);
        long next = -1;
        void Work(int worker)
        {
            var buffers = new float[streams][];
            for (int s = 0; s < streams; s++) buffers[s] = ArrayPool<float>.Shared.Rent((int)Math.Min(chunkElements, length));
            try
            {
                long c;
                while ((c = Interlocked.Increment(ref next)) < chunks)
                {
                    long start = c * chunkElements;
                    int n = (int)Math.Min(chunkElements, length - start);
                    if (streams > 0) source(start, n, buffers);
                    body(worker, c, start, buffers, n);
                }
            }
            finally
            {
                foreach (var b in buffers) ArrayPool<float>.Shared.Return(b);
            }
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
