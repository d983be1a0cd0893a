using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Cuda.Backend;
using DotnetMerge.Cuda.Tests.Infrastructure;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using Xunit.Abstractions;
using static DotnetMerge.Cuda.Tests.Infrastructure.CpuFixtures;

namespace DotnetMerge.Cuda.Tests;

/// <summary>CudaBackend on a real device: every CPU-equality case, a whole merge through the engine, and a throughput
/// figure. Skipped, with the probe's reason, where there is no CUDA device.</summary>
public sealed class GpuBackendTests(ITestOutputHelper output)
{
    private static readonly Lazy<CudaProbeResult> Probe = new(CudaProbe.Run);
    private static readonly Lazy<CudaBackend> Backend = new(() => CudaBackend.Create(Probe.Value));

    private static void SkipWithoutCuda() => Skip.IfNot(Probe.Value.IsSupported, "no CUDA: " + Probe.Value.NotSupportedReason);

    public static TheoryData<string> CaseNames => CpuEqualityShimTests.CaseNames;

    [SkippableTheory]
    [MemberData(nameof(CaseNames))]
    public void Backend_writes_the_cpu_methods_bytes(string name)
    {
        SkipWithoutCuda();
        CpuEqualityShimTests.Case c = CpuEqualityShimTests.Cases[name];
        TensorMergeContext cpu = Context(c.Tensor, c.Shape, c.Models, c.BaseIndex, c.Output, c.Global, c.Seed, name.Length);
        c.Method.Merge(cpu);
        TensorMergeContext gpu = WithNewOutput(cpu);
        Backend.Value.Run(MergeKernelPlan.TryCreate(c.Method, gpu, out string reason) ?? throw new InvalidOperationException(reason), gpu);
        Assert.True(cpu.Output.Span.SequenceEqual(gpu.Output.Span), name + ": " + FirstDifference(cpu.Output.ToArray(), gpu.Output.ToArray(), c.Output));
    }

    [SkippableTheory]
    [MemberData(nameof(EngineComparison.Methods), MemberType = typeof(EngineComparison))]
    public async Task A_merge_on_the_gpu_writes_the_cpu_merges_files(string method, string extra, string global)
    {
        SkipWithoutCuda();
        using var backend = CudaBackend.Create(Probe.Value);
        await EngineComparison.AssertSameFilesAsync(method, extra, backend, () => backend.JobsRun, globalParameters: global,
            secondModel: method != "arcee_fusion");
    }

    [SkippableTheory]
    [InlineData("linear")]
    [InlineData("dare_ties")]
    public void Throughput(string method)
    {
        SkipWithoutCuda();
        const long rows = 8192, cols = 4096; // 32 Mi elements, a large llama projection
        IMergeMethod implementation = method == "linear" ? new LinearMerge() : new DareTiesMerge();
        var global = new Dictionary<string, object> { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "l1" };
        Model[] models = [new(Dtype.BF16, 0.2), new(Dtype.BF16, 0.5, 0.5), new(Dtype.BF16, 0.3, 0.5)];
        TensorMergeContext context = Context("model.layers.0.mlp.up_proj.weight", [rows, cols], models, 0, Dtype.BF16, global, 1, 1);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(implementation, context, out string reason) ?? throw new InvalidOperationException(reason);
        Backend.Value.Run(plan, context); // warm-up: compile, allocate
        var watch = Stopwatch.StartNew();
        const int repeats = 5;
        for (int r = 0; r < repeats; r++) Backend.Value.Run(plan, context);
        double seconds = watch.Elapsed.TotalSeconds / repeats;
        double bytes = 4.0 * rows * cols * 2; // three bf16 inputs + one bf16 output
        TensorMergeContext cpu = WithNewOutput(context);
        var cpuWatch = Stopwatch.StartNew();
        implementation.Merge(cpu);
        double cpuSeconds = cpuWatch.Elapsed.TotalSeconds;
        Assert.True(cpu.Output.Span.SequenceEqual(context.Output.Span));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{method} on {Backend.Value.Name}: {rows * cols / 1e6:F1} M elements x 3 bf16 in {seconds * 1e3:F1} ms = {bytes / seconds / 1e9:F2} GB/s host-to-host (CPU {cpuSeconds * 1e3:F1} ms)"));
    }
}
