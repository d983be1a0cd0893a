using DotnetMerge.Kernels;
using DotnetMerge.Planning;

namespace DotnetMerge.Execution;

/// <summary>Where the math of a tensor job runs. The CPU backend runs every method; another backend (CUDA) may run
/// only some jobs and leaves the rest to the CPU. Whatever runs a job, the output bytes must be the same.</summary>
public interface IMergeBackend : IDisposable
{
    /// <summary>Human name for messages, e.g. "cpu (16 threads)" or "cuda:0 NVIDIA H100".</summary>
    string Name { get; }

    /// <summary>True when this backend computes <paramref name="job"/> (its method, dtypes and parameters).</summary>
    bool Supports(MergePlan plan, TensorJob job);

    /// <summary>Computes one output tensor into context.Output.</summary>
    void Merge(MergePlan plan, TensorJob job, TensorMergeContext context);
}

/// <summary>The default backend: the methods' own SIMD kernels on all cores.</summary>
public sealed class CpuBackend : IMergeBackend
{
    public static CpuBackend Instance { get; } = new();

    public string Name => $"cpu ({Environment.ProcessorCount} cores)";

    public bool Supports(MergePlan plan, TensorJob job) => true;

    public void Merge(MergePlan plan, TensorJob job, TensorMergeContext context) => plan.Implementation.Merge(context);

    public void Dispose() { }
}
