using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DotnetMerge.Kernels;

namespace DotnetMerge.Selection;

public static partial class MagnitudeSelect
{
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
        var above = new long[q][];
        var atHigh = new long[q][];
        var atLow = new long[q][];
        var inside = new ulong[q][][];
        var collected = new long[q];
        for (int i = 0; i < q; i++)
        {
            inside[i] = new ulong[chunks][];
            above[i] = new long[chunks];
            atHigh[i] = new long[chunks];
            atLow[i] = new long[chunks];
        }
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
                above[i][chunk] = a;
                atHigh[i][chunk] = h;
                atLow[i][chunk] = l;
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
            for (long c = 0; c < chunks; c++) { sumAbove += above[i][c]; sumHigh += atHigh[i][c]; sumLow += atLow[i][c]; }
            bool single = high[i] == low[i]; // both ends on one key: its copies are counted once, as atHigh
            if (single) sumLow = 0;
            long needed = k - sumAbove;
            if (needed <= 0) return null; // the threshold lies above the bracket
            if (needed <= sumHigh) return EndOfBracket(i, high[i], needed, sumHigh, atHigh[i]);
            needed -= sumHigh;
            if (needed <= collected[i])
                return RadixSelect.Select([needed], new CollectedEntries(inside[i], collected[i]))[0] with { Count = k };
            needed -= collected[i];
            if (!single && needed <= sumLow) return EndOfBracket(i, low[i], needed, sumLow, atLow[i]);
            return null; // below the bracket
        }

        TopSet EndOfBracket(int i, uint key, long kept, long total, long[] perChunk)
        {
            if (kept == total) return new TopSet(queries[i].Count, key, long.MaxValue);
            var (c, within) = TieScan.ChunkOf(perChunk, kept);
            long start = c * chunkElements;
            int n = (int)Math.Min(chunkElements, length - start);
            var buffers = new float[streams][];
            for (int s = 0; s < streams; s++) buffers[s] = new float[n];
            source(start, n, buffers);
            return new TopSet(queries[i].Count, key, start + TieScan.IndexOf(buffers[queries[i].Stream], key, within));
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

    /// <summary>The radix select's passes over the (key &lt;&lt; 32 | index) entries a bracket pass collected (chunks in
    /// order, so the entries are in index order).</summary>
    private sealed class CollectedEntries(ulong[][] perChunk, long total) : IRadixPasses
    {
        public long[][] HighHistograms(IReadOnlyList<int> queries)
        {
            var bins = new long[RadixSelect.Bins];
            foreach (var chunk in perChunk) foreach (ulong e in chunk) bins[(int)(e >> 48)]++;
            return [.. queries.Select(_ => bins)];
        }

        public long[][] LowHistograms(IReadOnlyList<int> queries, IReadOnlyList<uint> prefixes)
            => [.. prefixes.Select(prefix =>
            {
                var bins = new long[RadixSelect.Bins];
                uint high = prefix >> 16;
                foreach (var chunk in perChunk)
                    foreach (ulong e in chunk)
                        if ((uint)(e >> 48) == high) bins[(int)((e >> 32) & 0xFFFF)]++;
                return bins;
            })];

        public long[] TieIndices(IReadOnlyList<TieRequest> requests)
            => [.. requests.Select(r =>
            {
                long seen = 0;
                foreach (var chunk in perChunk)
                    foreach (ulong e in chunk)
                        if ((uint)(e >> 32) == r.Key && ++seen == r.Occurrence) return (long)(uint)e;
                throw new InvalidOperationException($"the bracket lost an element ({total} collected)");
            })];
    }
}
