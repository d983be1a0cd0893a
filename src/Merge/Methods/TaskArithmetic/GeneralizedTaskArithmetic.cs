using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit's generalized task arithmetic: every variant (task_arithmetic, ties, dare_*, breadcrumbs*,
/// della*) is a sparsification of each task vector δᵢ = xᵢ − base, an optional TIES sign consensus, and a mix:
/// <c>out = base + λ · Σᵢ wᵢ·δ̃ᵢ·Mᵢ / (normalize ? Σᵢ wᵢ·Mᵢ : 1)</c>.
/// Passes: the selections the sparsification needs (radix select, per model; DARE draws its Bernoulli bits once),
/// one L1 reduction when <c>rescale</c> is l1, then one fused map pass (decode, prune, elect, mix, encode). On
/// uncropped bf16 tensors the L1 and map passes read the raw bf16 words and keep everything in registers
/// (<see cref="Bf16Lanes"/>, <see cref="PruneLanes"/>); other dtypes, and DELLA (row-local ranking, pruned per chunk
/// before the map), go through float32 chunks (<see cref="ChunkLoop"/>). The element math is one operator,
/// <see cref="TaskArithmeticOperator{TTasks}"/> (and <see cref="L1Terms{TTasks}"/>), run by both drivers, so both
/// give the same bytes.</summary>
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
        var lanes = LanesOf(pruners);
        bool rawBf16 = lanes is not null && tasks.Length <= MaxVectorTasks && Bf16Lanes.Applies(ctx, ctx.Inputs);
        var scales = Scales(ctx, tasks, pruners, rescale, rawBf16 ? lanes : null);
        foreach (var p in pruners) p?.DrawRemaining(ctx.Settings, spansDrawn: false);

        int baseIndex = ctx.BaseIndex;
        var mix = new MixParameters(SignConsensus, weights, scales, normalize, PlainDivisor(normalize, weights.Sum()), lambda,
            OutputRounding.NeedsRoundToOdd(ctx.OutputDtype));
        var pruned = pruners.Select(p => p is not null).ToArray();
        if (lanes is null)
        {
            // A row-local pruner (DELLA): float32 chunks of whole rows, turned into pruned task vectors before the map.
            ChunkLoop.MapIndexed(ctx, ctx.Inputs, RowLength(pruners), new TaskArithmeticOperator<GivenTaskDeltas>(new(tasks, weights, scales), baseIndex, mix),
                (start, length, ins, _) =>
                {
                    TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
                    for (int t = 0; t < tasks.Length; t++) pruners[t]?.Prune(start, ins[tasks[t]].AsSpan(0, length));
                });
        }
        else if (tasks.Length == 2)
            Map(ctx, rawBf16, new TaskArithmeticOperator<TwoTaskDeltas>(
                new(tasks[0], tasks[1], pruned[0], pruned[1], lanes[0], lanes[1], weights, scales), baseIndex, mix));
        else
            Map(ctx, rawBf16, new TaskArithmeticOperator<AnyTaskDeltas>(new(tasks, pruned, lanes, weights, scales), baseIndex, mix));
    }

    /// <summary>Runs the operator on the raw bf16 words (decode, delta, prune, weight, elect, mix, round, encode in one
    /// loop) or on decoded float32 chunks: the same operator, so the same bits.</summary>
    private static void Map<TTasks>(TensorMergeContext ctx, bool rawBf16, TaskArithmeticOperator<TTasks> op) where TTasks : struct, ITaskDeltas
    {
        if (rawBf16) Bf16Lanes.MapIndexed(ctx, ctx.Inputs, op);
        else ChunkLoop.MapIndexed(ctx, ctx.Inputs, 0, op);
    }

    /// <summary>The divisor of the unelected mix: Σ wₜ when normalising and |Σ wₜ| is at least
    /// <see cref="MinimumWeightSum"/>, else 1. The GPU plan reads it from here.</summary>
    public static double PlainDivisor(bool normalize, double weightSum)
        => normalize && Math.Abs(weightSum) >= MinimumWeightSum ? weightSum : 1;

    /// <summary>Below this |Σ wₜ| the unelected mix is not normalised (mergekit's 1e-8).</summary>
    public const double MinimumWeightSum = 1e-8;

    /// <summary>The in-register pruners (an unused entry where a model is not pruned), or null when one has no such form.</summary>
    private static PruneLanes[]? LanesOf(DeltaPruner?[] pruners)
    {
        var lanes = new PruneLanes[pruners.Length];
        for (int t = 0; t < pruners.Length; t++)
            if (pruners[t] is { } p && !p.TryGetLanes(out lanes[t])) return null;
        return lanes;
    }

    private const int MaxVectorTasks = 64;

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
                var unused = new double[tasks.Length]; // the L1 terms read no weight or scale
                Action<long, int> draw = (start, length) => { foreach (var p in pruners) p?.DrawSpan(start, length); };
                norms = tasks.Length == 2
                    ? Bf16Lanes.SumTerms(ctx, ctx.Inputs, new L1Terms<TwoTaskDeltas>(
                        new(tasks[0], tasks[1], pruned[0], pruned[1], lanes[0], lanes[1], unused, unused), baseIndex), draw)
                    : Bf16Lanes.SumTerms(ctx, ctx.Inputs, new L1Terms<AnyTaskDeltas>(new(tasks, pruned, lanes, unused, unused), baseIndex), draw);
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
                if (pruners[t] is not null) scales[t] = Rescale.L1Scale(norms[2 * t], norms[2 * t + 1]);
        }
        return scales;
    }
}
