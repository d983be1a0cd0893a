using System.Numerics;
using System.Runtime.CompilerServices;

namespace DotnetMerge.Kernels;

/// <summary>The one summation order of every float64 reduction (sums, L1 norms, dot products), on the CPU and in the
/// generated CUDA kernels. Within a reduction span (a reduction chunk, a row), the value of element j (its offset from
/// the span start) is added, in increasing j, to accumulator <c>j % 16</c>; the 16 accumulators start at +0.0; the
/// span total is the tree t[l] = s[l] + s[l+8] (l &lt; 8), then t[l] + t[l+4] (l &lt; 4), t[l] + t[l+2] (l &lt; 2),
/// t[0] + t[1]. Callers add span totals in span order from +0.0.
/// <para>The order is fixed by the data, not by the machine: 16 lanes are two 512-bit, four 256-bit or eight 128-bit
/// double vectors, so every SIMD width (and a GPU warp) produces the same bits, and 16 independent chains keep the
/// adds pipelined where one running sum would wait on each add's latency.</para></summary>
public static class LaneSum
{
    /// <summary>Accumulators per span.</summary>
    public const int Lanes = 16;

    /// <summary>Elements per span of a whole-tensor reduction (the tensor is cut into spans of this many elements,
    /// whatever the map chunk size or thread count).</summary>
    public const int ChunkElements = 1 << 16;

    /// <summary>Σ values[j] of one span.</summary>
    public static double Sum(ReadOnlySpan<float> values)
    {
        Span<double> s = stackalloc double[Lanes];
        s.Clear();
        Accumulate<Plain>(values, default, s);
        return Total(s);
    }

    /// <summary>Σ |values[j]| of one span.</summary>
    public static double SumAbs(ReadOnlySpan<float> values)
    {
        Span<double> s = stackalloc double[Lanes];
        s.Clear();
        Accumulate<Absolute>(values, default, s);
        return Total(s);
    }

    /// <summary>Σ values[j]² of one span (squares of the float32 values, exact in double).</summary>
    public static double SumSquares(ReadOnlySpan<float> values)
    {
        Span<double> s = stackalloc double[Lanes];
        s.Clear();
        Accumulate<Square>(values, default, s);
        return Total(s);
    }

    /// <summary>Σ a[j]·b[j] of one span (float64 products, no fused multiply-add).</summary>
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("spans differ in length");
        Span<double> s = stackalloc double[Lanes];
        s.Clear();
        int n = a.Length, j = 0;
        if (Vector.IsHardwareAccelerated && Vector<double>.Count is 2 or 4 or 8)
        {
            // Lane l of the k-th vector is accumulator k·width + l, i.e. j % 16 for j in a 16-element block.
            int w = Vector<double>.Count;
            Vector<double> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (; j <= n - Lanes; j += Lanes)
            {
                a0 += new Vector<double>(a.Slice(j)) * new Vector<double>(b.Slice(j));
                a1 += new Vector<double>(a.Slice(j + w)) * new Vector<double>(b.Slice(j + w));
                if (w == 8) continue;
                a2 += new Vector<double>(a.Slice(j + 2 * w)) * new Vector<double>(b.Slice(j + 2 * w));
                a3 += new Vector<double>(a.Slice(j + 3 * w)) * new Vector<double>(b.Slice(j + 3 * w));
                if (w == 4) continue;
                a4 += new Vector<double>(a.Slice(j + 4 * w)) * new Vector<double>(b.Slice(j + 4 * w));
                a5 += new Vector<double>(a.Slice(j + 5 * w)) * new Vector<double>(b.Slice(j + 5 * w));
                a6 += new Vector<double>(a.Slice(j + 6 * w)) * new Vector<double>(b.Slice(j + 6 * w));
                a7 += new Vector<double>(a.Slice(j + 7 * w)) * new Vector<double>(b.Slice(j + 7 * w));
            }
            Store(s, w, a0, a1, a2, a3, a4, a5, a6, a7);
        }
        for (; j < n; j++) s[j % Lanes] += a[j] * b[j];
        return Total(s);
    }

    /// <summary>Per accumulator, the total of chunk-major partial sums (<paramref name="accumulators"/> per chunk): chunk
    /// totals added in chunk order from +0.0, the canonical order every reduction ends with (CPU and CUDA alike).</summary>
    public static double[] ChunkTotals(ReadOnlySpan<double> partial, int accumulators)
    {
        var totals = new double[accumulators];
        if (accumulators == 0) return totals;
        for (int c = 0; c < partial.Length / accumulators; c++)
            for (int a = 0; a < accumulators; a++)
                totals[a] += partial[c * accumulators + a];
        return totals;
    }

    /// <summary>The span total of 16 accumulators (the fixed tree).</summary>
    public static double Total(ReadOnlySpan<double> s)
    {
        if (s.Length != Lanes) throw new ArgumentException($"expected {Lanes} accumulators", nameof(s));
        double t0 = s[0] + s[8], t1 = s[1] + s[9], t2 = s[2] + s[10], t3 = s[3] + s[11];
        double t4 = s[4] + s[12], t5 = s[5] + s[13], t6 = s[6] + s[14], t7 = s[7] + s[15];
        t0 += t4; t1 += t5; t2 += t6; t3 += t7;
        t0 += t2; t1 += t3;
        return t0 + t1;
    }

    /// <summary>How each float32 element becomes the double that is added.</summary>
    private interface ITerm
    {
        static abstract double Scalar(float v);
        static abstract Vector<double> Lanes(Vector<double> v);
    }

    private readonly struct Plain : ITerm
    {
        public static double Scalar(float v) => v;
        public static Vector<double> Lanes(Vector<double> v) => v;
    }

    private readonly struct Absolute : ITerm
    {
        public static double Scalar(float v) => Math.Abs((double)v);
        public static Vector<double> Lanes(Vector<double> v) => Vector.Abs(v);
    }

    private readonly struct Square : ITerm
    {
        public static double Scalar(float v) => (double)v * v;
        public static Vector<double> Lanes(Vector<double> v) => v * v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<T>(ReadOnlySpan<float> values, T _, Span<double> s) where T : struct, ITerm
    {
        int n = values.Length, j = 0;
        if (Vector.IsHardwareAccelerated && Vector<double>.Count is 2 or 4 or 8)
        {
            // A float vector widens to two double vectors: elements [j, j + w) and [j + w, j + 2w).
            int w = Vector<double>.Count;
            Vector<double> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (; j <= n - Lanes; j += Lanes)
            {
                Vector.Widen(new Vector<float>(values.Slice(j)), out var l0, out var h0);
                a0 += T.Lanes(l0);
                a1 += T.Lanes(h0);
                if (w == 8) continue;
                Vector.Widen(new Vector<float>(values.Slice(j + 2 * w)), out var l1, out var h1);
                a2 += T.Lanes(l1);
                a3 += T.Lanes(h1);
                if (w == 4) continue;
                Vector.Widen(new Vector<float>(values.Slice(j + 4 * w)), out var l2, out var h2);
                a4 += T.Lanes(l2);
                a5 += T.Lanes(h2);
                Vector.Widen(new Vector<float>(values.Slice(j + 6 * w)), out var l3, out var h3);
                a6 += T.Lanes(l3);
                a7 += T.Lanes(h3);
            }
            Store(s, w, a0, a1, a2, a3, a4, a5, a6, a7);
        }
        for (; j < n; j++) s[j % Lanes] += T.Scalar(values[j]);
    }

    private static void Store(Span<double> s, int w, Vector<double> a0, Vector<double> a1, Vector<double> a2, Vector<double> a3,
        Vector<double> a4, Vector<double> a5, Vector<double> a6, Vector<double> a7)
    {
        a0.CopyTo(s);
        a1.CopyTo(s.Slice(w));
        if (w == 8) return;
        a2.CopyTo(s.Slice(2 * w));
        a3.CopyTo(s.Slice(3 * w));
        if (w == 4) return;
        a4.CopyTo(s.Slice(4 * w));
        a5.CopyTo(s.Slice(5 * w));
        a6.CopyTo(s.Slice(6 * w));
        a7.CopyTo(s.Slice(7 * w));
    }
}
