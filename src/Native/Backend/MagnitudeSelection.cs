using System.Runtime.InteropServices;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Selection;

namespace DotnetMerge.Cuda.Backend;

/// <summary>A selection request on the device: the <see cref="Count"/> largest |δ| of input <see cref="Model"/>.</summary>
public readonly record struct SelectionQuery(int Model, long Count);

/// <summary>Runs one launch of a select kernel (<see cref="KernelEmitter.EmitMagnitudeSelect"/>) with
/// <paramref name="arguments"/> (the caller of the delegate sets the input pointers and the result buffer) over a result
/// buffer of <paramref name="resultWords"/> dm_u64 words that is zero before the launch, and returns those words.</summary>
public delegate ulong[] SelectPassRunner(KernelArguments arguments, long resultWords);

/// <summary>The host half of the GPU magnitude selection: the CPU's <see cref="RadixSelect"/>, whose passes the select
/// kernel runs (integer histograms, so the same counts). The result is the CPU's <see cref="TopSet"/>: same threshold key,
/// same last tie index.</summary>
public static class MagnitudeSelection
{
    /// <summary>The <see cref="TopSet"/> of each query over a tensor of <paramref name="length"/> elements.</summary>
    public static TopSet[] Select(EmittedKernel kernel, long length, IReadOnlyList<SelectionQuery> queries, SelectPassRunner run)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(run);
        var results = new TopSet[queries.Count];
        var active = new List<SelectionQuery>();
        var positions = new List<int>();
        for (int q = 0; q < queries.Count; q++)
        {
            if (MagnitudeSelect.Trivial(length, queries[q].Count) is { } set) results[q] = set;
            else { active.Add(queries[q]); positions.Add(q); }
        }
        if (active.Count == 0) return results;
        var selected = RadixSelect.Select(active.Select(q => q.Count).ToArray(), new KernelPasses(kernel, run, length, active));
        for (int a = 0; a < active.Count; a++) results[positions[a]] = selected[a];
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

    /// <summary>The radix select's passes as launches of the select kernel, at most as many queries per launch as the
    /// kernel has slots: pass 0 (high-bits histograms, once per input read), pass 1 (low-bits histograms inside each
    /// query's bucket), passes 2 and 3 (the copies of a tied key per tile, then its index inside the tile found).</summary>
    private sealed class KernelPasses(EmittedKernel kernel, SelectPassRunner run, long length, IReadOnlyList<SelectionQuery> queries)
        : IRadixPasses
    {
        private readonly int _capacity = kernel.Parameters["stream"].Count;

        public long[][] HighHistograms(IReadOnlyList<int> which)
        {
            int[] streams = which.Select(q => queries[q].Model).Distinct().ToArray();
            var high = new Dictionary<int, long[]>();
            foreach (int[] batch in streams.Chunk(_capacity))
            {
                ulong[] words = Launch(kernel, run, length, 0, batch.Select(s => (s, 0u, 0L, 0L)).ToArray(), (long)batch.Length * KernelEmitter.SelectBins);
                for (int b = 0; b < batch.Length; b++) high[batch[b]] = Histogram(words, b);
            }
            return [.. which.Select(q => high[queries[q].Model])];
        }

        public long[][] LowHistograms(IReadOnlyList<int> which, IReadOnlyList<uint> prefixes)
        {
            var result = new long[which.Count][];
            for (int from = 0; from < which.Count; from += _capacity)
            {
                int n = Math.Min(_capacity, which.Count - from);
                var entries = Enumerable.Range(from, n).Select(a => (queries[which[a]].Model, prefixes[a], 0L, 0L)).ToArray();
                ulong[] words = Launch(kernel, run, length, 1, entries, (long)n * KernelEmitter.SelectBins);
                for (int e = 0; e < n; e++) result[from + e] = Histogram(words, e);
            }
            return result;
        }

        public long[] TieIndices(IReadOnlyList<TieRequest> requests)
        {
            var result = new long[requests.Count];
            long tiles = (length + KernelEmitter.SelectTile - 1) / KernelEmitter.SelectTile;
            for (int from = 0; from < requests.Count; from += _capacity)
            {
                var batch = requests.Skip(from).Take(_capacity).ToArray();
                var entries = batch.Select(r => (queries[r.Query].Model, r.Key, 0L, 0L)).ToArray();
                ulong[] counts = Launch(kernel, run, length, 2, entries, batch.Length * tiles);
                var locate = new (int, uint, long, long)[batch.Length];
                for (int b = 0; b < batch.Length; b++)
                {
                    var perTile = MemoryMarshal.Cast<ulong, long>(counts.AsSpan((int)(b * tiles), (int)tiles));
                    var (tile, within) = TieScan.ChunkOf(perTile, batch[b].Occurrence);
                    locate[b] = (entries[b].Model, entries[b].Key, tile * KernelEmitter.SelectTile, within);
                }
                ulong[] found = Launch(kernel, run, length, 3, locate, batch.Length);
                for (int b = 0; b < batch.Length; b++)
                {
                    if (found[b] == ulong.MaxValue) throw new InvalidOperationException("the magnitude select's tie index was not found");
                    result[from + b] = (long)found[b];
                }
            }
            return result;
        }

        private static long[] Histogram(ulong[] words, int slot)
            => MemoryMarshal.Cast<ulong, long>(words.AsSpan(slot * KernelEmitter.SelectBins, KernelEmitter.SelectBins)).ToArray();
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
}
