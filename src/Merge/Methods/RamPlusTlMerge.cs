using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary><c>ramplus_tl</c> (tensor-local RAM+): like <c>ram</c>, but a model's unique changes are amplified by
/// <c>λᵢ = 1 + r·clip(ρᵢ, 0, alpha)</c> where ρᵢ = (positions it shares) / max(positions it changes alone, epsilon).
/// Passes: one counting reduction, then the map.</summary>
public sealed class RamPlusTlMerge : ReinforcedAgentMerge
{
    public override string Name => "ramplus_tl";

    protected override double[] UniqueScales(TensorMergeContext ctx, int[] tasks, double epsilon)
    {
        double r = ctx.Global.GetDouble("r"), alpha = ctx.Global.GetDouble("alpha");
        var (unique, shared) = Counts(ctx, tasks, epsilon);
        return tasks.Select((_, t) => UniqueScale(unique[t], shared[t], r, alpha, epsilon)).ToArray();
    }

    /// <summary>λ = 1 + r·clip(shared / max(unique, epsilon), 0, alpha) of a model that changes <paramref name="unique"/>
    /// positions alone and <paramref name="shared"/> with others (shared with the CUDA backend).</summary>
    public static double UniqueScale(double unique, double shared, double r, double alpha, double epsilon)
        => 1 + r * Math.Min(Math.Max(shared / Math.Max(unique, epsilon), 0), alpha);
}
