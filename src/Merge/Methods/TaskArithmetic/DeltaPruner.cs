using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using DotnetMerge.Kernels;
using DotnetMerge.Selection;

namespace DotnetMerge.Methods;

/// <summary>How each task vector is sparsified before mixing (mergekit's sparsification methods).</summary>
public enum Sparsification
{
    /// <summary>Every entry is kept.</summary>
    None,
    /// <summary>TIES trim: keep the ⌊density·n⌋ largest |δ| of the whole tensor.</summary>
    Magnitude,
    /// <summary>DARE: keep each entry independently with probability density.</summary>
    Random,
    /// <summary>Model Breadcrumbs: drop the ⌊gamma·n⌋ largest |δ| and the smallest ones, keeping ⌊density·n⌋.</summary>
    MagnitudeOutliers,
    /// <summary>DELLA MagPrune: per row, keep with a probability that grows linearly with the rank of |δ|.</summary>
    DellaMagprune,
}

/// <summary>Zeroes the dropped entries of one model's task vector, chunk by chunk. Prepared (thresholds selected)
/// before the passes that call <see cref="Prune"/>; pure per element index, so any chunking gives the same mask.
/// Row-local pruners (<see cref="RowLength"/> &gt; 0) must be given chunks made of whole rows.</summary>
internal abstract class DeltaPruner
{
    protected DeltaPruner(double density) => Density = density;

    public double Density { get; }

    /// <summary>Rows the chunks must be aligned to (0: any chunking).</summary>
    public virtual long RowLength => 0;

    /// <summary>Zeroes the dropped entries of <paramref name="delta"/>, the task-vector elements [start, start + length).</summary>
    public abstract void Prune(long start, Span<float> delta);

    /// <summary>The in-register form of this pruner for the one-pass bf16 kernels, when it has one (not DELLA,
    /// whose ranking is row-local).</summary>
    public virtual bool TryGetLanes(out PruneLanes lanes)
    {
        lanes = default;
        return false;
    }

    /// <summary>Draws the random decisions of elements [start, start + length) when this pruner has them (DARE) and they
    /// are not drawn yet; <paramref name="start"/> is a multiple of 64, so concurrent spans never share a word. The
    /// first pass over a tensor calls it per span before reading the decisions there (the draws then run while that
    /// span's inputs are read, not as a pass of their own); <see cref="DrawRemaining"/> completes what no pass drew.</summary>
    public virtual void DrawSpan(long start, int length) { }

    /// <summary>Draws every decision a pass has not drawn through <see cref="DrawSpan"/> (nothing for most pruners).
    /// <paramref name="spansDrawn"/>: a pass has called <see cref="DrawSpan"/> over the whole tensor.</summary>
    public virtual void DrawRemaining(ExecutionSettings settings, bool spansDrawn) { }

    /// <summary>Gives back what the pruner borrowed (pooled decision bits); it is not used after this.</summary>
    public virtual void Release() { }

    /// <summary>Builds the pruners of the task models <paramref name="tasks"/> (null where nothing is dropped: density ≥ 1
    /// or no sparsification). The magnitude selections of all models run together, in the same passes over the inputs.</summary>
    public static DeltaPruner?[] CreateAll(Sparsification method, TensorMergeContext ctx, int[] tasks)
    {
        var pruners = new DeltaPruner?[tasks.Length];
        long n = ctx.OutputElementCount;
        var queries = new List<SelectQuery>();
        var pending = new List<(int Task, double Density, int Keep, int Remove)>();
        for (int i = 0; i < tasks.Length; i++)
        {
            var input = ctx.Inputs[tasks[i]];
            double density = method == Sparsification.None ? 1 : input.Parameters.GetDouble("density");
            if (density >= 1) continue;
            switch (method)
            {
                case Sparsification.Magnitude when density <= 0:
                    pruners[i] = new KeepSet(density, TopSet.None, TopSet.None);
                    break;
                case Sparsification.Magnitude when input.MagnitudeThreshold is float threshold:
                    // trim_scope: model: the threshold over the model's whole task vector was found in a pre-pass.
                    pruners[i] = new KeepSet(density, new TopSet(0, MagnitudeSelect.SortKey(threshold), long.MaxValue), TopSet.None);
                    break;
                case Sparsification.Magnitude:
                    queries.Add(new SelectQuery(i, Math.Max(1, (long)(density * n))));
                    pending.Add((i, density, queries.Count - 1, -1));
                    break;
                case Sparsification.MagnitudeOutliers:
                {
                    double gamma = input.Parameters.GetDouble("gamma");
                    long keep = (long)(density * n), top = (long)(gamma * n), bottom = n - keep - top;
                    if (bottom < 0) { top += bottom; bottom = 0; }
                    // Kept: ranks [bottom, n - top) in ascending order = the (n - bottom) largest minus the top largest.
                    // top == 0 removes no outliers (mergekit's slice [bottom:-0] would zero the whole tensor instead).
                    queries.Add(new SelectQuery(i, n - bottom));
                    queries.Add(new SelectQuery(i, top));
                    pending.Add((i, density, queries.Count - 2, queries.Count - 1));
                    break;
                }
                case Sparsification.Random:
                    pruners[i] = new Bernoulli(density, ctx.Seed, (uint)tasks[i], Philox.Fnv1a32(ctx.OutputName), n);
                    break;
                case Sparsification.DellaMagprune:
                    pruners[i] = Della.Create(ctx, tasks[i], density, input.Parameters.GetDouble("epsilon"));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(method));
            }
        }
        if (queries.Count > 0)
        {
            var sets = MagnitudeSelect.SelectTop(n, tasks.Length, queries, TaskVectors.AbsDeltas(ctx, tasks), ctx.Settings,
                TaskVectors.AbsDeltaScan(ctx, tasks));
            foreach (var (task, density, keep, remove) in pending)
                pruners[task] = new KeepSet(density, sets[keep], remove < 0 ? TopSet.None : sets[remove]);
        }
        return pruners;
    }

    /// <summary>Keeps the elements of <c>keep</c> that are not in <c>remove</c> (by |δ| and index).</summary>
    private sealed class KeepSet(double density, TopSet keep, TopSet remove) : DeltaPruner(density)
    {
        private readonly PruneLanes _lanes = PruneLanes.Select(keep, remove);

        public override void Prune(long start, Span<float> delta) => _lanes.Apply(start, delta);

        public override bool TryGetLanes(out PruneLanes lanes)
        {
            lanes = _lanes;
            return true;
        }
    }

    /// <summary>Keeps each element iff its Philox uniform is below density. The draws run once per element (one bit
    /// per element, kept = 1: 7.7 MB per model for a 61.6M-element tensor), in the first pass over the tensor
    /// (<see cref="DrawSpan"/>) or on their own (<see cref="DrawRemaining"/>); every pass (L1 norms, mix) then replays
    /// them, so the Philox draws and the compares run once per element whatever the passes.</summary>
    private sealed class Bernoulli : DeltaPruner
    {
        private readonly ulong[] _kept;
        private readonly long _elements;
        private readonly PruneLanes _lanes;
        private readonly ulong _seed;
        private readonly uint _model, _nameHash;
        private bool _drawn;

        public Bernoulli(double density, ulong seed, uint model, uint nameHash, long elements) : base(density)
        {
            // Pooled: a new array per model and tensor would make the kernel clear fresh pages for every tensor.
            _kept = ArrayPool<ulong>.Shared.Rent(checked((int)((elements + 63) / 64)));
            _elements = elements;
            _lanes = PruneLanes.Replay(_kept);
            (_seed, _model, _nameHash) = (seed, model, nameHash);
        }

        public override void DrawSpan(long start, int length)
        {
            System.Diagnostics.Debug.Assert(start % 64 == 0, "spans of decisions start on a word");
            if (!_drawn) Philox.FillKeepBits(_seed, _model, _nameHash, start, length, Density, _kept.AsSpan((int)(start / 64)));
        }

        public override void DrawRemaining(ExecutionSettings settings, bool spansDrawn)
        {
            if (_drawn) return;
            // Chunks are whole 64-element words, so parallel chunks never share one.
            if (!spansDrawn)
                ChunkLoop.ForEachChunk(settings, _elements, PruneLanes.DecisionChunk, (start, length) => DrawSpan(start, length));
            _drawn = true;
        }

        public override void Prune(long start, Span<float> delta) => _lanes.Apply(start, delta);

        public override bool TryGetLanes(out PruneLanes lanes)
        {
            lanes = _lanes;
            return true;
        }

        public override void Release() => ArrayPool<ulong>.Shared.Return(_kept);
    }

    /// <summary>DELLA MagPrune: in each row, the element of ascending |δ| rank r (0-based, ties: lower index ranks
    /// higher) is kept with probability density − ε + 2ε·r/(len − 1) (density for one-element rows).</summary>
    private sealed class Della(double density, double epsilon, long rowLength, ulong seed, uint model, uint nameHash) : DeltaPruner(density)
    {
        public static DeltaPruner Create(TensorMergeContext ctx, int modelIndex, double density, double epsilon)
        {
            if (density <= 0) return new KeepSet(density, TopSet.None, TopSet.None);
            if (density + epsilon >= 1 || density - epsilon <= 0)
                throw new ArgumentException(
                    $"della: tensor '{ctx.OutputName}' of {ctx.Inputs[modelIndex].Model}: density ± epsilon must lie in (0, 1) (density {density}, epsilon {epsilon})");
            return new Della(density, epsilon, TaskVectors.RowLength(ctx.OutputShape, ctx.OutputElementCount),
                ctx.Seed, (uint)modelIndex, Philox.Fnv1a32(ctx.OutputName));
        }

        public override long RowLength => rowLength;

        public override void Prune(long start, Span<float> delta)
        {
            int row = (int)rowLength;
            var keys = ArrayPool<ulong>.Shared.Rent(row);
            var uniforms = ArrayPool<float>.Shared.Rent(row);
            try
            {
                for (int offset = 0; offset < delta.Length; offset += row)
                    PruneRow(start + offset, delta.Slice(offset, row), keys.AsSpan(0, row), uniforms.AsSpan(0, row));
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(keys);
                ArrayPool<float>.Shared.Return(uniforms);
            }
        }

        private void PruneRow(long start, Span<float> delta, Span<ulong> keys, Span<float> uniforms)
        {
            int n = delta.Length;
            // Ascending by |δ|; equal magnitudes: the higher index first (so the lower index gets the higher rank).
            for (int j = 0; j < n; j++)
                keys[j] = ((ulong)MagnitudeSelect.SortKey(MathF.Abs(delta[j])) << 32) | (uint)(n - 1 - j);
            keys.Sort();
            Philox.FillUniform(seed, model, nameHash, start, uniforms);
            for (int rank = 0; rank < n; rank++)
            {
                int j = n - 1 - (int)(uint)keys[rank];
                double normalized = n == 1 ? 0.5 : (double)rank / (n - 1);
                double p = (Density - epsilon) + normalized * 2 * epsilon;
                if (!(uniforms[j] < p)) delta[j] = 0;
            }
        }
    }
}
