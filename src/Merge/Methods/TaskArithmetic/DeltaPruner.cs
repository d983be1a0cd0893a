using System.Buffers;
using DotnetMerge.Kernels;

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

    /// <summary>Builds the pruner of one model, or null when nothing is dropped (density ≥ 1 or no sparsification).</summary>
    public static DeltaPruner? Create(Sparsification method, TensorMergeContext ctx, int modelIndex)
    {
        var input = ctx.Inputs[modelIndex];
        double density = method == Sparsification.None ? 1 : input.Parameters.GetDouble("density");
        if (density >= 1) return null;
        long n = ctx.OutputElementCount;
        return method switch
        {
            Sparsification.Magnitude => new KeepSet(density, density <= 0 ? TopSet.None
                : MagnitudeSelect.SelectTop(n, Math.Max(1, (long)(density * n)), TaskVectors.AbsDelta(input, ctx.Base!), ctx.Settings), TopSet.None),
            Sparsification.MagnitudeOutliers => Outliers(ctx, input, density, input.Parameters.GetDouble("gamma")),
            Sparsification.Random => new Bernoulli(density, ctx.Seed, (uint)modelIndex, Philox.Fnv1a32(ctx.OutputName)),
            Sparsification.DellaMagprune => Della.Create(ctx, modelIndex, density, input.Parameters.GetDouble("epsilon")),
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        };
    }

    private static KeepSet Outliers(TensorMergeContext ctx, MergeInput input, double density, double gamma)
    {
        long n = ctx.OutputElementCount;
        long keep = (long)(density * n), top = (long)(gamma * n), bottom = n - keep - top;
        if (bottom < 0) { top += bottom; bottom = 0; }
        var source = TaskVectors.AbsDelta(input, ctx.Base!);
        // Kept: ranks [bottom, n - top) in ascending order = the (n - bottom) largest minus the top largest.
        // top == 0 removes no outliers (mergekit's slice [bottom:-0] would zero the whole tensor instead).
        return new KeepSet(density, MagnitudeSelect.SelectTop(n, n - bottom, source, ctx.Settings),
            MagnitudeSelect.SelectTop(n, top, source, ctx.Settings));
    }

    /// <summary>Keeps the elements of <c>keep</c> that are not in <c>remove</c> (by |δ| and index).</summary>
    private sealed class KeepSet(double density, TopSet keep, TopSet remove) : DeltaPruner(density)
    {
        public override void Prune(long start, Span<float> delta)
        {
            for (int j = 0; j < delta.Length; j++)
            {
                float magnitude = MathF.Abs(delta[j]);
                if (!keep.Contains(magnitude, start + j) || remove.Contains(magnitude, start + j)) delta[j] = 0;
            }
        }
    }

    /// <summary>Keeps each element iff its Philox uniform is below density.</summary>
    private sealed class Bernoulli(double density, ulong seed, uint model, uint nameHash) : DeltaPruner(density)
    {
        public override void Prune(long start, Span<float> delta)
        {
            var uniforms = ArrayPool<float>.Shared.Rent(delta.Length);
            try
            {
                Philox.FillUniform(seed, model, nameHash, start, uniforms.AsSpan(0, delta.Length));
                for (int j = 0; j < delta.Length; j++)
                    if (!(uniforms[j] < Density)) delta[j] = 0;
            }
            finally { ArrayPool<float>.Shared.Return(uniforms); }
        }
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
