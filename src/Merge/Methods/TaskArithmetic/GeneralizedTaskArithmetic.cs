using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit's generalized task arithmetic: every variant (task_arithmetic, ties, dare_*, breadcrumbs*,
/// della*) is a sparsification of each task vector δᵢ = xᵢ − base, an optional TIES sign consensus, and a mix:
/// <c>out = base + λ · Σᵢ wᵢ·δ̃ᵢ·Mᵢ / (normalize ? Σᵢ wᵢ·Mᵢ : 1)</c>.
/// Passes: the selections the sparsification needs (radix select, per model; DARE draws its Bernoulli bits once),
/// one L1 reduction when <c>rescale</c> is l1, then one fused map pass (decode, prune, elect, mix, encode). On
/// uncropped bf16 tensors the L1 and map passes read the raw bf16 words and keep everything in registers
/// (<see cref="Bf16Lanes"/>, <see cref="PruneLanes"/>); DELLA (row-local ranking) and other dtypes go through
/// float32 chunks (<see cref="ChunkLoop"/>) with the same operations, so both give the same bytes.</summary>
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
        try
        {
            Merge(ctx, tasks, weights, normalize, lambda, rescale, pruners);
        }
        finally
        {
            foreach (var p in pruners) p?.Release();
        }
    }

    private void Merge(TensorMergeContext ctx, int[] tasks, double[] weights, bool normalize, double lambda, RescaleMode rescale,
        DeltaPruner?[] pruners)
    {
        // Each pass (L1 norms, mix) reads the raw bf16 words once when every pruner has an in-register form.
        var lanes = tasks.Length <= MaxVectorTasks && Bf16Lanes.Applies(ctx, ctx.Inputs) ? LanesOf(pruners) : null;
        var scales = Scales(ctx, tasks, pruners, rescale, lanes);
        foreach (var p in pruners) p?.DrawRemaining(ctx.Settings, spansDrawn: false);
        long rowLength = RowLength(pruners);

        double weightSum = weights.Sum();
        double plainDivisor = normalize && Math.Abs(weightSum) >= 1e-8 ? weightSum : 1;
        int baseIndex = ctx.BaseIndex;
        bool odd = OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        var mix = new MixParameters(SignConsensus, weights, scales, normalize, plainDivisor, lambda, odd);
        if (lanes is not null)
        {
            // Read bf16 words, widen, delta, prune, weight, elect, mix in double, round to odd, encode, store: one loop.
            if (tasks.Length == 2)
                Bf16Lanes.MapIndexed(ctx, ctx.Inputs, new Bf16Kernel2(baseIndex, tasks[0], tasks[1], pruners[0] is not null,
                    pruners[1] is not null, lanes[0], lanes[1], mix));
            else
                Bf16Lanes.MapIndexed(ctx, ctx.Inputs, new Bf16Kernel(tasks, baseIndex, pruners.Select(p => p is not null).ToArray(), lanes, mix));
            return;
        }
        var slots = Enumerable.Range(0, tasks.Length).ToArray();
        ChunkLoop.MapRows(ctx, ctx.Inputs, rowLength, (start, length, ins, output) =>
        {
            TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
            for (int t = 0; t < tasks.Length; t++) pruners[t]?.Prune(start, ins[tasks[t]].AsSpan(0, length));
            Mix(ins, tasks, slots, baseIndex, mix, length, output);
        });
    }

    /// <summary>The in-register pruners (an unused entry where a model is not pruned), or null when one has no such form.</summary>
    private static PruneLanes[]? LanesOf(DeltaPruner?[] pruners)
    {
        var lanes = new PruneLanes[pruners.Length];
        for (int t = 0; t < pruners.Length; t++)
            if (pruners[t] is { } p && !p.TryGetLanes(out lanes[t])) return null;
        return lanes;
    }

    private const int MaxVectorTasks = 64;

    /// <summary>What the mix of every element needs (one value per task in the arrays).</summary>
    private sealed record MixParameters(bool SignConsensus, double[] Weights, double[] Scales, bool Normalize, double PlainDivisor,
        double Lambda, bool Odd)
    {
        /// <summary>1 / divisor when dividing by it is exactly multiplying by that (a power of two), else 0.</summary>
        public double Reciprocal { get; } = LinearMerge.IsPowerOfTwo(PlainDivisor) ? 1 / PlainDivisor : 0;

        /// <summary>Every scale is 1: x · 1 = x exactly (NaN and ±0 included), so the lanes skip that product.</summary>
        public bool UnitScales { get; } = Scales.All(s => s == 1);

        /// <summary>λ = 1: the lanes skip that product (exact, as above).</summary>
        public bool UnitLambda { get; } = Lambda == 1;

        /// <summary>TIES with normalize, and every divisor a lane can meet is a power of two: the lanes multiply by
        /// its exact reciprocal instead of dividing (the same bits; a division costs as much as the rest of the mix).</summary>
        public bool PowerOfTwoDivisors { get; } = SignConsensus && Normalize && DivisorsArePowersOfTwo(Weights);
    }

    /// <summary>What the vector mix reads per element, copied out of <see cref="MixParameters"/> into a struct the
    /// kernels hold by value: flags and broadcast constants, no object or array to load through in the loop.</summary>
    private readonly struct MixLanes
    {
        public MixLanes(MixParameters mix)
        {
            SignConsensus = mix.SignConsensus;
            Normalize = mix.Normalize;
            PowerOfTwoDivisors = mix.PowerOfTwoDivisors;
            UnitScales = mix.UnitScales;
            UnitLambda = mix.UnitLambda;
            Odd = mix.Odd;
            HasReciprocal = mix.Reciprocal != 0;
            Reciprocal = new Vector<double>(mix.Reciprocal);
            PlainDivisor = new Vector<double>(mix.PlainDivisor);
            Lambda = new Vector<double>(mix.Lambda);
        }

        public readonly bool SignConsensus, Normalize, PowerOfTwoDivisors, UnitScales, UnitLambda, Odd, HasReciprocal;
        public readonly Vector<double> Reciprocal, PlainDivisor, Lambda;
    }

    /// <summary>Whether the normalising divisor of the TIES mix is a power of two whatever the election keeps: the sum,
    /// in model order from +0.0, of the weights of every non-empty subset of models is 0 (replaced by 1) or ±2^k with
    /// an exact reciprocal. Equal weights of two models (0.5 and 0.5, 1 and 1) are the common case. Checked for up
    /// to 12 models (4095 subsets); more are treated as not.</summary>
    internal static bool DivisorsArePowersOfTwo(IReadOnlyList<double> weights)
    {
        if (weights.Count > 12) return false;
        for (int subset = 1; subset < 1 << weights.Count; subset++)
        {
            double divisor = 0;
            for (int t = 0; t < weights.Count; t++)
                if ((subset >> t & 1) != 0) divisor += weights[t];
            if (divisor != 0 && !LinearMerge.IsPowerOfTwo(divisor)) return false;
        }
        return true;
    }

    /// <summary>1 / d for lanes holding ±2^k whose reciprocal is normal (exact: the exponent mirrored around the bias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExactReciprocal(Vector<double> powerOfTwo)
    {
        var bits = Vector.AsVectorUInt64(powerOfTwo);
        var sign = bits & new Vector<ulong>(0x8000_0000_0000_0000ul);
        return Vector.AsVectorDouble((new Vector<ulong>(0x7FE0_0000_0000_0000ul) - (bits ^ sign)) | sign);
    }

    /// <summary>The fused mix of one chunk (inputs already turned into pruned task vectors). Vectorised in double:
    /// each lane performs exactly the scalar sequence of operations (same order, no fused multiply-add), so the
    /// output is bit-identical to <see cref="MixOne"/>.</summary>
    private static void Mix(float[][] ins, int[] tasks, int[] slots, int baseIndex, MixParameters mix, int length, float[] output)
    {
        int j = 0, width = Vector<float>.Count;
        var b = ins[baseIndex];
        if (Vector.IsHardwareAccelerated && tasks.Length <= MaxVectorTasks)
        {
            Span<Vector<float>> deltas = stackalloc Vector<float>[tasks.Length];
            var lanes = new MixLanes(mix);
            for (; j <= length - width; j += width)
            {
                for (int t = 0; t < tasks.Length; t++) deltas[t] = new Vector<float>(ins[tasks[t]], j);
                MixVector(deltas, slots, new Vector<float>(b, j), mix, lanes).CopyTo(output, j);
            }
        }
        Span<float> values = tasks.Length <= 64 ? stackalloc float[tasks.Length] : new float[tasks.Length];
        for (; j < length; j++)
        {
            for (int t = 0; t < tasks.Length; t++) values[t] = ins[tasks[t]][j];
            output[j] = MixOne(values, slots, b[j], mix);
        }
    }

    /// <summary>The mix of <see cref="Vector{T}.Count"/> elements: the task vector of task t (float32, pruned) in
    /// <c>values[slots[t]]</c>, base lanes <paramref name="b"/>; the float32 to encode out. Lane for lane what
    /// <see cref="MixOne"/> does; no scratch (the election recomputes the weighted terms, the same values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> MixVector(ReadOnlySpan<Vector<float>> values, int[] slots, Vector<float> b, MixParameters mix, in MixLanes lanes)
    {
        var weights = mix.Weights;
        Vector<double> sumLow = Vector<double>.Zero, sumHigh = Vector<double>.Zero;
        for (int t = 0; t < slots.Length; t++)
        {
            Weighted(values[slots[t]], t, mix, lanes, out var wl, out var wh);
            sumLow += wl;
            sumHigh += wh;
        }
        if (!lanes.SignConsensus) return Finish(Divided(sumLow, lanes), Divided(sumHigh, lanes), b, lanes);
        Vector<double> flipLow = ElectionFlip(sumLow), flipHigh = ElectionFlip(sumHigh);
        Vector<double> agreeingLow = Vector<double>.Zero, agreeingHigh = Vector<double>.Zero;
        Vector<double> divisorLow = Vector<double>.Zero, divisorHigh = Vector<double>.Zero;
        for (int t = 0; t < slots.Length; t++)
        {
            var w = new Vector<double>(weights[t]);
            Weighted(values[slots[t]], t, mix, lanes, out var vl, out var vh);
            Elect(vl, w, flipLow, ref agreeingLow, ref divisorLow);
            Elect(vh, w, flipHigh, ref agreeingHigh, ref divisorHigh);
        }
        return Finish(Elected(agreeingLow, divisorLow, lanes), Elected(agreeingHigh, divisorHigh, lanes), b, lanes);
    }

    // TIES "sum" election per lane: keep the weighted deltas whose sign is that of their sum (zero counts as positive),
    // divide by the weights of the kept ones when normalising. Adding a masked-out +0.0 leaves a sum of same-signed
    // non-zero terms unchanged, so this equals skipping the term.

    /// <summary>The sign bit where the sum is not positive (NaN sums included), else 0: "v agrees with the sum" is then
    /// v' > 0 for v' = v with that bit flipped, in every lane (NaN and ±0 never agree either way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ElectionFlip(Vector<double> sum)
    {
        var sign = Vector.AsVectorDouble(new Vector<ulong>(0x8000_0000_0000_0000ul));
        if (Vector<double>.Count == Vector512<double>.Count && Avx512F.IsSupported) // a masked move, no mask vector
            return Avx512F.BlendVariable(sign.AsVector512(), Vector512<double>.Zero, Vector512.GreaterThanOrEqual(sum.AsVector512(), Vector512<double>.Zero)).AsVector();
        return Vector.AndNot(sign, Vector.AsVectorDouble(Vector.GreaterThanOrEqual(sum, Vector<double>.Zero)));
    }

    /// <summary>Adds one weighted term <paramref name="v"/> (weight <paramref name="w"/>) to the agreeing sum and the
    /// divisor where it agrees with the sign of the sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Elect(Vector<double> v, Vector<double> w, Vector<double> flip, ref Vector<double> agreeing, ref Vector<double> divisor)
    {
        // Lanes that do not agree add +0.0 (masked out). With AVX-512 they keep their sums instead, one add under a mask
        // register: the same bits, since neither sum is ever -0.0 (each starts at +0.0 and grows only by same-signed
        // non-zero terms, or by weights, and x + y is -0.0 only for x = y = -0.0).
        if (Vector<double>.Count == Vector512<double>.Count && Avx512F.IsSupported)
        {
            var mask = Vector512.GreaterThan(Vector.Xor(v, flip).AsVector512(), Vector512<double>.Zero);
            agreeing = Avx512F.BlendVariable(agreeing.AsVector512(), agreeing.AsVector512() + v.AsVector512(), mask).AsVector();
            divisor = Avx512F.BlendVariable(divisor.AsVector512(), divisor.AsVector512() + w.AsVector512(), mask).AsVector();
            return;
        }
        var agrees = Vector.AsVectorDouble(Vector.GreaterThan(Vector.Xor(v, flip), Vector<double>.Zero));
        agreeing += v & agrees;
        divisor += w & agrees;
    }

    /// <summary>The elected mix: the agreeing sum, divided by the agreeing weights (0 replaced by 1) when normalising.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Elected(Vector<double> agreeing, Vector<double> divisor, in MixLanes mix)
    {
        if (!mix.Normalize) return agreeing;
        divisor = Vector.ConditionalSelect(Vector.Equals(divisor, Vector<double>.Zero), Vector<double>.One, divisor);
        return mix.PowerOfTwoDivisors ? agreeing * ExactReciprocal(divisor) : agreeing / divisor;
    }

    /// <summary>The unelected mix: the sum over the plain divisor (multiplied by its reciprocal when that is exact: a
    /// power of two, and much cheaper than vdivpd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Divided(Vector<double> sum, in MixLanes mix)
        => mix.HasReciprocal ? sum * mix.Reciprocal : sum / mix.PlainDivisor;

    /// <summary>base + λ·mixed (the product skipped when λ = 1, which is exact), narrowed for the encoder.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Finish(Vector<double> mixedLow, Vector<double> mixedHigh, Vector<float> b, in MixLanes mix)
    {
        if (!mix.UnitLambda)
        {
            mixedLow = mix.Lambda * mixedLow;
            mixedHigh = mix.Lambda * mixedHigh;
        }
        Vector.Widen(b, out var bl, out var bh);
        return OutputRounding.Narrow(bl + mixedLow, bh + mixedHigh, mix.Odd);
    }

    /// <summary>wₜ · (δ · scaleₜ) of both halves of <paramref name="delta"/> (the scale product skipped when it is 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Weighted(Vector<float> delta, int t, MixParameters mix, in MixLanes lanes, out Vector<double> low, out Vector<double> high)
        => Weighted(delta, new Vector<double>(mix.Scales[t]), new Vector<double>(mix.Weights[t]), lanes.UnitScales, out low, out high);

    /// <summary>w · (δ · scale) of both halves of <paramref name="delta"/> (the scale product skipped when every scale is 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Weighted(Vector<float> delta, Vector<double> scale, Vector<double> weight, bool unitScales, out Vector<double> low,
        out Vector<double> high)
    {
        Vector.Widen(delta, out low, out high);
        if (!unitScales)
        {
            low *= scale;
            high *= scale;
        }
        low = weight * low;
        high = weight * high;
    }

    /// <summary>The mix of one element: the task vector of task t in <c>values[slots[t]]</c>, base value
    /// <paramref name="b"/> (the reference form of <see cref="MixVector"/>).</summary>
    private static float MixOne(ReadOnlySpan<float> values, int[] slots, float b, MixParameters mix)
    {
        var weights = mix.Weights;
        var scales = mix.Scales;
        double sum = 0;
        for (int t = 0; t < slots.Length; t++) sum += weights[t] * (values[slots[t]] * scales[t]);
        double mixed;
        if (mix.SignConsensus)
        {
            bool positive = sum >= 0;
            double agreeing = 0, divisor = 0;
            for (int t = 0; t < slots.Length; t++)
            {
                double weighted = weights[t] * (values[slots[t]] * scales[t]);
                if (positive ? weighted > 0 : weighted < 0) { agreeing += weighted; divisor += weights[t]; }
            }
            mixed = mix.Normalize ? agreeing / (divisor == 0 ? 1 : divisor) : agreeing;
        }
        else
        {
            mixed = sum / mix.PlainDivisor;
        }
        return OutputRounding.Narrow(b + mix.Lambda * mixed, mix.Odd);
    }

    /// <summary>The whole per-element sequence for <see cref="Bf16Lanes"/>: the delta in float32 (as
    /// <see cref="TaskVectors.ToDeltas"/>), the prune (as <see cref="DeltaPruner.Prune"/>), then the mix.</summary>
    private readonly struct Bf16Kernel(int[] tasks, int baseIndex, bool[] pruned, PruneLanes[] lanes, MixParameters mix)
        : IIndexedElementwiseKernel
    {
        private readonly MixLanes _mix = new(mix);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<float> Lanes(Span<Vector<float>> inputs, long index)
        {
            var b = inputs[baseIndex];
            if (!_mix.SignConsensus && _mix.HasReciprocal) return PlainSum(inputs, b, index);
            for (int t = 0; t < tasks.Length; t++)
            {
                var d = inputs[tasks[t]] - b;
                inputs[tasks[t]] = pruned[t] ? lanes[t].Apply(d, index) : d;
            }
            return MixVector(inputs, tasks, b, mix, _mix);
        }

        /// <summary>The common unelected case (power-of-two divisor) summed as it goes: the same operations as
        /// <see cref="MixVector"/> in the same order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector<float> PlainSum(Span<Vector<float>> inputs, Vector<float> b, long index)
        {
            Vector<double> sumLow = Vector<double>.Zero, sumHigh = Vector<double>.Zero;
            for (int t = 0; t < tasks.Length; t++)
            {
                var d = inputs[tasks[t]] - b;
                if (pruned[t]) d = lanes[t].Apply(d, index);
                Weighted(d, t, mix, _mix, out var wl, out var wh);
                sumLow += wl;
                sumHigh += wh;
            }
            return Finish(sumLow * _mix.Reciprocal, sumHigh * _mix.Reciprocal, b, _mix);
        }

        public float Scalar(Span<float> inputs, long index)
        {
            float b = inputs[baseIndex];
            for (int t = 0; t < tasks.Length; t++)
            {
                float d = inputs[tasks[t]] - b;
                inputs[tasks[t]] = pruned[t] ? lanes[t].Apply(d, index) : d;
            }
            return MixOne(inputs, tasks, b, mix);
        }
    }

    /// <summary><see cref="Bf16Kernel"/> for exactly two task models (the common case: two fine-tunes of one base):
    /// the same operations in the same order, with each model's prune lanes, weights, scales and weighted terms in
    /// fields and locals instead of arrays walked per element, and the weighted terms kept for the election instead
    /// of recomputed.</summary>
    private readonly struct Bf16Kernel2(int baseIndex, int task0, int task1, bool pruned0, bool pruned1, PruneLanes lanes0,
        PruneLanes lanes1, MixParameters mix) : IIndexedElementwiseKernel
    {
        private readonly Vector<double> _weight0 = new(mix.Weights[0]), _weight1 = new(mix.Weights[1]);
        private readonly Vector<double> _scale0 = new(mix.Scales[0]), _scale1 = new(mix.Scales[1]);
        private readonly MixLanes _mix = new(mix);
        private readonly int[] _slots = [task0, task1];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<float> Lanes(Span<Vector<float>> inputs, long index)
        {
            var b = inputs[baseIndex];
            var d0 = inputs[task0] - b;
            var d1 = inputs[task1] - b;
            if (pruned0) d0 = lanes0.Apply(d0, index);
            if (pruned1) d1 = lanes1.Apply(d1, index);
            Weighted(d0, _scale0, _weight0, _mix.UnitScales, out var low0, out var high0);
            Weighted(d1, _scale1, _weight1, _mix.UnitScales, out var low1, out var high1);
            // From +0.0, in model order, as MixVector sums (0.0 + x is not x for x = -0.0).
            var sumLow = Vector<double>.Zero + low0 + low1;
            var sumHigh = Vector<double>.Zero + high0 + high1;
            if (!_mix.SignConsensus) return Finish(Divided(sumLow, _mix), Divided(sumHigh, _mix), b, _mix);
            Vector<double> flipLow = ElectionFlip(sumLow), flipHigh = ElectionFlip(sumHigh);
            Vector<double> agreeingLow = Vector<double>.Zero, agreeingHigh = Vector<double>.Zero;
            Vector<double> divisorLow = Vector<double>.Zero, divisorHigh = Vector<double>.Zero;
            Elect(low0, _weight0, flipLow, ref agreeingLow, ref divisorLow);
            Elect(high0, _weight0, flipHigh, ref agreeingHigh, ref divisorHigh);
            Elect(low1, _weight1, flipLow, ref agreeingLow, ref divisorLow);
            Elect(high1, _weight1, flipHigh, ref agreeingHigh, ref divisorHigh);
            return Finish(Elected(agreeingLow, divisorLow, _mix), Elected(agreeingHigh, divisorHigh, _mix), b, _mix);
        }

        public float Scalar(Span<float> inputs, long index)
        {
            float b = inputs[baseIndex];
            float d0 = inputs[task0] - b, d1 = inputs[task1] - b;
            inputs[task0] = pruned0 ? lanes0.Apply(d0, index) : d0;
            inputs[task1] = pruned1 ? lanes1.Apply(d1, index) : d1;
            return MixOne(inputs, _slots, b, mix);
        }
    }

    /// <summary>Rows the chunks must hold whole: those of any row-local pruner (a DELLA model with density 0 prunes
    /// everything without rows, so the first pruner is not necessarily the one that has them).</summary>
    private static long RowLength(DeltaPruner?[] pruners) => pruners.Max(p => p?.RowLength ?? 0);

    /// <summary>Per-model factors applied to the kept entries (1 where nothing is pruned or rescale is off).
    /// <paramref name="lanes"/>: the in-register pruners when the inputs are one-pass bf16, else null.</summary>
    private static double[] Scales(TensorMergeContext ctx, int[] tasks, DeltaPruner?[] pruners, RescaleMode rescale, PruneLanes[]? lanes)
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
            long rowLength = RowLength(pruners);
            int baseIndex = ctx.BaseIndex;
            // Per model: ‖δ‖₁ and ‖pruned δ‖₁ (float64, LaneSum's order within a chunk, chunks summed in order).
            double[] norms;
            if (lanes is not null)
            {
                // One pass over the raw bf16 bytes: delta, |δ|, prune, |pruned δ| in registers, the same sums. DARE's
                // decisions are drawn span by span in this pass, just before the span's inputs are read.
                var pruned = pruners.Select(p => p is not null).ToArray();
                Action<long, int> draw = (start, length) => { foreach (var p in pruners) p?.DrawSpan(start, length); };
                norms = tasks.Length == 2
                    ? Bf16Lanes.SumTerms(ctx, ctx.Inputs, new NormTerms2(baseIndex, tasks[0], tasks[1], pruned[0], pruned[1], lanes[0], lanes[1]), draw)
                    : Bf16Lanes.SumTerms(ctx, ctx.Inputs, new NormTerms(tasks, baseIndex, pruned, lanes), draw);
                foreach (var p in pruners) p?.DrawRemaining(ctx.Settings, spansDrawn: true);
            }
            else
            {
                foreach (var p in pruners) p?.DrawRemaining(ctx.Settings, spansDrawn: false);
                norms = ChunkLoop.Reduce(ctx.Settings, ctx.Inputs, ChunkLoop.RowChunk(TaskVectors.ReductionChunk, rowLength),
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
            }
            for (int t = 0; t < tasks.Length; t++)
                if (pruners[t] is not null && norms[2 * t] >= 1e-7 && norms[2 * t + 1] >= 1e-7)
                    scales[t] = norms[2 * t] / norms[2 * t + 1];
        }
        return scales;
    }

    /// <summary>The L1 terms of every element for <see cref="Bf16Lanes.SumTerms"/>: term 2t is |δₜ|, term 2t + 1 is
    /// |pruned δₜ| (both 0 for a model that is not pruned).</summary>
    private readonly struct NormTerms(int[] tasks, int baseIndex, bool[] pruned, PruneLanes[] lanes) : IElementwiseTerms
    {
        public int Count => 2 * tasks.Length;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Lanes(Span<Vector<float>> inputs, long index, Span<Vector<float>> terms)
        {
            var b = inputs[baseIndex];
            for (int t = 0; t < tasks.Length; t++)
            {
                if (!pruned[t]) { terms[2 * t] = terms[2 * t + 1] = Vector<float>.Zero; continue; }
                var d = inputs[tasks[t]] - b;
                terms[2 * t] = Vector.Abs(d);
                terms[2 * t + 1] = Vector.Abs(lanes[t].Apply(d, index));
            }
        }

        public void Scalar(Span<float> inputs, long index, Span<float> terms)
        {
            float b = inputs[baseIndex];
            for (int t = 0; t < tasks.Length; t++)
            {
                if (!pruned[t]) { terms[2 * t] = terms[2 * t + 1] = 0; continue; }
                float d = inputs[tasks[t]] - b;
                terms[2 * t] = MathF.Abs(d);
                terms[2 * t + 1] = MathF.Abs(lanes[t].Apply(d, index));
            }
        }
    }

    /// <summary><see cref="NormTerms"/> for exactly two task models: the same terms, with each model's prune lanes in
    /// a field instead of an array walked per element, and a constant term count (the summing loop keeps its
    /// accumulators in registers).</summary>
    private readonly struct NormTerms2(int baseIndex, int task0, int task1, bool pruned0, bool pruned1, PruneLanes lanes0,
        PruneLanes lanes1) : IElementwiseTerms
    {
        public int Count => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Lanes(Span<Vector<float>> inputs, long index, Span<Vector<float>> terms)
        {
            var b = inputs[baseIndex];
            (terms[0], terms[1]) = pruned0 ? Norms(inputs[task0] - b, lanes0, index) : (Vector<float>.Zero, Vector<float>.Zero);
            (terms[2], terms[3]) = pruned1 ? Norms(inputs[task1] - b, lanes1, index) : (Vector<float>.Zero, Vector<float>.Zero);
        }

        public void Scalar(Span<float> inputs, long index, Span<float> terms)
        {
            float b = inputs[baseIndex];
            (terms[0], terms[1]) = pruned0 ? Norms(inputs[task0] - b, lanes0, index) : (0, 0);
            (terms[2], terms[3]) = pruned1 ? Norms(inputs[task1] - b, lanes1, index) : (0, 0);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static (Vector<float> Delta, Vector<float> Pruned) Norms(Vector<float> d, PruneLanes lanes, long index)
            => (Vector.Abs(d), Vector.Abs(lanes.Apply(d, index)));

        private static (float Delta, float Pruned) Norms(float d, PruneLanes lanes, long index) => (MathF.Abs(d), MathF.Abs(lanes.Apply(d, index)));
    }
}
