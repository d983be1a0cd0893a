using DotnetMerge.Cuda.Backend;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Planning;

namespace DotnetMerge.Cuda.Tests.Infrastructure;

/// <summary>An engine backend that runs the CUDA backend's kernel plans on the g++ shim: the engine's plumbing
/// (Supports from a TensorJob, the context the executor builds) tested without a GPU.</summary>
internal sealed class ShimBackend : IMergeBackend
{
    public string Name => "cuda shim (g++)";
    public int JobsRun { get; private set; }

    public bool Supports(MergePlan plan, TensorJob job) => MergeKernelPlan.TryCreate(plan, job, out _) is not null;

    public void Merge(MergePlan plan, TensorJob job, TensorMergeContext context)
    {
        MergeKernelPlan kernels = MergeKernelPlan.TryCreate(plan.Implementation, context, out string reason) ?? throw new InvalidOperationException(reason);
        CpuFixtures.RunOnShim(kernels, context, piece: 1 << 20).CopyTo(context.Output);
        JobsRun++;
    }

    public void Dispose() { }
}
