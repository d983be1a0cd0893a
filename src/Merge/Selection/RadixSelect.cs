namespace DotnetMerge.Selection;

/// <summary>A tie request of a radix select: the index of the <see cref="Occurrence"/>-th element (1-based, in index
/// order) of query <see cref="Query"/>'s stream whose sort key is <see cref="Key"/>.</summary>
public readonly record struct TieRequest(int Query, uint Key, long Occurrence);

/// <summary>The data side of <see cref="RadixSelect"/>: the passes over the streams of its queries, which each caller
/// supplies in its own way (float chunks on the CPU, a kernel launch on the GPU, every tensor of a model for the
/// whole-model trim, the entries a bracket pass collected). Queries are named by their position in the caller's list.
/// Each histogram has <see cref="RadixSelect.Bins"/> integer counts, so the walk's answer does not depend on how the
/// pass splits its work.</summary>
public interface IRadixPasses
{
    /// <summary>Per query of <paramref name="queries"/>: the histogram of the high 16 bits of its stream's sort keys.</summary>
    long[][] HighHistograms(IReadOnlyList<int> queries);

    /// <summary>Per query of <paramref name="queries"/>: the histogram of the low 16 bits of the sort keys whose high 16
    /// bits are those of <paramref name="prefixes"/>[i] (the prefix has its low 16 bits clear).</summary>
    long[][] LowHistograms(IReadOnlyList<int> queries, IReadOnlyList<uint> prefixes);

    /// <summary>Per request: the element index it names (see <see cref="TieRequest"/>).</summary>
    long[] TieIndices(IReadOnlyList<TieRequest> requests);
}

/// <summary>The one radix select: the <c>count</c> largest elements of each query's stream, under the order of
/// <see cref="TopSet"/> (larger sort key first, then the lower index). A histogram pass on the high 16 key bits picks
/// the bucket of the count-th largest key, one on the low 16 bits inside that bucket picks the key, and, only where
/// that key is duplicated and not all of its copies are kept, a tie pass finds the index of the last copy kept. The
/// bucket walks are here; the passes are the caller's (<see cref="IRadixPasses"/>).</summary>
public static class RadixSelect
{
    /// <summary>Bins of each histogram: one per value of 16 key bits.</summary>
    public const int Bins = 1 << 16;

    /// <summary>The top sets of queries of <paramref name="counts"/>[q] elements (each at least 1 and at most its
    /// stream's length: the trivial answers are the caller's, <see cref="MagnitudeSelect.Trivial"/>).</summary>
    public static TopSet[] Select(IReadOnlyList<long> counts, IRadixPasses passes)
    {
        var (keys, kept, inBin) = ThresholdKeys(counts, passes);
        var needIndex = new List<int>();
        for (int q = 0; q < counts.Count; q++) if (kept[q] != inBin[q]) needIndex.Add(q);
        var lastTie = new long[counts.Count];
        Array.Fill(lastTie, long.MaxValue);
        if (needIndex.Count > 0)
        {
            var found = passes.TieIndices(needIndex.Select(q => new TieRequest(q, keys[q], kept[q])).ToArray());
            for (int n = 0; n < needIndex.Count; n++) lastTie[needIndex[n]] = found[n];
        }
        var result = new TopSet[counts.Count];
        for (int q = 0; q < counts.Count; q++) result[q] = new TopSet(counts[q], keys[q], lastTie[q]);
        return result;
    }

    /// <summary>Per query, the sort key of the count-th largest element (two passes, no tie pass): what a selection that
    /// keeps every copy of its threshold needs.</summary>
    public static uint[] Thresholds(IReadOnlyList<long> counts, IRadixPasses passes) => ThresholdKeys(counts, passes).Keys;

    private static (uint[] Keys, long[] Kept, long[] InBin) ThresholdKeys(IReadOnlyList<long> counts, IRadixPasses passes)
    {
        int q = counts.Count;
        var all = Enumerable.Range(0, q).ToArray();
        var high = passes.HighHistograms(all);
        var prefixes = new uint[q];
        var remaining = new long[q];
        for (int i = 0; i < q; i++)
        {
            var (bin, needed, _) = FromTop(high[i], counts[i]);
            prefixes[i] = (uint)bin << 16;
            remaining[i] = needed;
        }
        var low = passes.LowHistograms(all, prefixes);
        var keys = new uint[q];
        var kept = new long[q];
        var inBin = new long[q];
        for (int i = 0; i < q; i++)
        {
            var (bin, k, total) = FromTop(low[i], remaining[i]);
            keys[i] = prefixes[i] | (uint)bin;
            kept[i] = k;
            inBin[i] = total;
        }
        return (keys, kept, inBin);
    }

    /// <summary>Walks a histogram from the top bin down until <paramref name="count"/> elements are covered: the bin
    /// reached, how many of its elements are needed, and how many it holds.</summary>
    public static (int Bin, long Needed, long InBin) FromTop(ReadOnlySpan<long> histogram, long count)
    {
        long above = 0;
        for (int bin = histogram.Length - 1; bin >= 0; bin--)
        {
            if (above + histogram[bin] >= count) return (bin, count - above, histogram[bin]);
            above += histogram[bin];
        }
        throw new InvalidOperationException("the stream changed between selection passes (its histogram holds fewer elements than selected)");
    }
}
