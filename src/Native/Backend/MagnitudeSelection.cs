using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;

namespace DotnetMerge.Cuda.Backend;

/// <summary>A selection request on the device: the <see cref="Count"/> largest |δ| of input <see cref="Model"/>.</summary>
public readonly record struct SelectionQuery(int Model, long Count);

/// <summary>Runs one launch of a select kernel (<see cref="KernelEmitter.EmitMagnitudeSelect"/>) with
/// <paramref name="arguments"/> (the caller of the delegate sets the input pointers and the result buffer) over a result
/// buffer of <paramref name="resultWords"/> dm_u64 words that is zero before the launch, and returns those words.</summary>
public delegate ulong[] SelectPassRunner(KernelArguments arguments, long resultWords);

/// <summary>The host half of the GPU magnitude selection: the same radix select as the CPU's MagnitudeSelect.SelectTop,
/// whose passes the select kernel runs (integer histograms, so the same counts), with the bucket walks done here. The
/// result is the CPU's <see cref="TopSet"/>: same threshold key, same last tie index.</summary>
public static class MagnitudeSelection
{
    /// <summary>The <see cref="TopSet"/> of each query over a tensor of <paramref name="length"/> elements.</summary>
    public static TopSet[] Select(EmittedKernel kernel, long length, IReadOnlyList<SelectionQuery> queries, SelectPassRunner run)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(run);
        var results = new TopSet[queries.Count];
        var active = new List<int>();
        for (int q = 0; q < queries.Count; q++)
        {
            if (MagnitudeSelect.Trivial(length, queries[q].Count) is { } set) results[q] = set;
            else active.Add(q);
        }
        if (active.Count == 0) return results;
        int capacity = kernel.Parameters["stream"].Count;

        // Pass 0: the high-bits histogram of each stream that an active query reads.
        int[] streams = active.Select(q => queries[q].Model).Distinct().ToArray();
        var high = new Dictionary<int, ulong[]>();
        foreach (int[] batch in streams.Chunk(capacity))
        {
            ulong[] words = Launch(kernel, run, length, 0, batch.Select(s => (s, 0u, 0L, 0L)).ToArray(), (long)batch.Length * KernelEmitter.SelectBins);
            for (int b = 0; b < batch.Length; b++) high[batch[b]] = words[(b * KernelEmitter.SelectBins)..((b + 1) * KernelEmitter.SelectBins)];
        }
        var prefixes = new uint[active.Count];
        var remaining = new long[active.Count];
        for (int a = 0; a < active.Count; a++)
        {
            SelectionQuery query = queries[active[a]];
            (int bin, long needed, _) = FromTop(high[query.Model], query.Count);
            prefixes[a] = (uint)bin << 16;
            remaining[a] = needed;
        }

        // Pass 1: the low-bits histogram inside each query's bucket.
        var keys = new uint[active.Count];
        var tiesKept = new long[active.Count];
        var needIndex = new List<int>();
        for (int from = 0; from < active.Count; from += capacity)
        {
            int n = Math.Min(capacity, active.Count - from);
            var entries = Enumerable.Range(from, n).Select(a => (queries[active[a]].Model, prefixes[a], 0L, 0L)).ToArray();
            ulong[] words = Launch(kernel, run, length, 1, entries, (long)n * KernelEmitter.SelectBins);
            for (int e = 0; e < n; e++)
            {
                int a = from + e;
                (int bin, long kept, long total) = FromTop(words.AsSpan(e * KernelEmitter.SelectBins, KernelEmitter.SelectBins), remaining[a]);
                keys[a] = prefixes[a] | (uint)bin;
                tiesKept[a] = kept;
                if (kept != total) needIndex.Add(a);
            }
        }

        // Passes 2 and 3, only where the threshold value is duplicated and not every copy is kept: count the copies per
        // tile, find the tile of the last kept copy here, then its index inside the tile.
        var lastTie = new long[active.Count];
        Array.Fill(lastTie, long.MaxValue);
        long tiles = (length + KernelEmitter.SelectTile - 1) / KernelEmitter.SelectTile;
        foreach (int[] batch in needIndex.Chunk(capacity))
        {
            var entries = batch.Select(a => (queries[active[a]].Model, keys[a], 0L, 0L)).ToArray();
            ulong[] counts = Launch(kernel, run, length, 2, entries, batch.Length * tiles);
            var locate = new (int, uint, long, long)[batch.Length];
            for (int b = 0; b < batch.Length; b++)
            {
                long seen = 0, tile = 0, occurrence = tiesKept[batch[b]];
                for (; tile < tiles && seen + (long)counts[b * tiles + tile] < occurrence; tile++) seen += (long)counts[b * tiles + tile];
                if (tile == tiles) throw new InvalidOperationException("the magnitude select's tie counts do not add up");
                locate[b] = (entries[b].Model, entries[b].Item2, tile * KernelEmitter.SelectTile, occurrence - seen);
            }
            ulong[] found = Launch(kernel, run, length, 3, locate, batch.Length);
            for (int b = 0; b < batch.Length; b++)
            {
                if (found[b] == ulong.MaxValue) throw new InvalidOperationException("the magnitude select's tie index was not found");
                lastTie[batch[b]] = (long)found[b];
            }
        }
        for (int a = 0; a < active.Count; a++) results[active[a]] = new TopSet(queries[active[a]].Count, keys[a], lastTie[a]);
        return results;
    }

    /// <summary>How many keys of input <paramref name="stream"/> equal <paramref name="key"/>: pass 1's histogram inside the
    /// key's high 16 bits, read at its low 16 bits.</summary>
    public static long CountEqual(EmittedKernel kernel, long length, int stream, uint key, SelectPassRunner run)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(run);
        return (long)Launch(kernel, run, length, 1, [(stream, key, 0L, 0L)], KernelEmitter.SelectBins)[key & 0xffffu];
    }

    private static ulong[] Launch(EmittedKernel kernel, SelectPassRunner run, long length, uint pass,
        (int Stream, uint Key, long Start, long Occurrence)[] entries, long resultWords)
    {
        KernelArguments arguments = kernel.CreateArguments()
            .Set("count", (ulong)length).Set("pass", pass).Set("queries", (uint)entries.Length);
        for (int q = 0; q < entries.Length; q++)
        {
            arguments.Set("stream", q, (uint)entries[q].Stream).Set("key", q, entries[q].Key)
                .Set("start", q, (ulong)entries[q].Start).Set("occurrence", q, (ulong)entries[q].Occurrence);
        }
        ulong[] words = run(arguments, resultWords);
        if (words.LongLength != resultWords) throw new InvalidOperationException($"select pass {pass} returned {words.LongLength} words, not {resultWords}");
        return words;
    }

    /// <summary>Walks a histogram from the top bin down until <paramref name="count"/> elements are covered: the bin
    /// reached, how many of its elements are needed, and how many it holds (MagnitudeSelect's walk).</summary>
    private static (int Bin, long Needed, long InBin) FromTop(ReadOnlySpan<ulong> histogram, long count)
    {
        long above = 0;
        for (int bin = histogram.Length - 1; bin >= 0; bin--)
        {
            long inBin = (long)histogram[bin];
            if (above + inBin >= count) return (bin, count - above, inBin);
            above += inBin;
        }
        throw new InvalidOperationException("the magnitude select's histogram holds fewer elements than the tensor");
    }
}
