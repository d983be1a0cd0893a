using DotnetMerge.Cuda.Tests.Infrastructure;

namespace DotnetMerge.Cuda.Tests;

/// <summary>Emitted linear / task-arithmetic / DARE kernels compiled with g++ and run over a grid on the CPU shim,
/// compared with float64 references computed in C# (bit-exact where the arithmetic is exact).</summary>
public sealed class MergeKernelShimTests
{
    public static TheoryData<string> Scenarios => new(MergeScenarios.All().Select(s => s.Name));

    [SkippableTheory]
    [MemberData(nameof(Scenarios))]
    public void Kernel_matches_the_float64_reference(string scenario)
    {
        HostCompiler.SkipIfUnavailable();
        MergeScenario s = MergeScenarios.All().Single(x => x.Name == scenario);
        // a small grid: the grid-stride loop must cover every element with fewer threads than elements
        byte[] output = HostCompiler.RunKernel(s.Kernel, s.Arguments, s.Inputs, s.OutputBytes, grid: 3, block: 64);
        s.Check(output);
    }

    [SkippableFact]
    public void Result_does_not_depend_on_the_grid()
    {
        HostCompiler.SkipIfUnavailable();
        MergeScenario s = MergeScenarios.All().Single(x => x.Name == "task arithmetic");
        byte[] small = HostCompiler.RunKernel(s.Kernel, s.Arguments, s.Inputs, s.OutputBytes, grid: 1, block: 32);
        byte[] large = HostCompiler.RunKernel(s.Kernel, s.Arguments, s.Inputs, s.OutputBytes, grid: 20, block: 256);
        Assert.Equal(small, large);
    }

    [SkippableFact]
    public void Dare_keeps_about_density_of_each_models_elements()
    {
        HostCompiler.SkipIfUnavailable();
        // every delta of model 1 is non-zero, so a zero output delta means "dropped"
        var kernel = Emission.KernelEmitter.EmitTaskArithmetic(2, 0, [Numerics.Dtype.F32, Numerics.Dtype.F32], Numerics.Dtype.F32, dareMask: true);
        const int count = 20000;
        var args = kernel.CreateArguments().Set("count", (ulong)count).Set("seed", 99UL).Set("lambda", 1.0).Set("divisor", 1.0)
            .Set("weight", 1, 1.0).Set("density", 1, 0.3).Set("scale", 1, 1.0).Set("name_hash", 12345u);
        byte[] zeros = new byte[count * 4];
        byte[] ones = Reference.FloatBytes(Enumerable.Repeat(1f, count).ToArray());
        float[] output = Reference.Floats(HostCompiler.RunKernel(kernel, args, [zeros, ones], count * 4, grid: 4, block: 128));
        int kept = output.Count(v => v == 1f);
        Assert.Equal(count, kept + output.Count(v => v == 0f));
        double sigma = Math.Sqrt(count * 0.3 * 0.7);
        Assert.InRange(kept, count * 0.3 - 5 * sigma, count * 0.3 + 5 * sigma);
        for (int i = 0; i < count; i++) Assert.Equal(Reference.Keep(99, 1, 12345, (ulong)i, 0.3), output[i] == 1f);
    }
}
