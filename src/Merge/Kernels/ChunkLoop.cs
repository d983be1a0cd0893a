using System.Buffers;
using System.Numerics;

namespace DotnetMerge.Kernels;

/// <summary>The shared driver of every CPU kernel: walks a tensor in fixed-size chunks, decodes the inputs of each
/// chunk to float32 (in per-worker buffers), runs the method's body and encodes the output chunk.
/// Chunk boundaries depend only on the tensor and <see cref="ExecutionSettings.ChunkElements"/>, never on the
/// thread count, and reductions are combined in chunk order, so results are identical for any thread count.</summary>
public static class ChunkLoop
{
    public delegate void MapBody(long start, int length, float[][] inputs, float[] output);
    public delegate void ReduceBody(long start, int length, float[][] inputs, Span<double> accumulators);

    /// <summary>Computes the output elementwise-by-chunks from <paramref name="inputs"/>.</summary>
    public static void Map(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, MapBody body)
        => Map(ctx, inputs, ctx.Settings.ChunkElements, body);

    /// <summary>Map with chunks that are whole multiples of <paramref name="rowLength"/> elements (row-local math).</summary>
    public static void MapRows(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, long rowLength, MapBody body)
        => Map(ctx, inputs, RowChunk(ctx.Settings.ChunkElements, rowLength), body);

    /// <summary>Runs an elementwise operator over float32 chunks: the chunk driver of the operators that
    /// <see cref="Bf16Lanes"/> runs on raw bf16 words, so both paths share the operator's math. Chunks hold whole
    /// rows of <paramref name="rowLength"/> (0: any); <paramref name="prepare"/>, when given, runs on each decoded chunk
    /// before the operator (a row-local step such as pruning). <see cref="IIndexedElementwiseKernel.Lanes"/> runs on
    /// <see cref="Vector{T}.Count"/> elements at a time, <see cref="IIndexedElementwiseKernel.Scalar"/> on the rest.</summary>
    internal static void MapIndexed<TKernel>(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, long rowLength, TKernel kernel,
        MapBody? prepare = null)
        where TKernel : struct, IIndexedElementwiseKernel
        => Map(ctx, inputs, RowChunk(ctx.Settings.ChunkElements, rowLength), (start, length, ins, output) =>
        {
            prepare?.Invoke(start, length, ins, output);
            Apply(kernel, ins, start, length, output);
        });

    /// <summary><see cref="MapIndexed"/> for operators that do not need the element index.</summary>
    internal static void Map<TKernel>(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, TKernel kernel)
        where TKernel : struct, IElementwiseKernel
        => MapIndexed(ctx, inputs, 0, new Bf16Lanes.Unindexed<TKernel>(kernel));

    private static void Apply<TKernel>(TKernel kernel, float[][] ins, long start, int length, float[] output)
        where TKernel : struct, IIndexedElementwiseKernel
    {
        int k = ins.Length, j = 0, width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Span<Vector<float>> lanes = k <= 16 ? stackalloc Vector<float>[k] : new Vector<float>[k];
            for (; j <= length - width; j += width)
            {
                for (int i = 0; i < k; i++) lanes[i] = new Vector<float>(ins[i], j);
                kernel.Lanes(lanes, start + j).CopyTo(output, j);
            }
        }
        if (j == length) return;
        Span<float> values = k <= 64 ? stackalloc float[k] : new float[k];
        for (; j < length; j++)
        {
            for (int i = 0; i < k; i++) values[i] = ins[i][j];
            output[j] = kernel.Scalar(values, start + j);
        }
    }

    private static void Map(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, long chunkElements, MapBody body)
    {
        long total = ctx.OutputElementCount;
        if (total == 0) return;
        long chunks = (total + chunkElements - 1) / chunkElements;
        int chunk = (int)Math.Min(chunkElements, total);
        Run(ctx.Settings, chunks, inputs.Count, chunk, withOutput: true, (c, ins, output) =>
        {
            long start = c * chunkElements;
            int length = (int)Math.Min(chunkElements, total - start);
            for (int i = 0; i < inputs.Count; i++) inputs[i].Decode(start, ins[i].AsSpan(0, length));
            body(start, length, ins, output);
            ctx.Encode(start, output.AsSpan(0, length));
        });
    }

    /// <summary>Sums per-chunk accumulators over the whole tensor (in chunk order, in double precision).</summary>
    public static double[] Reduce(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, int accumulatorCount, ReduceBody body)
        => Reduce(ctx.Settings, inputs, ctx.Settings.ChunkElements, accumulatorCount, body);

    public static double[] Reduce(ExecutionSettings settings, IReadOnlyList<MergeInput> inputs, long chunkElements, int accumulatorCount, ReduceBody body)
    {
        long total = inputs.Count == 0 ? 0 : inputs[0].ElementCount;
        if (total == 0) return new double[accumulatorCount];
        long chunks = (total + chunkElements - 1) / chunkElements;
        var partial = new double[chunks * accumulatorCount];
        int chunk = (int)Math.Min(chunkElements, total);
        Run(settings, chunks, inputs.Count, chunk, withOutput: false, (c, ins, _) =>
        {
            long start = c * chunkElements;
            int length = (int)Math.Min(chunkElements, total - start);
            for (int i = 0; i < inputs.Count; i++) inputs[i].Decode(start, ins[i].AsSpan(0, length));
            body(start, length, ins, partial.AsSpan((int)(c * accumulatorCount), accumulatorCount));
        });
        return LaneSum.ChunkTotals(partial, accumulatorCount);
    }

    /// <summary>Runs <paramref name="body"/>(start, length) over the chunks of a tensor of <paramref name="total"/> elements,
    /// in parallel, with no decode buffers (kernels that read and write the raw bytes themselves).</summary>
    public static void ForEachChunk(ExecutionSettings settings, long total, long chunkElements, Action<long, int> body)
    {
        if (total == 0) return;
        long chunks = (total + chunkElements - 1) / chunkElements;
        Run(settings, chunks, 0, 0, withOutput: false,
            (c, _, _) => body(c * chunkElements, (int)Math.Min(chunkElements, total - c * chunkElements)));
    }

    /// <summary>Number of elements per chunk when chunks must hold whole rows.</summary>
    public static long RowChunk(long chunkElements, long rowLength)
        => rowLength <= 0 ? chunkElements : Math.Max(1, chunkElements / rowLength) * rowLength;

    private static void Run(ExecutionSettings settings, long chunks, int inputCount, int chunkLength, bool withOutput,
        Action<long, float[][], float[]> work)
    {
        int workers = (int)Math.Max(1, Math.Min(settings.Threads, chunks));
        var pool = ArrayPool<float>.Shared;
        if (workers == 1)
        {
            var ins = Rent(pool, inputCount, chunkLength);
            var output = withOutput ? pool.Rent(chunkLength) : Array.Empty<float>();
            try { for (long c = 0; c < chunks; c++) work(c, ins, output); }
            finally { Return(pool, ins, output); }
            return;
        }

        long next = -1;
        var tasks = new Task[workers];
        for (int w = 0; w < workers; w++)
        {
            tasks[w] = Task.Factory.StartNew(() =>
            {
                var ins = Rent(pool, inputCount, chunkLength);
                var output = withOutput ? pool.Rent(chunkLength) : Array.Empty<float>();
                try
                {
                    long c;
                    while ((c = Interlocked.Increment(ref next)) < chunks) work(c, ins, output);
                }
                finally { Return(pool, ins, output); }
            }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        }
        Task.WaitAll(tasks);
    }

    private static float[][] Rent(ArrayPool<float> pool, int count, int length)
    {
        var arrays = new float[count][];
        for (int i = 0; i < count; i++) arrays[i] = pool.Rent(length);
        return arrays;
    }

    private static void Return(ArrayPool<float> pool, float[][] ins, float[] output)
    {
        foreach (var a in ins) pool.Return(a);
        if (output.Length > 0) pool.Return(output);
    }
}
