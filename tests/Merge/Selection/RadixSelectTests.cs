using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Selection;

namespace DotnetMerge.Tests.Selection;

/// <summary>The one radix select over passes a caller supplies (here: plain arrays, counted), and the whole-model trim
/// built on it, against references written here (stable descending sorts of the values).</summary>
public class RadixSelectTests
{
    /// <summary>Passes over in-memory streams, written naively, that count how often each pass runs.</summary>
    private sealed class ArrayPasses(float[][] streams, int[] streamOf) : IRadixPasses
    {
        public int High, Low, Ties;

        public long[][] HighHistograms(IReadOnlyList<int> queries)
        {
            High++;
            return [.. queries.Select(q => Histogram(streams[streamOf[q]], key => (int)(key >> 16), _ => true))];
        }

        public long[][] LowHistograms(IReadOnlyList<int> queries, IReadOnlyList<uint> prefixes)
        {
            Low++;
            return [.. queries.Select((q, i) => Histogram(streams[streamOf[q]], key => (int)(key & 0xFFFF), key => key >> 16 == prefixes[i] >> 16))];
        }

        public long[] TieIndices(IReadOnlyList<TieRequest> requests)
        {
            Ties++;
            return [.. requests.Select(r =>
            {
                var values = streams[streamOf[r.Query]];
                long seen = 0;
                for (int i = 0; i < values.Length; i++)
                    if (MagnitudeSelect.SortKey(values[i]) == r.Key && ++seen == r.Occurrence) return (long)i;
                return -1L;
            })];
        }

        private static long[] Histogram(float[] values, Func<uint, int> bin, Func<uint, bool> counted)
        {
            var h = new long[RadixSelect.Bins];
            foreach (float v in values)
            {
                uint key = MagnitudeSelect.SortKey(v);
                if (counted(key)) h[bin(key)]++;
            }
            return h;
        }
    }

    /// <summary>Indices of the k largest values: larger first, then the lower index (a stable descending sort).</summary>
    private static HashSet<int> FirstK(float[] values, long k)
        => [.. values.Select((v, i) => (v, i)).OrderByDescending(p => (double)p.v).ThenBy(p => p.i).Take((int)k).Select(p => p.i)];

    [Theory]
    [InlineData(3000, 0, 1)]
    [InlineData(3000, 5, 2)]
    [InlineData(40000, 200, 3)]
    public void Select_over_supplied_passes_keeps_the_first_k_of_a_stable_descending_sort(int n, int distinct, int seed)
    {
        var random = new Random(seed);
        float[] Stream() => [.. Enumerable.Range(0, n).Select(_ => distinct > 0 ? random.Next(distinct) * 0.5f - 1 : (float)(random.NextDouble() * 4 - 2))];
        float[][] streams = [Stream(), Stream()];
        long[] counts = [1, n / 3, n / 2 + 1, n - 1, 7];
        int[] streamOf = [0, 1, 0, 1, 1];
        var passes = new ArrayPasses(streams, streamOf);

        TopSet[] sets = RadixSelect.Select(counts, passes);

        for (int q = 0; q < counts.Length; q++)
        {
            var values = streams[streamOf[q]];
            var expected = FirstK(values, counts[q]);
            Assert.Equal(counts[q], sets[q].Count);
            for (int i = 0; i < n; i++) Assert.True(expected.Contains(i) == sets[q].Contains(values[i], i), $"query {q}, element {i}");
        }
        // Two histogram passes for all queries together; one tie pass at most.
        Assert.Equal((1, 1), (passes.High, passes.Low));
        Assert.True(passes.Ties <= 1);
    }

    [Fact]
    public void Select_runs_no_tie_pass_when_every_copy_of_the_threshold_is_kept()
    {
        float[] values = [5, 1, 3, 3, 2, 4];
        var passes = new ArrayPasses([values], [0, 0]);
        TopSet[] sets = RadixSelect.Select([2, 4], passes); // 5, 4 | 5, 4, 3, 3
        Assert.Equal(0, passes.Ties);
        Assert.Equal(new[] { 4f, 3f }, sets.Select(s => s.Threshold));
        Assert.All(sets, s => Assert.Equal(long.MaxValue, s.LastTieIndex));
    }

    [Fact]
    public void Thresholds_give_the_kth_largest_key_without_a_tie_pass()
    {
        float[] values = [2, 7, 7, 7, 1, 9];
        var passes = new ArrayPasses([values], [0, 0, 0]);
        uint[] keys = RadixSelect.Thresholds([1, 3, 6], passes);
        Assert.Equal(new[] { 9f, 7f, 1f }, keys.Select(MagnitudeSelect.FromSortKey));
        Assert.Equal(0, passes.Ties);
    }

    [Fact]
    public void Tie_scan_finds_the_chunk_of_an_occurrence_and_its_index_in_the_chunk()
    {
        Assert.Equal((2L, 1L), TieScan.ChunkOf([2, 0, 3], 3));
        Assert.Equal((0L, 2L), TieScan.ChunkOf([2, 0, 3], 2));
        Assert.Throws<InvalidOperationException>(() => TieScan.ChunkOf([2, 0, 3], 6));
        float[] chunk = [1, 0.5f, 1, -1, 1];
        Assert.Equal(4, TieScan.IndexOf(chunk, MagnitudeSelect.SortKey(1), 3));
        Assert.Equal(3, TieScan.CountKey(chunk, MagnitudeSelect.SortKey(1)));
    }

    private static MergeInput Bf16Input(string model, float[] values, bool isBase)
    {
        var bytes = new byte[Dtype.BF16.ByteCount(values.Length)];
        DtypeConversion.Encode(Dtype.BF16, values, bytes, 0);
        return new MergeInput(model, "t", Dtype.BF16, [values.Length], bytes, isBase, new ParameterBag(new Dictionary<string, object>()));
    }

    [Fact]
    public void Whole_model_trim_threshold_is_the_kth_largest_magnitude_over_all_tensors_of_a_model()
    {
        // Two models, three tensors of different sizes; the chunk size (65536) is crossed by the largest.
        var random = new Random(11);
        int[] sizes = [70_001, 513, 9000];
        float[] Values(int n, double spread) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * spread))];
        var tensors = sizes.Select(n => (Base: Bf16Input("base", Values(n, 0.1), true), X: new[] { Bf16Input("a", Values(n, 0.1), false), Bf16Input("b", Values(n, 0.12), false) })).ToList();
        long[] kept = [ModelScopeTrim.KeptCount(0.3, sizes.Sum()), ModelScopeTrim.KeptCount(0.05, sizes.Sum())];

        float[] thresholds = ModelScopeTrim.Thresholds(kept, visit =>
        {
            foreach (var t in tensors)
                for (int m = 0; m < 2; m++) visit(m, t.X[m], t.Base);
        });

        for (int m = 0; m < 2; m++)
        {
            // Reference: |x − b| of the decoded values in float32 (as the methods compute δ), over every tensor, sorted.
            var all = new List<double>();
            foreach (var t in tensors)
            {
                var x = new float[t.Base.ElementCount];
                var b = new float[t.Base.ElementCount];
                DtypeConversion.Decode(Dtype.BF16, t.X[m].Data.Span, 0, x);
                DtypeConversion.Decode(Dtype.BF16, t.Base.Data.Span, 0, b);
                for (int i = 0; i < x.Length; i++) all.Add(Math.Abs(x[i] - b[i]));
            }
            all.Sort((p, q) => q.CompareTo(p));
            Assert.Equal(all[(int)kept[m] - 1], (double)thresholds[m]);
        }
    }
}
