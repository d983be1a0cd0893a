using System.Runtime.CompilerServices;
using DotnetMerge.Kernels;

namespace DotnetMerge.Selection;

/// <summary>O(n) order statistics over chunked float streams, without sorting and without per-element index arrays,
/// on the order-preserving 32-bit sort keys of the floats. Long streams try one bracketed pass first (Sampling.cs,
/// Bracket.cs); otherwise, or when the sample misjudged, <see cref="RadixSelect"/> runs over the chunk passes of
/// ChunkPasses.cs. Histograms are integer, so the result does not depend on the thread count or chunk size.</summary>
public static partial class MagnitudeSelect
{

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
        if (length < BracketMinLength || length > uint.MaxValue) return RadixOverChunks(length, streams, queries, source, settings);
        var bracketed = Bracketed(length, streams, queries, source, settings, scan);
        var missed = Enumerable.Range(0, queries.Length).Where(i => bracketed[i] is null).ToArray();
        if (missed.Length > 0)
        {
            // The sample misjudged the threshold (or too many values fell inside the bracket): exact radix passes.
            var exact = RadixOverChunks(length, streams, missed.Select(i => queries[i]).ToArray(), source, settings);
            for (int m = 0; m < missed.Length; m++) bracketed[missed[m]] = exact[m];
        }
        return bracketed.Select(t => t!.Value).ToArray();
    }

    /// <summary>The k-th largest |x| of one input tensor.</summary>
    public static float KthLargestMagnitude(MergeInput input, long k, ExecutionSettings settings)
        => KthLargest(input.ElementCount, k, (start, destination) =>
        {
            input.Decode(start, destination);
            foreach (ref float v in destination) v = MathF.Abs(v);
        }, settings);
}
