using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// embeddings). Computed in the read stage into the buffer the base tensor would have been read into, row by row
/// (parallel over rows): the base row decoded to float32, the delta row accumulated in float64 from the factors
/// (System.Numerics.Tensors), the sum rounded once to the base tensor's dtype, as PEFT's merge_and_unload keeps W's
/// dtype. Holds the two factors (in float64) and one row per thread, never a second copy of the tensor.</summary>
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
    public long WorkingBytes => 8 * (Rows * Rank + Rank * Columns) + 8 * Columns * (Magnitude is null ? 0 : NormBlocks + 1);

    /// <summary>Multiply-adds of the delta (2 FLOPs each), twice for a DoRA column norm.</summary>
    public long Flops => 2 * Rows * Columns * Rank * (Magnitude is not null && ScalesColumns ? 2 : 1);

    private bool ScalesColumns => Orientation is LoraOrientation.FanInFanOut or LoraOrientation.Embedding;

    /// <summary>Fills <paramref name="destination"/> (the base tensor's bytes) with the adapted tensor.</summary>
    public void Apply(Memory<byte> destination, ExecutionSettings settings, CancellationToken ct)
    {
        if (destination.Length != BaseTensor.ByteLength)
            throw new InvalidOperationException($"adapted tensor '{BaseTensor.Name}': {BaseTensor.ByteLength} bytes planned, {destination.Length} given");
        BaseFile.ReadTensor(BaseTensor, destination.Span);
        ct.ThrowIfCancellationRequested();
        var (left, right) = Factors();
        int rows = checked((int)Rows), cols = checked((int)Columns), rank = checked((int)Rank);
        var dtype = BaseTensor.Dtype;
        double[]? magnitude = Magnitude is { } m ? ReadDoubles(m) : null;
        double[]? columnFactor = null;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, settings.Threads), CancellationToken = ct };

        if (magnitude is not null && ScalesColumns)
        {
            // Pass 1: ‖(W + s·ΔW)[:, j]‖ per column, summed per fixed row block, blocks added in order (deterministic).
            var partial = new double[NormBlocks][];
            int blockRows = (rows + NormBlocks - 1) / NormBlocks;
            Parallel.For(0, NormBlocks, options, () => new RowScratch(cols), (block, _, scratch) =>
            {
                var sums = partial[block] = new double[cols];
                for (int row = block * blockRows; row < Math.Min(rows, (block + 1) * blockRows); row++)
                {
                    AdaptedRow(destination.Span, dtype, row, left, right, rank, scratch);
                    var v = scratch.Sum;
                    for (int j = 0; j < cols; j++) sums[j] += v[j] * v[j];
                }
                return scratch;
            }, _ => { });
            columnFactor = new double[cols];
            for (int block = 0; block < NormBlocks; block++)
                if (partial[block] is { } sums) TensorPrimitives.Add<double>(columnFactor, sums, columnFactor);
            for (int j = 0; j < cols; j++) columnFactor[j] = magnitude[j] / Math.Sqrt(columnFactor[j]);
        }

        // Rows are independent once the column factors are known; each row is read and written by one thread only.
        // Blocks of RowBlock rows share each load of R in the delta kernel (DeltaRows).
        int blocks = (rows + RowBlock - 1) / RowBlock;
        Parallel.For(0, blocks, options, () => new RowScratch(cols), (block, _, scratch) =>
        {
            var span = destination.Span;
            int first = block * RowBlock, count = Math.Min(RowBlock, rows - first);
            DeltaRows(first, count, left, right, rank, cols, scratch.Deltas);
            for (int i = 0; i < count; i++)
            {
                int row = first + i;
                RowSum(span, dtype, row, scratch.Deltas[i], scratch);
                var v = scratch.Sum;
                if (columnFactor is not null) TensorPrimitives.Multiply<double>(v, columnFactor, v);
                else if (magnitude is not null)
                {
                    double norm = Math.Sqrt(TensorPrimitives.Dot<double>(v, v));
                    TensorPrimitives.Multiply<double>(v, magnitude[row] / norm, v);
                }
                TensorPrimitives.ConvertTruncating<double, float>(v, scratch.Row); // round to nearest, as a cast
                DtypeConversion.Encode(dtype, scratch.Row, span, (long)row * cols);
            }
            return scratch;
        }, _ => { });
    }

    /// <summary>W[row, :] + s·(L[row, :]·R) in float64 into <see cref="RowScratch.Sum"/> (the stored row is left as is).</summary>
    private void AdaptedRow(Span<byte> data, Dtype dtype, int row, double[] left, double[] right, int rank, RowScratch scratch)
    {
        DeltaRows(row, 1, left, right, rank, scratch.Row.Length, scratch.Deltas);
        RowSum(data, dtype, row, scratch.Deltas[0], scratch);
    }

    /// <summary><see cref="RowScratch.Sum"/> = W[row, :] + s·delta, with the stored row decoded to float32 on the way.</summary>
    private void RowSum(Span<byte> data, Dtype dtype, int row, double[] delta, RowScratch scratch)
    {
        int cols = scratch.Row.Length;
        DtypeConversion.Decode(dtype, data, (long)row * cols, scratch.Row);
        // sum = row + s·delta in float64, the product rounded before the add (never fused); the float row widened in
        // registers (TensorPrimitives' float-to-double conversion is not vectorised).
        var sum = scratch.Sum;
        var values = scratch.Row;
        int j = 0, w = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<double>(Scale);
            for (; j + w <= cols; j += w)
            {
                Vector.Widen(new Vector<float>(values, j), out var low, out var high);
                (low + new Vector<double>(delta, j) * scale).CopyTo(sum, j);
                (high + new Vector<double>(delta, j + w / 2) * scale).CopyTo(sum, j + w / 2);
            }
        }
        for (; j < cols; j++) sum[j] = values[j] + Scale * delta[j];
    }

    /// <summary>Rows per block of the delta kernel: each loaded vector of R serves this many rows.</summary>
    internal const int RowBlock = 4;

    /// <summary>delta[i][j] = Σₖ L[first + i, k] · R[k, j] for i &lt; <paramref name="count"/>, in float64: k ascending,
    /// each product rounded and then added (never fused), so every row gets the same bits whatever its block. A full
    /// block whose factors are all non-zero runs the register-tiled kernel (RowBlock rows × two vectors of columns
    /// accumulated in registers over k, one load of R per RowBlock multiply-adds); otherwise rows run one at a time and
    /// a zero factor is skipped (so an infinite R entry times a zero factor adds nothing, as PEFT's zero B would).</summary>
    internal static void DeltaRows(int first, int count, double[] left, double[] right, int rank, int cols, double[][] delta)
    {
        if ((long)(first + count) * rank > left.Length || (long)rank * cols > right.Length || delta.Length < count || delta[0].Length < cols)
            throw new ArgumentException("delta rows out of the factors' bounds");
        bool tiled = count == RowBlock && Vector.IsHardwareAccelerated;
        for (int i = 0; i < count && tiled; i++)
            for (int k = 0; k < rank; k++)
                if (left[(long)(first + i) * rank + k] == 0) { tiled = false; break; }
        if (!tiled)
        {
            for (int i = 0; i < count; i++)
            {
                var acc = delta[i];
                Array.Clear(acc, 0, cols);
                for (int k = 0; k < rank; k++)
                {
                    double l = left[(long)(first + i) * rank + k];
                    if (l != 0) TensorPrimitives.MultiplyAdd<double>(right.AsSpan(k * cols, cols), l, acc.AsSpan(0, cols), acc.AsSpan(0, cols));
                }
            }
            return;
        }

        int w = Vector<double>.Count, j = 0;
        double[] d0 = delta[0], d1 = delta[1], d2 = delta[2], d3 = delta[3];
        long l0 = (long)first * rank, l1 = l0 + rank, l2 = l1 + rank, l3 = l2 + rank;
        // Bounds were checked above (the factors' shapes are checked against the base at planning); refs keep the
        // loop free of per-load checks so the eight accumulators stay in registers.
        ref double r = ref MemoryMarshal.GetArrayDataReference(right);
        ref double lb = ref MemoryMarshal.GetArrayDataReference(left);
        for (; j + 2 * w <= cols; j += 2 * w)
        {
            Vector<double> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
            nuint at = (nuint)j;
            for (int k = 0; k < rank; k++, at += (nuint)cols)
            {
                var r0 = Vector.LoadUnsafe(ref r, at);
                var r1 = Vector.LoadUnsafe(ref r, at + (nuint)w);
                var b0 = new Vector<double>(Unsafe.Add(ref lb, (nint)(l0 + k)));
                var b1 = new Vector<double>(Unsafe.Add(ref lb, (nint)(l1 + k)));
                var b2 = new Vector<double>(Unsafe.Add(ref lb, (nint)(l2 + k)));
                var b3 = new Vector<double>(Unsafe.Add(ref lb, (nint)(l3 + k)));
                a00 += r0 * b0; a01 += r1 * b0;
                a10 += r0 * b1; a11 += r1 * b1;
                a20 += r0 * b2; a21 += r1 * b2;
                a30 += r0 * b3; a31 += r1 * b3;
            }
            a00.CopyTo(d0, j); a01.CopyTo(d0, j + w);
            a10.CopyTo(d1, j); a11.CopyTo(d1, j + w);
            a20.CopyTo(d2, j); a21.CopyTo(d2, j + w);
            a30.CopyTo(d3, j); a31.CopyTo(d3, j + w);
        }
        for (; j < cols; j++)
        {
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int k = 0; k < rank; k++)
            {
                double rk = right[k * cols + j];
                s0 += rk * left[l0 + k]; s1 += rk * left[l1 + k]; s2 += rk * left[l2 + k]; s3 += rk * left[l3 + k];
            }
            d0[j] = s0; d1[j] = s1; d2[j] = s2; d3[j] = s3;
        }
    }

    /// <summary>The delta as L [rows, r] · R [r, cols] in the stored orientation, both row-major float64.</summary>
    private (double[] Left, double[] Right) Factors()
    {
        if (Orientation == LoraOrientation.Bias) return ([1.0], ReadDoubles(A));
        // nn.Linear: B [out, r] · A [r, in]. Stored [in, out] (Conv1D) or [vocab, dim] (embedding): (B·A)ᵀ = Aᵀ · Bᵀ.
        bool transposed = Orientation != LoraOrientation.Linear;
        return transposed ? (ReadDoubles(A, transpose: true), ReadDoubles(B, transpose: true)) : (ReadDoubles(B), ReadDoubles(A));
    }

    /// <summary>A 1-D or 2-D adapter tensor as row-major float64, transposed on the way when asked (one copy held).</summary>
    private double[] ReadDoubles(TensorInfo tensor, bool transpose = false)
    {
        var bytes = new byte[tensor.ByteLength];
        AdapterFile.ReadTensor(tensor, bytes);
        long rows = tensor.Shape.Length == 2 ? tensor.Shape[0] : 1, cols = tensor.Shape[^1];
        var doubles = new double[rows * cols];
        var row = new float[cols];
        for (long i = 0; i < rows; i++)
        {
            DtypeConversion.Decode(tensor.Dtype, bytes, i * cols, row);
            if (!transpose) for (long j = 0; j < cols; j++) doubles[i * cols + j] = row[j];
            else for (long j = 0; j < cols; j++) doubles[j * rows + i] = row[j];
        }
        return doubles;
    }

    private sealed class RowScratch(int cols)
    {
        public float[] Row { get; } = new float[cols];
        /// <summary>One delta row per row of a block.</summary>
        public double[][] Deltas { get; } = Enumerable.Range(0, RowBlock).Select(_ => new double[cols]).ToArray();
        public double[] Sum { get; } = new double[cols];
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
