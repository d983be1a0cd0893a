using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DotnetMerge.Adapters;

/// <summary>The two factors of a LoRA delta in the stored orientation, ΔW = L·R with L [rows, r] and R [r, cols], in
/// float64, and the kernel that computes blocks of ΔW from them (<see cref="DeltaRows"/>).
///
/// <para>Every factor value is a float32 value (the adapter's bf16, f16 or f32 elements widened), so every product
/// L[i, k]·R[k, j] is exact in float64 (24 + 24 significant bits, exponents far from float64's limits). A fused
/// multiply-add therefore rounds exactly once where a multiply then an add would round the same sum: the kernel uses
/// fused multiply-adds and gets the bits of the plain formula Σₖ L[i, k]·R[k, j], k ascending, each term added in turn.
/// The constructor refuses a factor that is not a float32 value.</para>
///
/// <para>R is held packed for the kernel: per tile of <see cref="TileColumns"/> columns, its r rows of that tile one
/// after the other (zero past the last column), so the kernel reads one contiguous stream per tile.</para></summary>
internal sealed class DeltaFactors : IDisposable
{
    /// <summary>Rows of L per register tile: each loaded vector of R serves this many rows (and each broadcast element
    /// of L two vectors). 8 rows × 2 vectors = 16 accumulators, 2 loads of R, one broadcast: 19 registers of 32 on
    /// AVX-512 (the kernel runs slower, still exact, where there are 16).</summary>
    public const int RowBlock = 8;

    /// <summary>Columns per register tile: two vectors of float64.</summary>
    public static int TileColumns => 2 * Vector<double>.Count;

    private readonly double[] _left;
    private readonly double[] _packed;

    /// <param name="left">L, row-major [rows, rank] (copied).</param>
    /// <param name="right">R, row-major [rank, cols] (copied, packed).</param>
    public DeltaFactors(ReadOnlySpan<double> left, ReadOnlySpan<double> right, int rows, int rank, int cols)
    {
        if (rows < 0 || rank < 1 || cols < 0 || left.Length != (long)rows * rank || right.Length != (long)rank * cols)
            throw new ArgumentException($"factors of {left.Length} and {right.Length} elements do not make [{rows}, {rank}] · [{rank}, {cols}]");
        foreach (var v in left) RequireSingle(v);
        foreach (var v in right) RequireSingle(v);
        Rows = rows; Rank = rank; Columns = cols;
        _left = ArrayPool<double>.Shared.Rent(left.Length);
        left.CopyTo(_left);
        int tile = TileColumns, tiles = (cols + tile - 1) / tile;
        _packed = ArrayPool<double>.Shared.Rent(checked(tiles * rank * tile));
        _packed.AsSpan(0, tiles * rank * tile).Clear();
        for (int t = 0; t < tiles; t++)
            for (int k = 0; k < rank; k++)
            {
                int first = t * tile, count = Math.Min(tile, cols - first);
                right.Slice(k * cols + first, count).CopyTo(_packed.AsSpan((t * rank + k) * tile, count));
            }
    }

    /// <summary>The factors are held in pooled arrays (a merge adapts hundreds of tensors); this returns them.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ArrayPool<double>.Shared.Return(_left);
        ArrayPool<double>.Shared.Return(_packed);
    }

    private bool _disposed;

    public int Rows { get; }
    public int Rank { get; }
    public int Columns { get; }

    private static void RequireSingle(double v)
    {
        if (!double.IsNaN(v) && (double)(float)v != v)
            throw new ArgumentException($"LoRA factor {v:R} is not a float32 value: its products would not be exact in float64");
    }

    /// <summary>Columns a row of a <see cref="DeltaRows"/> destination must have room for: <paramref name="count"/>
    /// rounded up to whole tiles (the kernel stores whole tiles).</summary>
    public static int PaddedColumns(int count) => (count + TileColumns - 1) / TileColumns * TileColumns;

    /// <summary>delta[i·stride + (j − colStart)] = Σₖ L[first + i, k]·R[k, j] for i &lt; <paramref name="count"/> and
    /// j in [colStart, colStart + colCount), in float64 (k ascending, each exact product added and rounded in turn), so
    /// every element gets the same bits whatever its block, tile or vector width. <paramref name="colStart"/> is a multiple of
    /// <see cref="TileColumns"/>; each row of <paramref name="delta"/> has room for <see cref="PaddedColumns"/>(colCount)
    /// (the padding receives garbage). A full block whose factors are all non-zero runs the register tile (RowBlock rows ×
    /// two vectors, accumulated over k in registers, R streamed); otherwise rows run one at a time and a zero factor is
    /// skipped, so an infinite R entry times a zero factor adds nothing (as PEFT's zero-initialised B).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void DeltaRows(int first, int count, int colStart, int colCount, Span<double> delta, int stride)
    {
        int tile = TileColumns, padded = PaddedColumns(colCount), rank = Rank;
        if (first < 0 || count < 1 || count > RowBlock || first + count > Rows || colStart < 0 || colStart % tile != 0 || colCount < 1
            || colStart + colCount > Columns || stride < padded || delta.Length < (count - 1) * stride + padded)
            throw new ArgumentException("delta rows out of the factors' bounds");
        bool tiled = count == RowBlock;
        for (long at = (long)first * rank, end = at + RowBlock * rank; tiled && at < end; at++)
            if (_left[at] == 0) tiled = false;

        int w = Vector<double>.Count;
        ref double lb = ref MemoryMarshal.GetArrayDataReference(_left);
        ref double d = ref MemoryMarshal.GetReference(delta);
        // Bounds were checked above; refs keep the loops free of per-load checks so the accumulators stay in registers.
        for (int j = 0; j < colCount; j += tile)
        {
            ref double p = ref MemoryMarshal.GetArrayDataReference(_packed);
            p = ref Unsafe.Add(ref p, (nint)((colStart + j) / tile) * rank * tile);
            if (tiled) Tile(ref p, ref Unsafe.Add(ref lb, (nint)first * rank), rank, ref Unsafe.Add(ref d, j), stride, w);
            else
                for (int i = 0; i < count; i++)
                    OneRow(ref p, ref Unsafe.Add(ref lb, (nint)(first + i) * rank), rank, ref Unsafe.Add(ref d, (nint)i * stride + j), w);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(ref double p, ref double l, int rank, ref double d, int stride, int w)
    {
        Vector<double> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        Vector<double> a40 = default, a41 = default, a50 = default, a51 = default, a60 = default, a61 = default, a70 = default, a71 = default;
        nuint step = (nuint)(2 * w), at = 0;
        for (int k = 0; k < rank; k++, at += step)
        {
            var r0 = Vector.LoadUnsafe(ref p, at);
            var r1 = Vector.LoadUnsafe(ref p, at + (nuint)w);
            var b = new Vector<double>(Unsafe.Add(ref l, k));
            a00 = Vector.FusedMultiplyAdd(r0, b, a00); a01 = Vector.FusedMultiplyAdd(r1, b, a01);
            b = new Vector<double>(Unsafe.Add(ref l, rank + k));
            a10 = Vector.FusedMultiplyAdd(r0, b, a10); a11 = Vector.FusedMultiplyAdd(r1, b, a11);
            b = new Vector<double>(Unsafe.Add(ref l, 2 * rank + k));
            a20 = Vector.FusedMultiplyAdd(r0, b, a20); a21 = Vector.FusedMultiplyAdd(r1, b, a21);
            b = new Vector<double>(Unsafe.Add(ref l, 3 * rank + k));
            a30 = Vector.FusedMultiplyAdd(r0, b, a30); a31 = Vector.FusedMultiplyAdd(r1, b, a31);
            b = new Vector<double>(Unsafe.Add(ref l, 4 * rank + k));
            a40 = Vector.FusedMultiplyAdd(r0, b, a40); a41 = Vector.FusedMultiplyAdd(r1, b, a41);
            b = new Vector<double>(Unsafe.Add(ref l, 5 * rank + k));
            a50 = Vector.FusedMultiplyAdd(r0, b, a50); a51 = Vector.FusedMultiplyAdd(r1, b, a51);
            b = new Vector<double>(Unsafe.Add(ref l, 6 * rank + k));
            a60 = Vector.FusedMultiplyAdd(r0, b, a60); a61 = Vector.FusedMultiplyAdd(r1, b, a61);
            b = new Vector<double>(Unsafe.Add(ref l, 7 * rank + k));
            a70 = Vector.FusedMultiplyAdd(r0, b, a70); a71 = Vector.FusedMultiplyAdd(r1, b, a71);
        }
        nuint s = (nuint)stride, v = (nuint)w;
        a00.StoreUnsafe(ref d); a01.StoreUnsafe(ref d, v);
        a10.StoreUnsafe(ref d, s); a11.StoreUnsafe(ref d, s + v);
        a20.StoreUnsafe(ref d, 2 * s); a21.StoreUnsafe(ref d, 2 * s + v);
        a30.StoreUnsafe(ref d, 3 * s); a31.StoreUnsafe(ref d, 3 * s + v);
        a40.StoreUnsafe(ref d, 4 * s); a41.StoreUnsafe(ref d, 4 * s + v);
        a50.StoreUnsafe(ref d, 5 * s); a51.StoreUnsafe(ref d, 5 * s + v);
        a60.StoreUnsafe(ref d, 6 * s); a61.StoreUnsafe(ref d, 6 * s + v);
        a70.StoreUnsafe(ref d, 7 * s); a71.StoreUnsafe(ref d, 7 * s + v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OneRow(ref double p, ref double l, int rank, ref double d, int w)
    {
        Vector<double> a0 = default, a1 = default;
        nuint step = (nuint)(2 * w), at = 0;
        for (int k = 0; k < rank; k++, at += step)
        {
            double lk = Unsafe.Add(ref l, k);
            if (lk == 0) continue;
            var b = new Vector<double>(lk);
            a0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref p, at), b, a0);
            a1 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref p, at + (nuint)w), b, a1);
        }
        a0.StoreUnsafe(ref d); a1.StoreUnsafe(ref d, (nuint)w);
    }
}
