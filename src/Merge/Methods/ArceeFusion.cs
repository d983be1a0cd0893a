using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit <c>arcee_fusion</c>: keeps the donor's value where it matters most. Importance
/// I = |b − a| · KL(softmax(b) ‖ softmax(a)), the KL taken per row (last dimension, +1e-8 inside) and broadcast over
/// the row; threshold = median + 1.5·IQR of I; output = b where I ≥ threshold, else a (a = base).
/// Passes: one row pass computing the per-row KL (double) and I (float32, materialised: one float per element),
/// exact order statistics of I, then one map pass recomputing I element by element.
/// Differences from mergekit: the quantiles are exact over the whole tensor (mergekit samples 1e6 elements at random
/// for bigger tensors), and the output is written in the planned output dtype (mergekit promotes to float32).</summary>
public sealed class ArceeFusion : IMergeMethod
{
    public const double SoftmaxEpsilon = 1e-8;

    public string Name => "arcee_fusion";

    public void Merge(TensorMergeContext context)
    {
        if (VectorMath.BaseAndOther(context, Name) is not (var a, var b)) return;
        long n = context.OutputElementCount;
        if (n == 0) return;
        if (n > Array.MaxLength)
            throw new NotSupportedException($"arcee_fusion: '{context.OutputName}' has {n} elements, more than one importance buffer can hold");

        long width = VectorLayout.Rows(context.OutputShape).Width;
        var kl = new double[n / width];
        var importance = new float[n];
        VectorMath.ForEachRowChunk(context, [a, b], width, (start, length, ins) =>
        {
            for (int offset = 0; offset < length; offset += (int)width)
            {
                var rowA = ins[0].AsSpan(offset, (int)width);
                var rowB = ins[1].AsSpan(offset, (int)width);
                double rowKl = kl[(start + offset) / width] = RowKl(rowA, rowB);
                for (int e = 0; e < (int)width; e++) importance[start + offset + e] = Importance(rowA[e], rowB[e], rowKl);
            }
        });

        double threshold = Threshold(importance);

        ChunkLoop.Map(context, [a, b], (start, length, ins, output) =>
        {
            for (int e = 0; e < length; e++)
            {
                float x = ins[0][e], y = ins[1][e];
                output[e] = Importance(x, y, kl[(start + e) / width]) >= threshold ? y : x;
            }
        });
    }

    /// <summary>Importance of one element, rounded to float32 (the same value in the selection and the map pass).</summary>
    public static float Importance(float a, float b, double rowKl) => (float)(Math.Abs((double)b - a) * rowKl);

    /// <summary>KL(softmax(b) + ε ‖ softmax(a) + ε) of one row, in double.</summary>
    public static double RowKl(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double maxA = double.NegativeInfinity, maxB = double.NegativeInfinity;
        for (int e = 0; e < a.Length; e++)
        {
            maxA = Math.Max(maxA, a[e]);
            maxB = Math.Max(maxB, b[e]);
        }
        double sumA = 0, sumB = 0;
        for (int e = 0; e < a.Length; e++)
        {
            sumA += Math.Exp(a[e] - maxA);
            sumB += Math.Exp(b[e] - maxB);
        }
        double kl = 0;
        for (int e = 0; e < a.Length; e++)
        {
            double p = Math.Exp(b[e] - maxB) / sumB + SoftmaxEpsilon;
            double q = Math.Exp(a[e] - maxA) / sumA + SoftmaxEpsilon;
            kl += p * Math.Log(p / q);
        }
        return kl;
    }

    /// <summary>median + 1.5·(Q3 − Q1), each quantile q being the order statistic at index ⌊q·(n − 1)⌋ (mergekit's
    /// index rule), taken exactly over all values. Reorders <paramref name="values"/>.</summary>
    public static double Threshold(Span<float> values)
    {
        var (q1Index, medianIndex, q3Index) = QuantileIndices(values.Length);
        int k1 = (int)q1Index, k2 = (int)medianIndex, k3 = (int)q3Index;
        float median = Select(values, k2);
        // After selecting k2, everything before it is <= median and everything after is >= median.
        float q1 = k1 == k2 ? median : Select(values[..k2], k1);
        float q3 = k3 == k2 ? median : Select(values[(k2 + 1)..], k3 - k2 - 1);
        return Threshold(q1, median, q3);
    }

    /// <summary>The 0-based ascending order statistics the threshold reads among <paramref name="n"/> values: ⌊q·(n − 1)⌋
    /// for q = 0.25, 0.5, 0.75 (shared with the CUDA backend).</summary>
    public static (long Q1, long Median, long Q3) QuantileIndices(long n)
    {
        long last = n - 1;
        return ((long)(0.25 * last), (long)(0.5 * last), (long)(0.75 * last));
    }

    /// <summary>median + 1.5·(Q3 − Q1) (shared with the CUDA backend).</summary>
    public static double Threshold(float q1, float median, float q3) => median + 1.5 * ((double)q3 - q1);

    /// <summary>The k-th smallest value (0-based); partially reorders <paramref name="values"/> so that the value lands at
    /// index k with no larger value before it and no smaller after it. Quickselect with a median-of-three pivot, falling
    /// back to a sort of the remaining range after too many rounds (so O(n log n) at worst).</summary>
    public static float Select(Span<float> values, int k)
    {
        int lo = 0, hi = values.Length - 1;
        int rounds = 2 * (64 - (int)ulong.LeadingZeroCount((ulong)values.Length)) + 8;
        while (hi > lo)
        {
            if (rounds-- == 0)
            {
                values[lo..(hi + 1)].Sort();
                return values[k];
            }
            float x = values[lo], y = values[lo + (hi - lo) / 2], z = values[hi];
            float pivot = Math.Max(Math.Min(x, y), Math.Min(Math.Max(x, y), z));
            int i = lo, j = hi;
            while (i <= j)
            {
                while (values[i] < pivot) i++;
                while (values[j] > pivot) j--;
                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }
            if (k <= j) hi = j;
            else if (k >= i) lo = i;
            else return values[k];
        }
        return values[k];
    }
}
