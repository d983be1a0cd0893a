using System.Numerics;
using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit's generalized task arithmetic: every variant (task_arithmetic, ties, dare_*, breadcrumbs*,
/// della*) is a sparsification of each task vector δᵢ = xᵢ − base, an optional TIES sign consensus, and a mix:
/// <c>out = base + λ · Σᵢ wᵢ·δ̃ᵢ·Mᵢ / (normalize ? Σᵢ wᵢ·Mᵢ : 1)</c>.
/// Passes: the selections the sparsification needs (radix select, per model), one L1 reduction when
/// <c>rescale</c> is l1, then one fused map pass (decode, prune, elect, mix, encode).</summary>
public abstract class GeneralizedTaskArithmetic : IMergeMethod
{
    protected GeneralizedTaskArithmetic(Sparsification sparsification, bool signConsensus)
    {
        Sparsification = sparsification;
        SignConsensus = signConsensus;
    }

    public abstract string Name { get; }

    public Sparsification Sparsification { get; }

    /// <summary>TIES sign election on the weighted deltas ("sum" consensus).</summary>
    public bool SignConsensus { get; }

    public void Merge(TensorMergeContext ctx)
    {
        int[] tasks = TaskVectors.TaskIndices(ctx, Name);
        if (tasks.Length == 0) { TaskVectors.CopyBase(ctx); return; }

        bool normalize = ctx.Global.GetBool("normalize");
        double lambda = ctx.Global.GetDouble("lambda");
        var rescale = Sparsification == Sparsification.None ? RescaleMode.None : Rescale.Parse(ctx.Global.GetString("rescale"));
        var weights = tasks.Select(t => ctx.Inputs[t].Parameters.GetDouble("weight")).ToArray();
        var pruners = DeltaPruner.CreateAll(Sparsification, ctx, tasks);
        var scales = Scales(ctx, tasks, pruners, rescale);
        long rowLength = pruners.FirstOrDefault(p => p is not null)?.RowLength ?? 0;

        double weightSum = weights.Sum();
        double plainDivisor = normalize && Math.Abs(weightSum) >= 1e-8 ? weightSum : 1;
        int baseIndex = ctx.BaseIndex;
        bool odd = OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        if (pruners.All(p => p is null) && tasks.Length <= MaxVectorTasks && Bf16Lanes.Applies(ctx, ctx.Inputs))
        {
            // Nothing pruned: one pass over the raw bf16 bytes (deltas, mix and encode in registers).
            Bf16Lanes.Map(ctx, ctx.Inputs, new UnprunedKernel(this, tasks, baseIndex, weights, scales, normalize, plainDivisor, lambda, odd));
            return;
        }
        ChunkLoop.MapRows(ctx, ctx.Inputs, rowLength, (start, length, ins, output) =>
        {
            TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
            for (int t = 0; t < tasks.Length; t++) pruners[t]?.Prune(start, ins[tasks[t]].AsSpan(0, length));
            Mix(ins, tasks, baseIndex, weights, scales, length, normalize, plainDivisor, lambda, odd, output);
        });
    }

    /// <summary>The fused mix of one chunk (inputs already turned into pruned task vectors). Vectorised in double:
    /// each lane performs exactly the scalar sequence of operations (same order, no fused multiply-add), so the
    /// output is bit-identical to <see cref="MixScalar"/>.</summary>
    private void Mix(float[][] ins, int[] tasks, int baseIndex, double[] weights, double[] scales, int length,
        bool normalize, double plainDivisor, double lambda, bool odd, float[] output)
    {
        int j = 0, width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated && tasks.Length <= MaxVectorTasks)
        {
            var b = ins[baseIndex];
            Span<Vector<float>> deltas = stackalloc Vector<float>[tasks.Length];
            for (; j <= length - width; j += width)
            {
                for (int t = 0; t < tasks.Length; t++) deltas[t] = new Vector<float>(ins[tasks[t]], j);
                MixLanes(deltas, new Vector<float>(b, j), weights, scales, normalize, plainDivisor, lambda, odd).CopyTo(output, j);
            }
        }
        MixScalar(ins, tasks, baseIndex, weights, scales, j, length, normalize, plainDivisor, lambda, odd, output);
    }

    private const int MaxVectorTasks = 64;

    /// <summary>The mix of <see cref="Vector{T}.Count"/> elements: task vectors <paramref name="deltas"/> (float32, one
    /// per task) and base lanes <paramref name="b"/> in, the float32 to encode out; lane for lane what
    /// <see cref="MixScalar"/> does.</summary>
    private Vector<float> MixLanes(ReadOnlySpan<Vector<float>> deltas, Vector<float> b, double[] weights, double[] scales,
        bool normalize, double plainDivisor, double lambda, bool odd)
    {
        Span<Vector<double>> weightedLow = stackalloc Vector<double>[deltas.Length];
        Span<Vector<double>> weightedHigh = stackalloc Vector<double>[deltas.Length];
        Vector<double> sumLow = Vector<double>.Zero, sumHigh = Vector<double>.Zero;
        for (int t = 0; t < deltas.Length; t++)
        {
            Vector.Widen(deltas[t], out var dl, out var dh);
            var w = new Vector<double>(weights[t]);
            var sc = new Vector<double>(scales[t]);
            weightedLow[t] = w * (dl * sc);
            weightedHigh[t] = w * (dh * sc);
            sumLow += weightedLow[t];
            sumHigh += weightedHigh[t];
        }
        Vector<double> mixedLow, mixedHigh;
        if (SignConsensus)
        {
            mixedLow = Consensus(weightedLow, weights, sumLow, normalize);
            mixedHigh = Consensus(weightedHigh, weights, sumHigh, normalize);
        }
        else if (LinearMerge.IsPowerOfTwo(plainDivisor))
        {
            // Dividing by a power of two is exactly multiplying by its reciprocal (and much cheaper than vdivpd).
            var r = new Vector<double>(1 / plainDivisor);
            mixedLow = sumLow * r;
            mixedHigh = sumHigh * r;
        }
        else
        {
            var d = new Vector<double>(plainDivisor);
            mixedLow = sumLow / d;
            mixedHigh = sumHigh / d;
        }
        var lam = new Vector<double>(lambda);
        Vector.Widen(b, out var bl, out var bh);
        return OutputRounding.Narrow(bl + lam * mixedLow, bh + lam * mixedHigh, odd);
    }

    /// <summary><see cref="Mix"/> of unpruned task vectors for <see cref="Bf16Lanes"/>: the delta is taken in float32
    /// (as <see cref="TaskVectors.ToDeltas"/>), then the same double-precision operations in the same order.</summary>
    private readonly struct UnprunedKernel(GeneralizedTaskArithmetic method, int[] tasks, int baseIndex, double[] weights,
        double[] scales, bool normalize, double plainDivisor, double lambda, bool odd) : IElementwiseKernel
    {
        private readonly double _reciprocal = LinearMerge.IsPowerOfTwo(plainDivisor) ? 1 / plainDivisor : 0;

        public Vector<float> Lanes(ReadOnlySpan<Vector<float>> inputs)
        {
            if (!method.SignConsensus && _reciprocal != 0) return PlainSum(inputs);
            Span<Vector<float>> deltas = stackalloc Vector<float>[tasks.Length];
            var b = inputs[baseIndex];
            for (int t = 0; t < tasks.Length; t++) deltas[t] = inputs[tasks[t]] - b;
            return method.MixLanes(deltas, b, weights, scales, normalize, plainDivisor, lambda, odd);
        }

        /// <summary>The common case (no election, power-of-two divisor) without per-call scratch: the same operations
        /// as <see cref="MixLanes"/> in the same order.</summary>
        private Vector<float> PlainSum(ReadOnlySpan<Vector<float>> inputs)
        {
            var b = inputs[baseIndex];
            Vector<double> sumLow = Vector<double>.Zero, sumHigh = Vector<double>.Zero;
            for (int t = 0; t < tasks.Length; t++)
            {
                Vector.Widen(inputs[tasks[t]] - b, out var dl, out var dh);
                var w = new Vector<double>(weights[t]);
                var sc = new Vector<double>(scales[t]);
                sumLow += w * (dl * sc);
                sumHigh += w * (dh * sc);
            }
            var r = new Vector<double>(_reciprocal);
            var lam = new Vector<double>(lambda);
            Vector.Widen(b, out var bl, out var bh);
            return OutputRounding.Narrow(bl + lam * (sumLow * r), bh + lam * (sumHigh * r), odd);
        }

        public float Scalar(ReadOnlySpan<float> inputs)
        {
            float[][] ins = new float[inputs.Length][];
            for (int i = 0; i < ins.Length; i++) ins[i] = [inputs[i]];
            TaskVectors.ToDeltas(ins, baseIndex, tasks, 1);
            var output = new float[1];
            method.MixScalar(ins, tasks, baseIndex, weights, scales, 0, 1, normalize, plainDivisor, lambda, odd, output);
            return output[0];
        }
    }

    /// <summary>TIES "sum" election per lane: keep the weighted deltas whose sign is that of their sum (zero counts as
    /// positive), divide by the weights of the kept ones when normalising. Adding a masked-out +0.0 leaves a sum of
    /// same-signed non-zero terms unchanged, so this equals skipping the term.</summary>
    private static Vector<double> Consensus(ReadOnlySpan<Vector<double>> weighted, double[] weights, Vector<double> sum, bool normalize)
    {
        var positive = Vector.GreaterThanOrEqual(sum, Vector<double>.Zero);
        Vector<double> agreeing = Vector<double>.Zero, divisor = Vector<double>.Zero;
        for (int t = 0; t < weighted.Length; t++)
        {
            var v = weighted[t];
            var agrees = Vector.ConditionalSelect(positive, Vector.GreaterThan(v, Vector<double>.Zero), Vector.LessThan(v, Vector<double>.Zero));
            agreeing += Vector.ConditionalSelect(agrees, v, Vector<double>.Zero);
            divisor += Vector.ConditionalSelect(agrees, new Vector<double>(weights[t]), Vector<double>.Zero);
        }
        if (!normalize) return agreeing;
        var safe = Vector.ConditionalSelect(Vector.Equals(divisor, Vector<double>.Zero), Vector<double>.One, divisor);
        return agreeing / safe;
    }

    private void MixScalar(float[][] ins, int[] tasks, int baseIndex, double[] weights, double[] scales, int from, int length,
        bool normalize, double plainDivisor, double lambda, bool odd, float[] output)
    {
        var b = ins[baseIndex];
        Span<double> weighted = stackalloc double[tasks.Length];
        for (int j = from; j < length; j++)
        {
            double sum = 0;
            for (int t = 0; t < tasks.Length; t++)
            {
                weighted[t] = weights[t] * (ins[tasks[t]][j] * scales[t]);
                sum += weighted[t];
            }
            double mixed;
            if (SignConsensus)
            {
                bool positive = sum >= 0;
                double agreeing = 0, divisor = 0;
                for (int t = 0; t < tasks.Length; t++)
                    if (positive ? weighted[t] > 0 : weighted[t] < 0) { agreeing += weighted[t]; divisor += weights[t]; }
                mixed = normalize ? agreeing / (divisor == 0 ? 1 : divisor) : agreeing;
            }
            else
            {
                mixed = sum / plainDivisor;
            }
            output[j] = OutputRounding.Narrow(b[j] + lambda * mixed, odd);
        }
    }

    /// <summary>Per-model factors applied to the kept entries (1 where nothing is pruned or rescale is off).</summary>
    private static double[] Scales(TensorMergeContext ctx, int[] tasks, DeltaPruner?[] pruners, RescaleMode rescale)
    {
        var scales = new double[tasks.Length];
        Array.Fill(scales, 1.0);
        if (rescale == RescaleMode.Inverse)
        {
            for (int t = 0; t < tasks.Length; t++)
                if (pruners[t] is { Density: > 0 } p) scales[t] = 1 / p.Density;
        }
        else if (rescale == RescaleMode.L1 && pruners.Any(p => p is not null))
        {
            long rowLength = pruners.First(p => p is not null)!.RowLength;
            int baseIndex = ctx.BaseIndex;
            // Per model: ‖δ‖₁ and ‖pruned δ‖₁ (float64, LaneSum's order within a chunk, chunks summed in order).
            foreach (var p in pruners) p?.RememberDecisions(ctx.OutputElementCount);
            var norms = ChunkLoop.Reduce(ctx.Settings, ctx.Inputs, ChunkLoop.RowChunk(TaskVectors.ReductionChunk, rowLength),
                2 * tasks.Length, (start, length, ins, acc) =>
                {
                    TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
                    for (int t = 0; t < tasks.Length; t++)
                    {
                        if (pruners[t] is null) continue;
                        var delta = ins[tasks[t]].AsSpan(0, length);
                        double before = LaneSum.SumAbs(delta);
                        pruners[t]!.Prune(start, delta);
                        acc[2 * t] += before;
                        acc[2 * t + 1] += LaneSum.SumAbs(delta);
                    }
                });
            foreach (var p in pruners) p?.DecisionsComplete();
            for (int t = 0; t < tasks.Length; t++)
                if (pruners[t] is not null && norms[2 * t] >= 1e-7 && norms[2 * t + 1] >= 1e-7)
                    scales[t] = norms[2 * t] / norms[2 * t + 1];
        }
        return scales;
    }
}
