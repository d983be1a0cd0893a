using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DotnetMerge.Kernels;

namespace DotnetMerge.Selection;

public static partial class MagnitudeSelect
{
    /// <summary>The exact selection in two or three passes over the streams' chunks (<see cref="RadixSelect"/>).</summary>
    private static TopSet[] RadixOverChunks(long length, int streams, SelectQuery[] queries, StreamsSource source, ExecutionSettings settings)
        => RadixSelect.Select(queries.Select(q => q.Count).ToArray(), new ChunkStreamPasses(length, streams, queries, source, settings));

    /// <summary>The radix select's passes over chunked float streams: every chunk of every stream that a query reads
    /// is decoded once per pass (in parallel, per-worker histograms summed after).</summary>
    private sealed class ChunkStreamPasses(long length, int streams, SelectQuery[] queries, StreamsSource source, ExecutionSettings settings)
        : IRadixPasses
    {
        public long[][] HighHistograms(IReadOnlyList<int> which)
            => Histograms(length, streams, settings, source, which.Select(q => queries[q]).ToArray(), null);

        public long[][] LowHistograms(IReadOnlyList<int> which, IReadOnlyList<uint> prefixes)
            => Histograms(length, streams, settings, source, which.Select(q => queries[q]).ToArray(), [.. prefixes]);

        public long[] TieIndices(IReadOnlyList<TieRequest> requests)
            => IndexOfOccurrence(length, streams, settings, source,
                requests.Select(r => (queries[r.Query].Stream, r.Key, r.Occurrence)).ToArray());
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
            var sum = result[i] = new long[RadixSelect.Bins];
            foreach (var w in perWorker)
                if (w is not null)
                    for (int b = 0; b < RadixSelect.Bins; b++) sum[b] += w[i][b];
        }
        return result;
    }

    private static int[][] NewHistograms(int count)
    {
        var h = new int[count][];
        for (int i = 0; i < count; i++) h[i] = new int[RadixSelect.Bins];
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
                perChunk[r][chunk] = TieScan.CountKey(values[requests[r].Stream].AsSpan(0, n), requests[r].Key);
            }
        });
        var result = new long[requests.Length];
        var buffers = new float[streams][];
        for (int r = 0; r < requests.Length; r++)
        {
            var (stream, key, occurrence) = requests[r];
            var (c, within) = TieScan.ChunkOf(perChunk[r], occurrence);
            long start = c * chunkElements;
            int n = (int)Math.Min(chunkElements, length - start);
            for (int s = 0; s < streams; s++) buffers[s] = new float[n];
            source(start, n, buffers);
            result[r] = start + TieScan.IndexOf(buffers[stream], key, within);
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
