using DotnetMerge.Kernels;
using DotnetMerge.Selection;

namespace DotnetMerge.Tests.Methods;

public class MagnitudeSelectTests
{
    private static FloatSource From(float[] values) => (start, destination) => values.AsSpan((int)start, destination.Length).CopyTo(destination);

    private static float[] Data(int n, int distinct, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => distinct > 0 ? random.Next(distinct) * 0.25f - 3 : (float)(random.NextDouble() * 2 - 1) * 1e3f).ToArray();
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1000, 0)]
    [InlineData(5000, 7)]
    [InlineData(70000, 0)]
    [InlineData(70000, 50)]
    public void Kth_largest_and_smallest_match_a_sort(int n, int distinct)
    {
        var values = Data(n, distinct, n + distinct);
        var sorted = values.OrderBy(v => v).ToArray();
        var settings = new ExecutionSettings(3, 4096);
        foreach (long k in new long[] { 1, 2, n / 3 + 1, n / 2 + 1, n })
        {
            if (k > n) continue;
            Assert.Equal(sorted[n - k], MagnitudeSelect.KthLargest(n, k, From(values), settings));
            Assert.Equal(sorted[k - 1], MagnitudeSelect.KthSmallest(n, k, From(values), settings));
        }
    }

    [Theory]
    [InlineData(20000, 3, 1, 1024)]
    [InlineData(20000, 3, 4, 65536)]
    [InlineData(9999, 40, 2, 333)]
    [InlineData(9999, 0, 2, 1000)]
    public void Top_set_equals_the_first_k_of_a_stable_descending_sort(int n, int distinct, int threads, int chunk)
    {
        var values = Data(n, distinct, 11);
        var settings = new ExecutionSettings(threads, chunk);
        var order = Enumerable.Range(0, n).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();
        foreach (long k in new long[] { 0, 1, n / 10, n / 2, n - 1, n })
        {
            var expected = new bool[n];
            foreach (int i in order.Take((int)k)) expected[i] = true;
            var set = MagnitudeSelect.SelectTop(n, k, From(values), settings);
            for (int i = 0; i < n; i++)
                if (expected[i] != set.Contains(values[i], i)) Assert.Fail($"k = {k}, element {i}");
        }
    }

    [Theory]
    [InlineData(200_000, 0, 1, 8192)]
    [InlineData(200_000, 3, 2, 65536)]
    [InlineData(150_001, 40, 2, 4096)]
    [InlineData(131_072, 2000, 1, 1 << 20)]
    public void Bracketed_selection_equals_a_stable_descending_sort(int n, int distinct, int threads, int chunk)
    {
        // Long streams take the sampled one-pass bracket; results must be those of the sort, whatever the ties.
        MagnitudeSelect.BracketMinLength = 1;
        try
        {
            var values = Data(n, distinct, n ^ distinct);
            AssertTopSetsMatchSort(values, new ExecutionSettings(threads, chunk), [1, 7, n / 1000, n / 10, n / 3, n / 2, n - n / 20, n - 3, n - 1, n]);
        }
        finally { MagnitudeSelect.BracketMinLength = 0; }
    }

    [Fact]
    public void Bracketed_selection_survives_an_unrepresentative_sample()
    {
        // Every element the sample reads (the middle runs of its evenly spaced strides) is huge; the rest is small.
        // The bracket then misses the threshold and the exact radix passes take over.
        MagnitudeSelect.BracketMinLength = 1;
        try
        {
            const int blocks = MagnitudeSelect.SampleBlocks, run = MagnitudeSelect.SampleBlock;
            int n = blocks * run * 4;
            var values = Data(n, 0, 5).Select(v => v * 1e-3f).ToArray();
            int stride = n / blocks;
            for (int b = 0; b < blocks; b++)
                for (int j = 0; j < run; j++) values[b * stride + (stride - run) / 2 + j] = 1e6f + b;
            AssertTopSetsMatchSort(values, new ExecutionSettings(2, 4096), [10, n / 4, n / 2]);
        }
        finally { MagnitudeSelect.BracketMinLength = 0; }
    }

    [Fact]
    public void Several_queries_over_several_streams_in_one_bracketed_pass()
    {
        MagnitudeSelect.BracketMinLength = 1;
        try
        {
            int n = 100_000;
            var streams = new[] { Data(n, 0, 1), Data(n, 5, 2), Data(n, 300, 3) };
            var queries = new List<SelectQuery> { new(0, n / 2), new(1, n / 3), new(2, 17), new(2, n - 5), new(0, n / 8) };
            var sets = MagnitudeSelect.SelectTop(n, 3, queries,
                (start, length, destinations) => { for (int s = 0; s < 3; s++) streams[s].AsSpan((int)start, length).CopyTo(destinations[s]); },
                new ExecutionSettings(2, 8192));
            for (int q = 0; q < queries.Count; q++)
                AssertSetIsTopK(streams[queries[q].Stream], queries[q].Count, sets[q]);
        }
        finally { MagnitudeSelect.BracketMinLength = 0; }
    }

    [Fact]
    public void Sample_rank_selection_gives_what_a_descending_sort_puts_at_each_rank()
    {
        var random = new Random(3);
        // Uniform keys, heavy duplicates sharing their top bits (like bf16 |delta| keys), and the extremes.
        var keys = Enumerable.Range(0, 65536).Select(_ => (uint)random.NextInt64(0, 1L << 32))
            .Concat(Enumerable.Range(0, 5000).Select(_ => 0xBC00_0000u + (uint)random.Next(0, 3) * 0x10000))
            .Concat([0u, uint.MaxValue, 7u, 7u]).ToArray();
        var sorted = keys.OrderByDescending(k => k).ToArray();
        foreach (int rank in new[] { 0, 1, 2, 100, 4999, 5000, 30000, 65535, keys.Length - 2, keys.Length - 1 }
            .Concat(Enumerable.Range(0, 200).Select(_ => random.Next(keys.Length))))
            Assert.Equal(sorted[rank], MagnitudeSelect.RankDescending(keys, rank));
        Assert.Equal(5u, MagnitudeSelect.RankDescending([5u], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MagnitudeSelect.RankDescending(keys, keys.Length));

        // Several ranks in shared passes: neighbours (one bucket), far apart (different buckets), repeated, unordered.
        int[][] rankSets = [[30000, 30500], [0, keys.Length - 1], [4999, 5000, 5001, 65535], [7, 7], [65535, 12, 40000, 2]];
        foreach (var ranks in rankSets.Concat(Enumerable.Range(0, 50).Select(_ => new[] { random.Next(keys.Length), random.Next(keys.Length), random.Next(keys.Length) })))
        {
            var results = new uint[ranks.Length];
            MagnitudeSelect.RanksDescending(keys, ranks, results);
            Assert.Equal(ranks.Select(r => sorted[r]), results);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => MagnitudeSelect.RanksDescending(keys, [0, -1], new uint[2]));
    }

    [Fact]
    public void Bracketed_selection_with_the_bf16_scan_gives_the_top_sets_of_the_decoded_magnitudes()
    {
        // The bracket pass reads the raw words; the sample and any fallback read the floats. Both must agree.
        MagnitudeSelect.BracketMinLength = 1;
        try
        {
            int n = 150_001;
            var random = new Random(8);
            var b = Enumerable.Range(0, n).Select(_ => (ushort)(0x3C00 + random.Next(0, 200))).ToArray();
            var tasks = new[] { 60, 3 }.Select(spread => b.Select(w => (ushort)(w + random.Next(-spread, spread + 1))).ToArray()).ToArray();
            static float Decode(ushort w) => BitConverter.UInt32BitsToSingle((uint)w << 16);
            var streams = tasks.Select(x => x.Select((w, j) => MathF.Abs(Decode(w) - Decode(b[j]))).ToArray()).ToArray();
            var queries = new List<SelectQuery> { new(0, n / 2), new(1, n / 3), new(0, 5), new(1, n - 9) };
            var sets = MagnitudeSelect.SelectTop(n, 2, queries,
                (start, length, destinations) => { for (int s = 0; s < 2; s++) streams[s].AsSpan((int)start, length).CopyTo(destinations[s]); },
                new ExecutionSettings(2, 8192),
                (stream, start, length, high, low, found) => MagnitudeSelect.ScanBracketBf16Delta(
                    tasks[stream].AsSpan((int)start, length), b.AsSpan((int)start, length), start, high, low, found));
            for (int q = 0; q < queries.Count; q++)
                AssertSetIsTopK(streams[queries[q].Stream], queries[q].Count, sets[q]);
        }
        finally { MagnitudeSelect.BracketMinLength = 0; }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    [InlineData(4096)]
    [InlineData(4096 + 45)]
    public void Bf16_delta_bracket_scan_matches_a_scalar_scan_of_the_decoded_magnitudes(int length)
    {
        var random = new Random(length + 11);
        // Nearby values (many equal |delta|), plus specials: ±0, ±inf, NaN payloads, subnormals.
        ushort[] specials = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC1, 0xFFC0, 0x0001, 0x8003];
        ushort Word() => random.Next(10) == 0 ? specials[random.Next(specials.Length)] : (ushort)(0x3F80 + random.Next(-40, 40));
        var x = Enumerable.Range(0, length).Select(_ => Word()).ToArray();
        var b = Enumerable.Range(0, length).Select(_ => Word()).ToArray();
        // Independent reference: decode by shifting into the top of a float32, |x - b| in float32, order-preserving key.
        static uint Key(float v)
        {
            uint bits = BitConverter.SingleToUInt32Bits(v);
            return (bits >> 31) != 0 ? ~bits : bits | 0x8000_0000u;
        }
        static float Decode(ushort w) => BitConverter.UInt32BitsToSingle((uint)w << 16);
        var keys = Enumerable.Range(0, length).Select(j => Key(MathF.Abs(Decode(x[j]) - Decode(b[j])))).ToArray();
        const long start = 1_000_000;
        var brackets = new List<(uint High, uint Low)> { (uint.MaxValue, 0), (0, 0) };
        if (length > 0)
        {
            var sorted = keys.Distinct().OrderBy(k => k).ToArray();
            brackets.Add((sorted[^1], sorted[0]));
            brackets.Add((sorted[sorted.Length * 2 / 3], sorted[sorted.Length / 3]));
            brackets.Add((sorted[sorted.Length / 2], sorted[sorted.Length / 2]));
        }
        foreach (var (high, low) in brackets)
        {
            var found = new List<ulong>();
            var (above, atHigh, atLow) = MagnitudeSelect.ScanBracketBf16Delta(x, b, start, high, low, found);
            Assert.Equal(keys.LongCount(k => k > high), above);
            Assert.Equal(keys.LongCount(k => k == high), atHigh);
            Assert.Equal(keys.LongCount(k => k == low), atLow);
            var expected = keys.Select((k, j) => (k, j)).Where(e => e.k > low && e.k < high)
                .Select(e => ((ulong)e.k << 32) | (uint)(start + e.j)).ToArray();
            Assert.Equal(expected, found);
        }
    }

    private static void AssertTopSetsMatchSort(float[] values, ExecutionSettings settings, long[] ks)
    {
        foreach (long k in ks)
            AssertSetIsTopK(values, k, MagnitudeSelect.SelectTop(values.Length, k, From(values), settings));
    }

    private static void AssertSetIsTopK(float[] values, long k, TopSet set)
    {
        int n = values.Length;
        var order = Enumerable.Range(0, n).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();
        var expected = new bool[n];
        foreach (int i in order.Take((int)k)) expected[i] = true;
        for (int i = 0; i < n; i++)
            if (expected[i] != set.Contains(values[i], i)) Assert.Fail($"k = {k}, element {i} ({values[i]})");
    }

    [Fact]
    public void Magnitudes_of_an_input_tensor()
    {
        var values = new double[] { 0.5, -4, 2, -2, 3, 1 };
        var c = Reference.GtaFixture.Build([6], global::DotnetMerge.Numerics.Dtype.F32, [values], -1, new Dictionary<string, object>(), [new Dictionary<string, object>()]);
        Assert.Equal(4f, MagnitudeSelect.KthLargestMagnitude(c.Context.Inputs[0], 1, c.Context.Settings));
        Assert.Equal(2f, MagnitudeSelect.KthLargestMagnitude(c.Context.Inputs[0], 4, c.Context.Settings));
        Assert.Equal(0.5f, MagnitudeSelect.KthLargestMagnitude(c.Context.Inputs[0], 6, c.Context.Settings));
    }
}
