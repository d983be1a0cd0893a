using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Adapters;

/// <summary>How a LoRA factor pair maps onto the stored base matrix.</summary>
public enum LoraOrientation
{
    /// <summary>nn.Linear: W is stored [out, in]; ΔW = B·A (A [r, in], B [out, r]).</summary>
    Linear,
    /// <summary>Conv1D (fan_in_fan_out): W is stored [in, out]; the delta is (B·A)ᵀ.</summary>
    FanInFanOut,
    /// <summary>nn.Embedding: E is stored [vocab, dim]; A is [r, vocab], B [dim, r]; ΔE = (B·A)ᵀ.</summary>
    Embedding,
    /// <summary>lora_bias: the bias [out] gains s · lora_B.bias.</summary>
    Bias,
}

/// <summary>One base tensor with a LoRA delta applied: W' = W + s·ΔW, and for DoRA W' = (m / ‖W + s·ΔW‖) · (W + s·ΔW)
/// with the norm per output row in [out, in] orientation (per column of the stored matrix for fan_in_fan_out and
/// embeddings). Computed in the read stage, parallel over blocks of rows: the stored tensor read where it lies (mapped),
/// the delta of a block computed in float64 by a register-tiled kernel (<see cref="DeltaFactors"/>), added to the stored
/// values decoded to float32, and the sum rounded once to the base tensor's dtype, as PEFT's merge_and_unload keeps W's
/// dtype. Holds the two factors (in float64) and a block's delta per thread, never a second copy of the tensor.</summary>
public sealed class AdaptedTensor
{
    /// <summary>Rows per block for the deterministic column-norm pass of DoRA (independent of the thread count).</summary>
    private const int NormBlocks = 16;

    public AdaptedTensor(string module, LoraOrientation orientation, Models.ITensorFile baseFile, TensorInfo baseTensor,
        SafetensorsFile adapterFile, TensorInfo a, TensorInfo b, double scale, TensorInfo? magnitude)
    {
        Module = module; Orientation = orientation; BaseFile = baseFile; BaseTensor = baseTensor; AdapterFile = adapterFile;
        A = a; B = b; Scale = scale; Magnitude = magnitude;
    }

    /// <summary>The module path (what errors name).</summary>
    public string Module { get; }
    public LoraOrientation Orientation { get; }
    public Models.ITensorFile BaseFile { get; }
    public TensorInfo BaseTensor { get; }
    public SafetensorsFile AdapterFile { get; }
    /// <summary>lora_A (lora_embedding_A), and for <see cref="LoraOrientation.Bias"/> the lora_B.bias vector.</summary>
    public TensorInfo A { get; }
    /// <summary>lora_B (lora_embedding_B); for <see cref="LoraOrientation.Bias"/> the same vector as <see cref="A"/>.</summary>
    public TensorInfo B { get; }
    public double Scale { get; }
    /// <summary>DoRA's lora_magnitude_vector, or null for plain LoRA.</summary>
    public TensorInfo? Magnitude { get; }

    public long Rows => BaseTensor.Shape.Length == 1 ? 1 : BaseTensor.Shape[0];
    public long Columns => BaseTensor.Shape.Length == 1 ? BaseTensor.Shape[0] : BaseTensor.Shape[1];
    public long Rank => Orientation == LoraOrientation.Bias ? 1 : A.Shape[0];

    /// <summary>Adapter bytes read for this tensor (the factors and the magnitude).</summary>
    public long AdapterBytes => (Orientation == LoraOrientation.Bias ? A.ByteLength : A.ByteLength + B.ByteLength) + (Magnitude?.ByteLength ?? 0);

    /// <summary>Bytes held while the tensor is computed, besides its own buffer: both factors in float64.</summary>
    public long WorkingBytes => 8 * (Rows * Rank + Rank * DeltaFactors.PaddedColumns(checked((int)Columns))) + 8 * Columns * (Magnitude is null ? 0 : NormBlocks + 1);

    /// <summary>Multiply-adds of the delta (2 FLOPs each), twice for a DoRA column norm.</summary>
    public long Flops => 2 * Rows * Columns * Rank * (Magnitude is not null && ScalesColumns ? 2 : 1);

    private bool ScalesColumns => Orientation is LoraOrientation.FanInFanOut or LoraOrientation.Embedding;

    /// <summary>Columns per panel of the plain (non-DoRA) pass: a block of rows is computed a panel at a time (a whole
    /// row up to this width), so its delta (RowBlock × panel float64, at most 256 KiB) stays in L2 between the kernel and
    /// the sum. Whole rows measured faster than 256-column panels (1.2 against 1.4 ns per element for a 1408 × 3872
    /// bf16 tensor, one thread): the stored rows are then read as long sequential runs.</summary>
    internal const int PanelColumns = 4096;

    /// <summary>Fills <paramref name="destination"/> (the base tensor's bytes) with the adapted tensor.</summary>
    public void Apply(Memory<byte> destination, ExecutionSettings settings, CancellationToken ct)
    {
        if (destination.Length != BaseTensor.ByteLength)
            throw new InvalidOperationException($"adapted tensor '{BaseTensor.Name}': {BaseTensor.ByteLength} bytes planned, {destination.Length} given");
        // The stored tensor is read where it lies (mapped from the page cache) and the result written into the
        // destination; where it cannot be mapped it is read into the destination and adapted in place (every element is
        // decoded before its slot is written).
        using var mapped = MappedTensor.TryMap(BaseFile, BaseTensor);
        if (mapped is null) BaseFile.ReadTensor(BaseTensor, destination.Span);
        ReadOnlyMemory<byte> stored = mapped is null ? destination : mapped.Memory;
        ct.ThrowIfCancellationRequested();
        using var factors = Factors();
        int rows = factors.Rows, cols = factors.Columns;
        var dtype = BaseTensor.Dtype;
        double[]? magnitude = Magnitude is { } m ? ReadDoubles(m) : null;
        double[]? columnFactor = null;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, settings.Threads), CancellationToken = ct };
        int blocks = (rows + RowBlock - 1) / RowBlock;
        int fullRow = DeltaFactors.PaddedColumns(cols);

        if (magnitude is not null && ScalesColumns)
        {
            // Pass 1: ‖(W + s·ΔW)[:, j]‖ per column, summed per fixed row block, blocks added in order (deterministic).
            var partial = new double[NormBlocks][];
            int blockRows = (rows + NormBlocks - 1) / NormBlocks;
            Parallel.For(0, NormBlocks, options, () => RowScratch.Take(cols, fullRow), (block, _, scratch) =>
            {
                var sums = partial[block] = new double[cols];
                int end = Math.Min(rows, (block + 1) * blockRows);
                for (int first = block * blockRows; first < end; first += RowBlock)
                {
                    int count = Math.Min(RowBlock, end - first);
                    factors.DeltaRows(first, count, 0, cols, scratch.Delta, fullRow);
                    for (int i = 0; i < count; i++)
                    {
                        RowSum(stored.Span, dtype, (long)(first + i) * cols, scratch.Delta.AsSpan(i * fullRow, cols), scratch);
                        var v = scratch.Sum.AsSpan(0, cols);
                        for (int j = 0; j < cols; j++) sums[j] += v[j] * v[j];
                    }
                }
                return scratch;
            }, RowScratch.Release);
            columnFactor = new double[cols];
            for (int block = 0; block < NormBlocks; block++)
                if (partial[block] is { } sums) TensorPrimitives.Add<double>(columnFactor, sums, columnFactor);
            for (int j = 0; j < cols; j++) columnFactor[j] = magnitude[j] / Math.Sqrt(columnFactor[j]);
        }

        if (magnitude is null)
        {
            // Plain LoRA: rows are independent; a block of RowBlock rows is computed a panel of columns at a time, each
            // panel's delta added to the stored values, rounded and written while it is in cache.
            int panel = Math.Min(PanelColumns, fullRow);
            Parallel.For(0, blocks, options, () => RowScratch.Take(panel, panel), (block, _, scratch) =>
            {
                int first = block * RowBlock, count = Math.Min(RowBlock, rows - first);
                for (int c0 = 0; c0 < cols; c0 += panel)
                {
                    int n = Math.Min(panel, cols - c0);
                    factors.DeltaRows(first, count, c0, n, scratch.Delta, panel);
                    for (int i = 0; i < count; i++)
                    {
                        long at = (long)(first + i) * cols + c0;
                        var delta = scratch.Delta.AsSpan(i * panel, n);
                        int done = dtype == Dtype.BF16 ? StoreSumBf16(stored.Span, destination.Span, at, delta) : 0;
                        if (done == n) continue;
                        RowSum(stored.Span, dtype, at + done, delta[done..], scratch);
                        Store(scratch.Sum.AsSpan(0, n - done), scratch, destination.Span, dtype, at + done);
                    }
                }
                return scratch;
            }, RowScratch.Release);
            return;
        }

        // DoRA: each row is scaled as a whole once the column factors (or its own norm) are known; each row is read and
        // written by one thread only.
        Parallel.For(0, blocks, options, () => RowScratch.Take(cols, fullRow), (block, _, scratch) =>
        {
            int first = block * RowBlock, count = Math.Min(RowBlock, rows - first);
            factors.DeltaRows(first, count, 0, cols, scratch.Delta, fullRow);
            for (int i = 0; i < count; i++)
            {
                int row = first + i;
                RowSum(stored.Span, dtype, (long)row * cols, scratch.Delta.AsSpan(i * fullRow, cols), scratch);
                var v = scratch.Sum.AsSpan(0, cols);
                if (columnFactor is not null) TensorPrimitives.Multiply<double>(v, columnFactor, v);
                else
                {
                    double norm = Math.Sqrt(TensorPrimitives.Dot<double>(v, v));
                    TensorPrimitives.Multiply<double>(v, magnitude[row] / norm, v);
                }
                Store(v, scratch, destination.Span, dtype, (long)row * cols);
            }
            return scratch;
        }, RowScratch.Release);
    }

    /// <summary><see cref="RowScratch.Sum"/>[..n] = W[at .. at + n) + s·delta in float64, with the stored values decoded to
    /// float32 on the way (n = delta.Length; the stored bytes are left as they are).</summary>
    private void RowSum(ReadOnlySpan<byte> stored, Dtype dtype, long at, ReadOnlySpan<double> delta, RowScratch scratch)
    {
        int n = delta.Length;
        var values = scratch.Row.AsSpan(0, n);
        var sum = scratch.Sum.AsSpan(0, n);
        DtypeConversion.Decode(dtype, stored, at, values);
        // sum = w + s·delta in float64, the product rounded before the add (never fused); the float values widened in
        // registers (TensorPrimitives' float-to-double conversion is not vectorised).
        int j = 0, w = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<double>(Scale);
            for (; j + w <= n; j += w)
            {
                Vector.Widen(new Vector<float>(values[j..]), out var low, out var high);
                (low + new Vector<double>(delta[j..]) * scale).CopyTo(sum[j..]);
                (high + new Vector<double>(delta[(j + w / 2)..]) * scale).CopyTo(sum[(j + w / 2)..]);
            }
        }
        for (; j < n; j++) sum[j] = values[j] + Scale * delta[j];
    }

    /// <summary>For a bf16 tensor, <see cref="RowSum"/> and <see cref="Store"/> fused in registers: elements
    /// [at, at + k) of <paramref name="destination"/> = bf16(float32(W + s·delta)) with W read from
    /// <paramref name="stored"/> (which may be the destination itself), for the largest k ≤ delta.Length that is a
    /// whole number of vectors of bf16 words; returns k (the caller does the rest). The same operations in the same
    /// order as the two span passes: W widened exactly, the product s·delta rounded before the add, the sum rounded to
    /// float32 (nearest, as a cast) and then to bf16 (nearest-even, NaN canonical).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int StoreSumBf16(ReadOnlySpan<byte> stored, Span<byte> destination, long at, ReadOnlySpan<double> delta)
    {
        int n = delta.Length, step = Vector<ushort>.Count, w = Vector<double>.Count;
        if (!Vector.IsHardwareAccelerated || n < step) return 0;
        long elements = stored.Length / 2;
        if (at < 0 || at + n > elements || destination.Length / 2 < elements)
            throw new ArgumentOutOfRangeException(nameof(at), "panel outside the tensor");
        ref ushort src = ref Unsafe.Add(ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(stored)), (nint)at);
        ref ushort dst = ref Unsafe.Add(ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(destination)), (nint)at);
        ref double d = ref MemoryMarshal.GetReference(delta);
        var scale = new Vector<double>(Scale);
        int j = 0;
        for (; j + step <= n; j += step)
        {
            // Widen puts the lower-addressed half first: words j.., then j + step/2..; each float half widens likewise.
            Vector.Widen(Vector.LoadUnsafe(ref src, (nuint)j), out var low, out var high);
            Vector.Widen(Vector.AsVectorSingle(low << 16), out var w0, out var w1);
            Vector.Widen(Vector.AsVectorSingle(high << 16), out var w2, out var w3);
            nuint e = (nuint)j;
            var s0 = w0 + Vector.LoadUnsafe(ref d, e) * scale;
            var s1 = w1 + Vector.LoadUnsafe(ref d, e + (nuint)w) * scale;
            var s2 = w2 + Vector.LoadUnsafe(ref d, e + (nuint)(2 * w)) * scale;
            var s3 = w3 + Vector.LoadUnsafe(ref d, e + (nuint)(3 * w)) * scale;
            Vector.Narrow(Bf16Lanes.RoundBf16(Vector.Narrow(s0, s1)), Bf16Lanes.RoundBf16(Vector.Narrow(s2, s3))).StoreUnsafe(ref dst, e);
        }
        return j;
    }

    /// <summary>Rounds float64 sums once to float32 (nearest, as a cast) and encodes them in the tensor's dtype at element
    /// <paramref name="at"/> of <paramref name="destination"/>.</summary>
    private static void Store(ReadOnlySpan<double> sums, RowScratch scratch, Span<byte> destination, Dtype dtype, long at)
    {
        var rounded = scratch.Row.AsSpan(0, sums.Length);
        TensorPrimitives.ConvertTruncating<double, float>(sums, rounded); // round to nearest, as a cast
        DtypeConversion.Encode(dtype, rounded, destination, at);
    }

    /// <summary>Rows per block of the delta kernel (<see cref="DeltaFactors.RowBlock"/>).</summary>
    internal const int RowBlock = DeltaFactors.RowBlock;

    /// <summary>The delta as L [rows, r] · R [r, cols] in the stored orientation (float64 values of float32 factors).</summary>
    private DeltaFactors Factors()
    {
        int rows = checked((int)Rows), cols = checked((int)Columns), rank = checked((int)Rank);
        if (Orientation == LoraOrientation.Bias)
        {
            var bias = ReadDoubles(A);
            return new DeltaFactors([1.0], bias, 1, 1, cols);
        }
        // nn.Linear: B [out, r] · A [r, in]. Stored [in, out] (Conv1D) or [vocab, dim] (embedding): (B·A)ᵀ = Aᵀ · Bᵀ.
        bool transposed = Orientation != LoraOrientation.Linear;
        var left = transposed ? RentDoubles(A, transpose: true) : RentDoubles(B, transpose: false);
        var right = transposed ? RentDoubles(B, transpose: true) : RentDoubles(A, transpose: false);
        try
        {
            return new DeltaFactors(left.AsSpan(0, rows * rank), right.AsSpan(0, rank * cols), rows, rank, cols);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(left);
            ArrayPool<double>.Shared.Return(right);
        }
    }

    /// <summary>A 1-D adapter tensor (magnitude, bias) as float64.</summary>
    private double[] ReadDoubles(TensorInfo tensor)
    {
        var rented = RentDoubles(tensor, transpose: false);
        try { return rented.AsSpan(0, checked((int)tensor.ElementCount)).ToArray(); }
        finally { ArrayPool<double>.Shared.Return(rented); }
    }

    /// <summary>A 1-D or 2-D adapter tensor as row-major float64 in a pooled array (the caller returns it; its first
    /// ElementCount elements hold the values), transposed on the way when asked. Pooled: a merge adapts hundreds of
    /// tensors, and fresh arrays of this size each cost page faults and zeroing.</summary>
    private double[] RentDoubles(TensorInfo tensor, bool transpose)
    {
        int rows = checked((int)(tensor.Shape.Length == 2 ? tensor.Shape[0] : 1)), cols = checked((int)tensor.Shape[^1]);
        var bytes = ArrayPool<byte>.Shared.Rent(checked((int)tensor.ByteLength));
        var row = ArrayPool<float>.Shared.Rent(cols);
        var doubles = ArrayPool<double>.Shared.Rent(checked(rows * cols));
        try
        {
            AdapterFile.ReadTensor(tensor, bytes.AsSpan(0, (int)tensor.ByteLength));
            for (int i = 0; i < rows; i++)
            {
                DtypeConversion.Decode(tensor.Dtype, bytes, (long)i * cols, row.AsSpan(0, cols));
                if (!transpose) for (int j = 0; j < cols; j++) doubles[i * cols + j] = row[j];
                else for (int j = 0; j < cols; j++) doubles[j * rows + i] = row[j];
            }
            return doubles;
        }
        catch
        {
            ArrayPool<double>.Shared.Return(doubles);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<float>.Shared.Return(row);
        }
    }

    /// <summary>One thread's buffers: the delta of a block of rows (RowBlock rows of a stride), and the decoded values
    /// and sums of one row (or panel). Kept per thread between tensors (<see cref="Take"/>, <see cref="Release"/>):
    /// fresh buffers per tensor cost page faults and zeroing.</summary>
    private sealed class RowScratch
    {
        [ThreadStatic] private static RowScratch? t_idle;

        private RowScratch(int cols, int deltaLength)
        {
            Row = new float[cols];
            Sum = new double[cols];
            Delta = new double[deltaLength];
        }

        public float[] Row { get; }
        public double[] Delta { get; }
        public double[] Sum { get; }

        /// <summary>This thread's idle buffers if they are large enough (taken, so a nested use gets its own), else new
        /// ones of at least <paramref name="cols"/> values and RowBlock × <paramref name="deltaStride"/> deltas.</summary>
        public static RowScratch Take(int cols, int deltaStride)
        {
            var idle = t_idle;
            t_idle = null;
            int deltaLength = RowBlock * deltaStride;
            if (idle is not null && idle.Row.Length >= cols && idle.Delta.Length >= deltaLength) return idle;
            return new RowScratch(Math.Max(cols, idle?.Row.Length ?? 0), Math.Max(deltaLength, idle?.Delta.Length ?? 0));
        }

        public static void Release(RowScratch scratch) => t_idle = scratch;
    }

    /// <summary>What <c>plan</c> and <c>inspect</c> show: "+ LoRA r=8 scale=2 (DoRA, fan_in_fan_out)".</summary>
    public string Describe()
    {
        var notes = new List<string>();
        if (Magnitude is not null) notes.Add("DoRA");
        if (Orientation == LoraOrientation.FanInFanOut) notes.Add("fan_in_fan_out");
        if (Orientation == LoraOrientation.Embedding) notes.Add("embedding");
        if (Orientation == LoraOrientation.Bias) notes.Add("lora_bias");
        var rank = Orientation == LoraOrientation.Bias ? "" : $" r={Rank.ToString(CultureInfo.InvariantCulture)}";
        return $"+ LoRA{rank} scale={Scale.ToString("G6", CultureInfo.InvariantCulture)}" + (notes.Count > 0 ? " (" + string.Join(", ", notes) + ")" : "");
    }

    public override string ToString() => BaseTensor.Name + " " + Describe();
}
