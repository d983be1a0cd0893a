using System.Numerics;
using System.Runtime.CompilerServices;
using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>What the mix of every element needs (one value per task in the arrays).</summary>
internal sealed record MixParameters(bool SignConsensus, double[] Weights, double[] Scales, bool Normalize, double PlainDivisor,
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

    /// <summary>Whether the normalising divisor of the TIES mix is a power of two whatever the election keeps: the sum,
    /// in model order from +0.0, of the weights of every non-empty subset of models is 0 (replaced by 1) or ±2^k with
    /// an exact reciprocal. Equal weights of two models (0.5 and 0.5, 1 and 1) are the common case. Checked for up
    /// to 12 models (4095 subsets); more models take the division.</summary>
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
}

/// <summary>The task vectors of one element (or one vector of lanes) as the task-arithmetic operators read them: task t
/// is input <see cref="Slot"/>(t); <see cref="Delta(int, Vector{float}, Vector{float}, long)"/> turns its value into
/// the pruned task vector. Implementations differ only in where they keep the per-task constants (arrays for any number
/// of tasks, fields for two) or in whether the caller already subtracted and pruned (chunks of a row-local pruner);
/// the math is <see cref="TaskArithmeticOperator{TTasks}"/>'s and <see cref="PruneLanes"/>'.</summary>
internal interface ITaskDeltas
{
    int Count { get; }

    /// <summary>The input index of task t.</summary>
    int Slot(int t);

    /// <summary>True when task t has a pruner.</summary>
    bool IsPruned(int t);

    Vector<double> Weight(int t);
    Vector<double> Scale(int t);

    /// <summary>The pruned task vector of task t at lanes [index, index + Count): (x − b), then its pruner.</summary>
    Vector<float> Delta(int t, Vector<float> x, Vector<float> b, long index);

    /// <summary>The scalar form of <see cref="Delta(int, Vector{float}, Vector{float}, long)"/>.</summary>
    float Delta(int t, float x, float b, long index);
}

/// <summary>Any number of tasks, each pruned in registers (or not pruned): constants in arrays.</summary>
internal readonly struct AnyTaskDeltas(int[] tasks, bool[] pruned, PruneLanes[] lanes, double[] weights, double[] scales) : ITaskDeltas
{
    public int Count => tasks.Length;
    public int Slot(int t) => tasks[t];
    public bool IsPruned(int t) => pruned[t];
    public Vector<double> Weight(int t) => new(weights[t]);
    public Vector<double> Scale(int t) => new(scales[t]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Delta(int t, Vector<float> x, Vector<float> b, long index)
    {
        var d = x - b;
        return pruned[t] ? lanes[t].Apply(d, index) : d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Delta(int t, float x, float b, long index)
    {
        float d = x - b;
        return pruned[t] ? lanes[t].Apply(d, index) : d;
    }
}

/// <summary>Exactly two tasks (the common case: two fine-tunes of one base): the same deltas as
/// <see cref="AnyTaskDeltas"/>, with each task's pruner, weight and scale in fields (broadcast once) and a constant
/// count, instead of arrays walked per element.</summary>
internal readonly struct TwoTaskDeltas(int task0, int task1, bool pruned0, bool pruned1, PruneLanes lanes0, PruneLanes lanes1,
    double[] weights, double[] scales) : ITaskDeltas
{
    private readonly Vector<double> _weight0 = new(weights[0]), _weight1 = new(weights[1]);
    private readonly Vector<double> _scale0 = new(scales[0]), _scale1 = new(scales[1]);

    public int Count => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public int Slot(int t) => t == 0 ? task0 : task1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public bool IsPruned(int t) => t == 0 ? pruned0 : pruned1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector<double> Weight(int t) => t == 0 ? _weight0 : _weight1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector<double> Scale(int t) => t == 0 ? _scale0 : _scale1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Delta(int t, Vector<float> x, Vector<float> b, long index)
    {
        var d = x - b;
        if (t == 0) return pruned0 ? lanes0.Apply(d, index) : d;
        return pruned1 ? lanes1.Apply(d, index) : d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Delta(int t, float x, float b, long index)
    {
        float d = x - b;
        if (t == 0) return pruned0 ? lanes0.Apply(d, index) : d;
        return pruned1 ? lanes1.Apply(d, index) : d;
    }
}

/// <summary>Task slots that already hold the pruned task vectors (float32 chunks pruned by a row-local pruner before
/// the map: <see cref="TaskVectors.ToDeltas"/>, then <see cref="DeltaPruner.Prune"/>, the same float32 operations).</summary>
internal readonly struct GivenTaskDeltas(int[] tasks, double[] weights, double[] scales) : ITaskDeltas
{
    public int Count => tasks.Length;
    public int Slot(int t) => tasks[t];
    public bool IsPruned(int t) => false;
    public Vector<double> Weight(int t) => new(weights[t]);
    public Vector<double> Scale(int t) => new(scales[t]);
    public Vector<float> Delta(int t, Vector<float> x, Vector<float> b, long index) => x;
    public float Delta(int t, float x, float b, long index) => x;
}

/// <summary>Generalized task arithmetic's element math, written once: <c>out = b + λ · mix(wₜ · δₜ · scaleₜ)</c>, where
/// mix is the sum over the plain divisor, or (TIES "sum" sign consensus) the sum of the terms whose sign is that of
/// the sum, over the weights of those terms when normalising (0 replaced by 1). Run by <see cref="Bf16Lanes.MapIndexed"/>
/// on raw bf16 words and by <see cref="ChunkLoop.MapIndexed"/> on float32 chunks; <see cref="Lanes"/> repeats
/// <see cref="Scalar"/> lane by lane (same operations, same order, no fused multiply-add), so every path and every
/// vector width writes the same bits.
/// <para>Not a readonly struct on purpose: calls on a <typeparamref name="TTasks"/> field of a readonly struct would copy
/// it (the compiler cannot know that it is readonly) on every call, in the innermost loop.</para></summary>
internal struct TaskArithmeticOperator<TTasks>(TTasks tasks, int baseIndex, MixParameters mix) : IIndexedElementwiseKernel
    where TTasks : struct, ITaskDeltas
{
    private readonly MixLanes _mix = new(mix);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Lanes(Span<Vector<float>> inputs, long index)
    {
        var b = inputs[baseIndex];
        // typeof(TTasks) is a JIT-time constant: each instantiation compiles one of the two bodies (both inlined into the
        // driver's loop, where the other's code would exhaust the JIT's inlining budget).
        if (typeof(TTasks) == typeof(TwoTaskDeltas))
        {
            // Two tasks: the same steps as the loops below, unrolled, with the weighted terms kept in registers for the
            // election instead of recomputed.
            Term(0, inputs, b, index, keep: false, out var low0, out var high0);
            Term(1, inputs, b, index, keep: false, out var low1, out var high1);
            var sumLow2 = Vector<double>.Zero + low0 + low1;
            var sumHigh2 = Vector<double>.Zero + high0 + high1;
            if (!_mix.SignConsensus) return Finish(Divided(sumLow2, _mix), Divided(sumHigh2, _mix), b, _mix);
            Vector<double> flipLow2 = ElectionFlip(sumLow2), flipHigh2 = ElectionFlip(sumHigh2);
            Vector<double> agreeingLow2 = Vector<double>.Zero, agreeingHigh2 = Vector<double>.Zero;
            Vector<double> divisorLow2 = Vector<double>.Zero, divisorHigh2 = Vector<double>.Zero;
            Vector<double> w0 = tasks.Weight(0), w1 = tasks.Weight(1);
            Elect(low0, w0, flipLow2, ref agreeingLow2, ref divisorLow2);
            Elect(high0, w0, flipHigh2, ref agreeingHigh2, ref divisorHigh2);
            Elect(low1, w1, flipLow2, ref agreeingLow2, ref divisorLow2);
            Elect(high1, w1, flipHigh2, ref agreeingHigh2, ref divisorHigh2);
            return Finish(Elected(agreeingLow2, divisorLow2, _mix), Elected(agreeingHigh2, divisorHigh2, _mix), b, _mix);
        }
        Vector<double> sumLow = Vector<double>.Zero, sumHigh = Vector<double>.Zero;
        for (int t = 0; t < tasks.Count; t++)
        {
            Term(t, inputs, b, index, keep: _mix.SignConsensus, out var wl, out var wh);
            sumLow += wl;
            sumHigh += wh;
        }
        if (!_mix.SignConsensus) return Finish(Divided(sumLow, _mix), Divided(sumHigh, _mix), b, _mix);
        Vector<double> flipLow = ElectionFlip(sumLow), flipHigh = ElectionFlip(sumHigh);
        Vector<double> agreeingLow = Vector<double>.Zero, agreeingHigh = Vector<double>.Zero;
        Vector<double> divisorLow = Vector<double>.Zero, divisorHigh = Vector<double>.Zero;
        for (int t = 0; t < tasks.Count; t++)
        {
            // The task vector that Term left in its input slot, weighted again (the same values).
            var w = tasks.Weight(t);
            Weighted(inputs[tasks.Slot(t)], tasks.Scale(t), w, _mix.UnitScales, out var vl, out var vh);
            Elect(vl, w, flipLow, ref agreeingLow, ref divisorLow);
            Elect(vh, w, flipHigh, ref agreeingHigh, ref divisorHigh);
        }
        return Finish(Elected(agreeingLow, divisorLow, _mix), Elected(agreeingHigh, divisorHigh, _mix), b, _mix);
    }

    /// <summary>wₜ · (δₜ · scaleₜ) of task t's lanes, both halves; with <paramref name="keep"/> the task vector δₜ is left
    /// in its input slot (scratch of the driver) for the election.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Term(int t, Span<Vector<float>> inputs, Vector<float> b, long index, bool keep, out Vector<double> low,
        out Vector<double> high)
    {
        int slot = tasks.Slot(t);
        var d = tasks.Delta(t, inputs[slot], b, index);
        if (keep) inputs[slot] = d;
        Weighted(d, tasks.Scale(t), tasks.Weight(t), _mix.UnitScales, out low, out high);
    }

    /// <summary>The reference form of <see cref="Lanes"/> (one element).</summary>
    public float Scalar(Span<float> inputs, long index)
    {
        float b = inputs[baseIndex];
        var weights = mix.Weights;
        var scales = mix.Scales;
        double sum = 0;
        for (int t = 0; t < tasks.Count; t++)
        {
            int slot = tasks.Slot(t);
            float d = tasks.Delta(t, inputs[slot], b, index);
            inputs[slot] = d;
            sum += weights[t] * (d * scales[t]);
        }
        double mixed;
        if (mix.SignConsensus)
        {
            bool positive = sum >= 0;
            double agreeing = 0, divisor = 0;
            for (int t = 0; t < tasks.Count; t++)
            {
                double weighted = weights[t] * (inputs[tasks.Slot(t)] * scales[t]);
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

    /// <summary>The sign bit where the sum is not positive (NaN sums included), else 0: "v agrees with the sum" is then
    /// v' &gt; 0 for v' = v with that bit flipped, in every lane (NaN and ±0 never agree either way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ElectionFlip(Vector<double> sum)
        => MaskedLanes.ZeroWhereGreaterOrEqual(Vector.AsVectorDouble(new Vector<ulong>(0x8000_0000_0000_0000ul)), sum, Vector<double>.Zero);

    /// <summary>Adds one weighted term <paramref name="v"/> (weight <paramref name="w"/>) to the agreeing sum and the
    /// divisor where it agrees with the sign of the sum. The lanes that do not agree are left as they are: neither sum
    /// is ever -0.0 (each starts at +0.0 and grows only by same-signed non-zero terms, or by weights, and x + y is -0.0
    /// only for x = y = -0.0), which is what <see cref="MaskedLanes.AddWhereGreater"/> needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Elect(Vector<double> v, Vector<double> w, Vector<double> flip, ref Vector<double> agreeing, ref Vector<double> divisor)
    {
        var signed = Vector.Xor(v, flip);
        agreeing = MaskedLanes.AddWhereGreater(agreeing, v, signed, Vector<double>.Zero);
        divisor = MaskedLanes.AddWhereGreater(divisor, w, signed, Vector<double>.Zero);
    }

    /// <summary>The elected mix: the agreeing sum, divided by the agreeing weights (0 replaced by 1) when normalising.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Elected(Vector<double> agreeing, Vector<double> divisor, in MixLanes mix)
    {
        if (!mix.Normalize) return agreeing;
        divisor = Vector.ConditionalSelect(Vector.Equals(divisor, Vector<double>.Zero), Vector<double>.One, divisor);
        return mix.PowerOfTwoDivisors ? agreeing * ExactReciprocal(divisor) : agreeing / divisor;
    }

    /// <summary>1 / d for lanes holding ±2^k whose reciprocal is normal (exact: the exponent mirrored around the bias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExactReciprocal(Vector<double> powerOfTwo)
    {
        var bits = Vector.AsVectorUInt64(powerOfTwo);
        var sign = bits & new Vector<ulong>(0x8000_0000_0000_0000ul);
        return Vector.AsVectorDouble((new Vector<ulong>(0x7FE0_0000_0000_0000ul) - (bits ^ sign)) | sign);
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

    /// <summary>What the vector mix reads per element, copied out of <see cref="MixParameters"/> into a struct the
    /// operator holds by value: flags and broadcast constants, no object or array to load through in the loop.</summary>
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
}

/// <summary>The L1 terms of every element for <see cref="Bf16Lanes.SumTerms"/>: term 2t is |δₜ|, term 2t + 1 is
/// |pruned δₜ| (both 0 for a task that is not pruned), with the deltas and pruners of <typeparamref name="TTasks"/>.</summary>
internal struct L1Terms<TTasks>(TTasks tasks, int baseIndex) : IElementwiseTerms where TTasks : struct, ITaskDeltas // not readonly: as above
{
    public int Count => 2 * tasks.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Lanes(Span<Vector<float>> inputs, long index, Span<Vector<float>> terms)
    {
        var b = inputs[baseIndex];
        if (typeof(TTasks) == typeof(TwoTaskDeltas))
        {
            // Unrolled for two tasks (constant task indices: TwoTaskDeltas' fields, no per-task branch on the index).
            Norms(0, inputs, b, index, terms);
            Norms(1, inputs, b, index, terms);
            return;
        }
        for (int t = 0; t < tasks.Count; t++) Norms(t, inputs, b, index, terms);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Norms(int t, Span<Vector<float>> inputs, Vector<float> b, long index, Span<Vector<float>> terms)
    {
        if (!tasks.IsPruned(t)) { terms[2 * t] = terms[2 * t + 1] = Vector<float>.Zero; return; }
        var x = inputs[tasks.Slot(t)];
        terms[2 * t] = Vector.Abs(x - b);
        terms[2 * t + 1] = Vector.Abs(tasks.Delta(t, x, b, index));
    }

    public void Scalar(Span<float> inputs, long index, Span<float> terms)
    {
        float b = inputs[baseIndex];
        for (int t = 0; t < tasks.Count; t++)
        {
            if (!tasks.IsPruned(t)) { terms[2 * t] = terms[2 * t + 1] = 0; continue; }
            float x = inputs[tasks.Slot(t)];
            terms[2 * t] = MathF.Abs(x - b);
            terms[2 * t + 1] = MathF.Abs(tasks.Delta(t, x, b, index));
        }
    }
}
