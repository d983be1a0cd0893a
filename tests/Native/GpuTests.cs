using DotnetMerge.Cuda.Compilation;
using DotnetMerge.Cuda.Runtime;
using DotnetMerge.Cuda.Tests.Infrastructure;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The real thing: NVRTC compiles the emitted kernels, the driver launches them, and the results are checked
/// against the same float64 references as the CPU shim, and against the shim bit for bit. Skipped, with the probe's
/// reason, where there is no CUDA device.</summary>
public sealed class GpuTests
{
    private static readonly Lazy<CudaProbeResult> Probe = new(CudaProbe.Run);

    private static void SkipWithoutCuda() => Skip.IfNot(Probe.Value.IsSupported, "no CUDA: " + Probe.Value.NotSupportedReason);

    public static TheoryData<string> Scenarios => new(MergeScenarios.All().Select(s => s.Name));

    private static byte[] RunOnGpu(MergeScenario s, uint grid)
    {
        using CudaContext context = CudaContext.Open();
        var compiler = new KernelCompiler(NvrtcKernelCompiler.Create(), new KernelCache(null));
        using CudaKernel kernel = context.LoadKernel(compiler, s.Kernel);
        using CudaStream stream = context.CreateStream();
        var buffers = new List<DeviceBuffer>();
        try
        {
            for (int i = 0; i < s.Inputs.Length; i++)
            {
                DeviceBuffer buffer = context.Allocate(s.Inputs[i].Length);
                buffers.Add(buffer);
                stream.CopyToDevice(buffer, 0, s.Inputs[i]);
                s.Arguments.Set("in", i, buffer.DevicePointer);
            }
            DeviceBuffer output = context.Allocate(s.OutputBytes);
            buffers.Add(output);
            s.Arguments.Set("out", output.DevicePointer);
            stream.Launch(kernel.Function, grid, (uint)s.Kernel.BlockSize, s.Arguments);
            var result = new byte[s.OutputBytes];
            stream.CopyToHost(result, output, 0);
            return result;
        }
        finally
        {
            foreach (DeviceBuffer b in buffers) b.Dispose();
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Scenarios))]
    public void Kernel_matches_the_float64_reference_on_the_gpu(string scenario)
    {
        SkipWithoutCuda();
        MergeScenario s = MergeScenarios.All().Single(x => x.Name == scenario);
        s.Check(RunOnGpu(s, grid: 7));
    }

    [SkippableTheory]
    [MemberData(nameof(Scenarios))]
    public void Gpu_and_cpu_shim_agree_bit_for_bit(string scenario)
    {
        SkipWithoutCuda();
        HostCompiler.SkipIfUnavailable();
        MergeScenario s = MergeScenarios.All().Single(x => x.Name == scenario);
        byte[] cpu = HostCompiler.RunKernel(s.Kernel, s.Arguments, s.Inputs, s.OutputBytes, grid: 3, block: 64);
        MergeScenario fresh = MergeScenarios.All().Single(x => x.Name == scenario);
        Assert.Equal(cpu, RunOnGpu(fresh, grid: (uint)KernelCompilerGrid(fresh.Count)));
    }

    [SkippableFact]
    public void Probe_describes_the_devices()
    {
        SkipWithoutCuda();
        CudaDeviceInfo device = Probe.Value.Devices[0];
        Assert.True(device.ComputeCapabilityMajor >= 5);
        Assert.True(device.MultiprocessorCount > 0);
        Assert.True(device.TotalMemoryBytes > 1L << 28);
        Assert.NotNull(Probe.Value.DriverVersionText);
    }

    [SkippableFact]
    public void Compile_errors_carry_the_log_and_the_source()
    {
        SkipWithoutCuda();
        var compiler = new KernelCompiler(NvrtcKernelCompiler.Create(), new KernelCache(null));
        CudaDeviceInfo device = Probe.Value.Devices[0];
        var error = Assert.Throws<NvrtcCompilationException>(() =>
            compiler.Compile("extern \"C\" __global__ void broken() { int x = ; }", "broken.cu", device.ComputeCapabilityMajor, device.ComputeCapabilityMinor));
        Assert.Contains("broken.cu", error.Log);
        Assert.Contains("int x = ;", error.KernelSource);
    }

    private static long KernelCompilerGrid(int count) => CudaKernel.GridFor(count, Emission.KernelEmitter.BlockSize, Probe.Value.Devices[0].MultiprocessorCount);
}
