using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary><c>ram</c>: unique changes summed, shared changes averaged.</summary>
public sealed class RamMerge : ReinforcedAgentMerge
{
    public override string Name => "ram";

    protected override double[] UniqueScales(TensorMergeContext ctx, int[] tasks, double epsilon)
        => Enumerable.Repeat(1.0, tasks.Length).ToArray();
}
