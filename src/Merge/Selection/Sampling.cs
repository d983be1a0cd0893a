using System.Buffers;
using DotnetMerge.Kernels;

namespace DotnetMerge.Selection;

public static partial class MagnitudeSelect
{
    /// <summary>The sample of <see cref="Bracketed"/>: this many evenly spaced runs of <see cref="SampleBlock"/> elements.</summary>
    internal const int SampleBlocks = 2048, SampleBlock = 32;

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
}
