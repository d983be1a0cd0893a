using System.Runtime.InteropServices;
using DotnetMerge.Cuda.Backend;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Tests.Infrastructure;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using static DotnetMerge.Cuda.Tests.Infrastructure.CpuFixtures;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The Gram kernel of slerp / model_stock on the g++ shim gives the CPU's Gram matrix bit for bit: the canonical
/// reduction order (spans of 65536 elements, element e of a span into accumulator e mod 16, the fixed tree, spans added in
/// order), checked against a reference written here and against VectorMath.Gram. The outputs' bytes alone would hide a
/// wrong order (bf16 rounding absorbs last-bit changes of the coefficients), hence this test.</summary>
public sealed class GramShimTests
{
    /// <summary>Σ a·b of one span in the canonical order, written out independently of LaneSum.</summary>
    private static double CanonicalDot(double[] a, double[] b, int from, int length)
    {
        var s = new double[16];
        for (int e = 0; e < length; e++) s[e % 16] = s[e % 16] + a[from + e] * b[from + e];
        var t = new double[8];
        for (int l = 0; l < 8; l++) t[l] = s[l] + s[l + 8];
        for (int l = 0; l < 4; l++) t[l] = t[l] + t[l + 4];
        for (int l = 0; l < 2; l++) t[l] = t[l] + t[l + 2];
        return t[0] + t[1];
    }

    public static TheoryData<string> Methods => new() { "slerp", "model_stock", "model_stock filter_wise" };

    [SkippableTheory]
    [MemberData(nameof(Methods))]
    public void Gram_equals_the_cpus_bit_for_bit(string method)
    {
        HostCompiler.SkipIfUnavailable();
        bool slerp = method == "slerp", rows = method.EndsWith("filter_wise", StringComparison.Ordinal);
        Model[] models = slerp
            ? [new(Dtype.F32, 1), new(Dtype.BF16, 1, Spread: 0.03)]
            : [new(Dtype.F32, 1), new(Dtype.F32, 1), new(Dtype.BF16, 1, Spread: 0.01), new(Dtype.F16, 1)];
        var global = new Dictionary<string, object> { ["t"] = 0.4, ["filter_wise"] = rows };
        const int n = 150_090; // whole: three spans, the last one short; rows: 30 rows of 5003
        long[] shape = rows ? [30, 5003] : [n];
        TensorMergeContext context = Context("t", shape, models, 0, Dtype.F32, global, 0, slerp ? 11 : 12);
        IMergeMethod implementation = slerp ? new Slerp() : new ModelStock();
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(implementation, context, out string reason) ?? throw new InvalidOperationException(reason);
        EmittedKernel gramKernel = plan.Gram!;
        KernelArguments arguments = gramKernel.CreateArguments();
        plan.SetGramArguments(arguments, n);
        long spans = (n + plan.GramSpan - 1) / plan.GramSpan;
        byte[] partial = HostCompiler.RunKernel(gramKernel, arguments, context.Inputs.Select(i => i.Data.ToArray()).ToArray(),
            checked((int)(spans * plan.GramPairs * 8)), grid: 2, block: (uint)gramKernel.BlockSize, outputField: "partial");
        double[] gpu = plan.GramFromPartial(MemoryMarshal.Cast<byte, double>(partial));

        // the reference: differences in double, then the canonical order
        float[][] values = context.Inputs.Select(i => { var v = new float[n]; i.Decode(0, v); return v; }).ToArray();
        int[] sources = slerp ? [0, 1] : [1, 2, 3];
        double[][] diff = sources.Select(s => values[s].Select((v, e) => slerp ? v : (double)v - values[0][e]).ToArray()).ToArray();
        var reference = new List<double>();
        var sequential = new List<double>();
        long span = rows ? shape[^1] : 65536;
        Assert.Equal(span, plan.GramSpan);
        for (long vector = 0; vector < (rows ? shape[0] : 1); vector++)
            for (int a = 0; a < sources.Length; a++)
                for (int b = a; b < sources.Length; b++)
                {
                    long from = rows ? vector * span : 0, to = rows ? from + span : n;
                    double total = 0, plain = 0;
                    for (long start = from; start < to; start += span)
                        total += CanonicalDot(diff[a], diff[b], (int)start, (int)Math.Min(span, to - start));
                    for (long e = from; e < to; e++) plain += diff[a][e] * diff[b][e];
                    reference.Add(total);
                    sequential.Add(plain);
                }
        Assert.Equal(reference, gpu);
        IReadOnlyList<MergeInput> cpuSources = sources.Select(s => context.Inputs[s]).ToList();
        Assert.Equal(VectorMath.Gram(context, cpuSources, slerp ? null : context.Inputs[0], rows ? VectorLayout.Rows(shape) : VectorLayout.Whole(shape)), gpu);
        // the order matters: a single running sum gives other bits for some entry
        Assert.NotEqual(sequential, reference);
    }
}
