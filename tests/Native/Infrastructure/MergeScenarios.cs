using DotnetMerge.Cuda.Emission;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Tests.Infrastructure;

/// <summary>One merge kernel with its inputs, its runtime arguments (pointers left for the runner to fill) and a float64
/// reference of every output element computed here from the method's definition. Used both by the CPU-shim tests and
/// by the GPU tests, which therefore check the same numbers.</summary>
internal sealed record MergeScenario(string Name, EmittedKernel Kernel, KernelArguments Arguments, byte[][] Inputs, Dtype Output,
    int Count, double[] Expected, bool Exact)
{
    public int OutputBytes => Count * KernelEmitter.ElementSize(Output);

    /// <summary>Exact scenarios must match bit for bit; the others may differ from the float64 reference (which adds in a
    /// different association) by the last bits of the float64 sums: one code of the output format, only where the
    /// reference lies within 2^-40 (relative) of the midpoint between the two codes (double rounding through float32
    /// would show up to 2^-25 away, so it stays visible), and mostly not at all.</summary>
    public void Check(byte[] output)
    {
        Assert.Equal(OutputBytes, output.Length);
        int off = 0;
        for (int i = 0; i < Count; i++)
        {
            double expected = Expected[i];
            if (Output == Dtype.F32)
            {
                float actual = BitConverter.ToSingle(output, i * 4);
                if (Exact) Assert.True((float)expected == actual, $"{Name}[{i}]: expected {expected:R}, got {actual:R}");
                else Assert.True(Math.Abs(actual - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{Name}[{i}]: expected {expected:R}, got {actual:R}");
                continue;
            }
            Reference.Format format = MergeScenarios.FormatOf(Output);
            uint code = Reference.ReadCode(format, output, i);
            uint want = Reference.Encode(format, expected) ?? throw new InvalidOperationException("NaN reference");
            if (code == want) continue;
            Assert.False(Exact, $"{Name}[{i}]: expected code {want:x} ({expected:R}), got {code:x} ({Reference.Decode(format, code):R})");
            Assert.True(Reference.NeighboursAroundMidpoint(format, code, want, expected),
                $"{Name}[{i}]: expected code {want:x} ({expected:R}), got {code:x} ({Reference.Decode(format, code):R})");
            off++;
        }
        Assert.True(off <= Count / 50, $"{Name}: {off} of {Count} elements are one code off the float64 reference");
    }
}

internal static class MergeScenarios
{
    public static Reference.Format FormatOf(Dtype dtype) => dtype switch
    {
        Dtype.BF16 => Reference.Bf16,
        Dtype.F16 => Reference.F16,
        Dtype.F8_E4M3 => Reference.F8E4M3,
        Dtype.F8_E5M2 => Reference.F8E5M2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Random values stored in <paramref name="dtype"/>, and their exact values. Dyadic mode keeps them to
    /// k/64 with |k| ≤ 255 (exact in every dtype here but f8), so every product and sum below is exact in float32.</summary>
    public static (byte[] Bytes, double[] Values) Tensor(Dtype dtype, int count, Random random, bool dyadic, double scale = 1)
    {
        var values = new double[count];
        for (int i = 0; i < count; i++)
            values[i] = dyadic ? random.Next(-255, 256) / 64.0 : (random.NextDouble() * 2 - 1) * scale;
        if (dtype == Dtype.F32)
        {
            float[] f = values.Select(v => (float)v).ToArray();
            return (Reference.FloatBytes(f), f.Select(v => (double)v).ToArray());
        }
        Reference.Format format = FormatOf(dtype);
        uint[] codes = values.Select(v => Reference.Encode(format, v)!.Value).ToArray();
        return (Reference.WriteCodes(format, codes), codes.Select(c => Reference.Decode(format, c)).ToArray());
    }

    public static MergeScenario Linear(string name, Dtype[] inputs, Dtype output, double[] weights, bool normalize, bool dyadic, int count, int seed)
    {
        var random = new Random(seed);
        var tensors = inputs.Select(d => Tensor(d, count, random, dyadic)).ToArray();
        EmittedKernel kernel = KernelEmitter.EmitLinear(inputs.Length, inputs, output);
        double total = weights.Sum();
        KernelArguments args = kernel.CreateArguments().Set("count", (ulong)count).Set("divisor", normalize ? total : 1.0);
        for (int m = 0; m < inputs.Length; m++) args.Set("weight", m, weights[m]);
        var expected = new double[count];
        for (int i = 0; i < count; i++)
        {
            double acc = 0;
            for (int m = 0; m < inputs.Length; m++) acc += weights[m] * tensors[m].Values[i];
            expected[i] = normalize ? acc / total : acc;
        }
        return new MergeScenario(name, kernel, args, tensors.Select(t => t.Bytes).ToArray(), output, count, expected, dyadic);
    }

    /// <summary>task_arithmetic (and dare_linear with <paramref name="density"/>): base + λ·Σ wᵢ·δᵢ [/ Σ wᵢ], δᵢ masked by the
    /// shared random stream (the C# reference Philox) and multiplied by <paramref name="rescale"/>.</summary>
    public static MergeScenario TaskArithmetic(string name, Dtype[] inputs, int baseIndex, Dtype output, double[] weights, double lambda,
        bool normalize, double[]? density, double[]? rescale, bool dyadic, int count, int seed, ulong first = 0, ulong runSeed = 0,
        string tensorName = "model.layers.0.self_attn.q_proj.weight")
    {
        var random = new Random(seed);
        var tensors = inputs.Select(d => Tensor(d, count, random, dyadic)).ToArray();
        bool dare = density is not null;
        EmittedKernel kernel = KernelEmitter.EmitTaskArithmetic(inputs.Length, baseIndex, inputs, output, dare);
        uint nameHash = Reference.Fnv1a(tensorName);
        double divisor = Enumerable.Range(0, inputs.Length).Where(m => m != baseIndex).Sum(m => weights[m]);
        if (Math.Abs(divisor) < 1e-8) divisor = 1;
        KernelArguments args = kernel.CreateArguments().Set("count", (ulong)count).Set("first", first).Set("seed", runSeed).Set("lambda", lambda)
            .Set("divisor", normalize ? divisor : 1.0);
        for (int m = 0; m < inputs.Length; m++) args.Set("weight", m, weights[m]);
        if (dare)
        {
            args.Set("name_hash", nameHash);
            for (int m = 0; m < inputs.Length; m++) { args.Set("density", m, density![m]); args.Set("scale", m, rescale![m]); }
        }
        var expected = new double[count];
        for (int i = 0; i < count; i++)
        {
            double b = tensors[baseIndex].Values[i], mixed = 0;
            for (int m = 0; m < inputs.Length; m++)
            {
                if (m == baseIndex) continue;
                double delta = tensors[m].Values[i] - b;
                if (dare) delta = Reference.Keep(runSeed, (uint)m, nameHash, first + (ulong)i, density![m]) ? delta * rescale![m] : 0;
                mixed += weights[m] * delta;
            }
            if (normalize) mixed /= divisor;
            expected[i] = b + mixed * lambda;
        }
        return new MergeScenario(name, kernel, args, tensors.Select(t => t.Bytes).ToArray(), output, count, expected, dyadic);
    }

    /// <summary>The scenarios both the shim and the GPU run.</summary>
    public static IEnumerable<MergeScenario> All()
    {
        yield return Linear("linear exact bf16", [Dtype.BF16, Dtype.BF16, Dtype.F32], Dtype.BF16, [0.5, 0.25, 0.25], normalize: true, dyadic: true, count: 5000, seed: 1);
        yield return Linear("linear mixed dtypes", [Dtype.BF16, Dtype.F16, Dtype.F32, Dtype.F8_E4M3], Dtype.F16, [0.3, 0.7, -0.2, 1.1], normalize: true, dyadic: false, count: 5000, seed: 2);
        yield return Linear("linear f32 sum", [Dtype.F32, Dtype.BF16], Dtype.F32, [0.8, 0.45], normalize: false, dyadic: false, count: 3000, seed: 3);
        yield return TaskArithmetic("task arithmetic", [Dtype.F16, Dtype.BF16, Dtype.F32], baseIndex: 1, Dtype.BF16, [0.6, 0, 0.4], lambda: 0.8,
            normalize: true, density: null, rescale: null, dyadic: false, count: 5000, seed: 4);
        yield return TaskArithmetic("dare exact", [Dtype.BF16, Dtype.BF16, Dtype.F32], baseIndex: 0, Dtype.BF16, [0, 0.5, 0.25], lambda: 1,
            normalize: false, density: [1, 0.5, 0.3], rescale: [1, 2, 0.5], dyadic: true, count: 6000, seed: 5,
            first: (1UL << 33) + 12345, runSeed: 0x0123456789abcdefUL);
    }
}
