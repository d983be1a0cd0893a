using DotnetMerge.Cuda.Backend;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Tests.Infrastructure;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using static DotnetMerge.Cuda.Tests.Infrastructure.CpuFixtures;
using DotnetMerge.Selection;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The sce and RAM kernels on the shim against references written here from the methods' definitions (float64,
/// a plain sort for SCE's selection), independently of the CPU methods' code.</summary>
public sealed class VoteShimTests
{
    private const string Tensor = "model.layers.0.mlp.up_proj.weight";

    /// <summary>bf16 inputs decoded by the reference decoder: the base first, then the models.</summary>
    private static float[][] Decode(TensorMergeContext context)
        => context.Inputs.Select(input =>
        {
            byte[] bytes = input.Data.ToArray();
            return Enumerable.Range(0, (int)context.OutputElementCount).Select(i => (float)Reference.Decode(Reference.Bf16, Reference.ReadCode(Reference.Bf16, bytes, i))).ToArray();
        }).ToArray();

    private static float[] Variances(float[][] x)
    {
        int k = x.Length - 1;
        var result = new float[x[0].Length];
        for (int i = 0; i < result.Length; i++)
        {
            double[] d = Enumerable.Range(1, k).Select(m => (double)(x[m][i] - x[0][i])).ToArray();
            double mean = 0;
            foreach (double v in d) mean += v;
            mean /= k;
            double ss = 0;
            foreach (double v in d) ss += (v - mean) * (v - mean);
            result[i] = (float)(ss / k);
        }
        return result;
    }

    /// <summary>SCE keeps ⌊topk·(positions of non-zero variance)⌋ positions: the largest variances, the lower index first
    /// among equal ones (bf16 task vectors make many equal variances; in the second case the threshold's copies are split
    /// between kept and dropped, so the tie passes decide).</summary>
    [SkippableTheory]
    [InlineData(0.3, 4, false)]
    [InlineData(0.9, 3, true)]
    [InlineData(0.02, 2, false)]
    public void Sce_selects_the_top_share_of_the_non_zero_variances(double topk, int models, bool thresholdSplit)
    {
        HostCompiler.SkipIfUnavailable();
        Model[] m = Enumerable.Range(0, models).Select(_ => new Model(Dtype.BF16, 1)).ToArray();
        TensorMergeContext context = Context(Tensor, [96, 160], m, 0, Dtype.BF16, new Dictionary<string, object> { ["select_topk"] = topk }, 0, models);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new SceMerge(), context, out string reason) ?? throw new InvalidOperationException(reason);
        EmittedKernel select = plan.Select ?? throw new InvalidOperationException("no selection");
        float[] variance = Variances(Decode(context));
        int n = variance.Length;
        long nonZero = variance.Count(v => v != 0);
        long k = (long)(topk * nonZero);
        var chosen = new HashSet<int>(Enumerable.Range(0, n).OrderByDescending(i => variance[i]).ThenBy(i => i).Take((int)k));

        byte[][] inputs = context.Inputs.Select(i => i.Data.ToArray()).ToArray();
        SelectPassRunner run = (arguments, words) => RunSelectPass(select, arguments, inputs, words);
        Assert.Equal(n - nonZero, MagnitudeSelection.CountEqual(select, n, 0, MagnitudeSelect.SortKey(0f), run));
        int tiePasses = SelectPassesRun[2];
        IReadOnlyList<SelectionQuery> queries = plan.SelectQueriesFor(n, run);
        Assert.Equal(k, Assert.Single(queries).Count);
        TopSet set = MagnitudeSelection.Select(select, n, queries, run)[0];
        for (int i = 0; i < n; i++) Assert.True(chosen.Contains(i) == set.Contains(variance[i], i), $"position {i} (variance {variance[i]:R})");
        float threshold = k > 0 ? chosen.Min(i => variance[i]) : 0;
        bool split = k > 0 && Enumerable.Range(0, n).Any(i => variance[i] == threshold && !chosen.Contains(i));
        Assert.Equal(thresholdSplit, split);
        if (split) Assert.True(SelectPassesRun[2] > tiePasses, "the threshold's copies are split, so the tie passes must run");
    }

    /// <summary>ram and ramplus_tl from their definitions in float64: changes with |δ| ≤ epsilon are ignored; one change is
    /// taken times its model's factor (1, or 1 + r·clip(shared / max(alone, epsilon), 0, alpha)), several are averaged.
    /// Same operations in double as the definition, so the bytes must be equal.</summary>
    [SkippableTheory]
    [InlineData(false, Dtype.BF16)]
    [InlineData(true, Dtype.F32)]
    [InlineData(true, Dtype.BF16)]
    public void Ram_matches_a_float64_reference(bool plus, Dtype output)
    {
        HostCompiler.SkipIfUnavailable();
        const double epsilon = 0.003, r = 0.7, alpha = 0.9;
        Model[] m = [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.005), new(Dtype.BF16, 1)];
        var global = new Dictionary<string, object> { ["epsilon"] = epsilon, ["r"] = r, ["alpha"] = alpha };
        TensorMergeContext context = Context(Tensor, [300, 256], m, 0, output, global, 0, plus ? 3 : 4);
        IMergeMethod method = plus ? new RamPlusTlMerge() : new RamMerge();
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(method, context, out string reason) ?? throw new InvalidOperationException(reason);
        byte[] kernel = RunOnShim(plan, context, piece: 20000);

        float[][] x = Decode(context);
        int n = x[0].Length, tasks = x.Length - 1;
        bool Changes(int t, int i) => Math.Abs((double)(x[t][i] - x[0][i])) > epsilon;
        var alone = new double[tasks + 1];
        var shared = new double[tasks + 1];
        for (int i = 0; i < n; i++)
        {
            int changed = Enumerable.Range(1, tasks).Count(t => Changes(t, i));
            for (int t = 1; t <= tasks; t++)
                if (Changes(t, i)) { if (changed == 1) alone[t]++; else shared[t]++; }
        }
        double[] scale = Enumerable.Range(0, tasks + 1).Select(t => plus ? 1 + r * Math.Clamp(shared[t] / Math.Max(alone[t], epsilon), 0, alpha) : 1).ToArray();
        Assert.Contains(scale, s => s != 1 || !plus);
        for (int i = 0; i < n; i++)
        {
            var changes = Enumerable.Range(1, tasks).Where(t => Changes(t, i)).ToArray();
            double merged = changes.Length switch
            {
                0 => 0,
                1 => (double)(x[changes[0]][i] - x[0][i]) * scale[changes[0]],
                _ => changes.Sum(t => (double)(x[t][i] - x[0][i])) / changes.Length,
            };
            double expected = x[0][i] + merged;
            if (output == Dtype.F32) Assert.Equal((float)expected, BitConverter.ToSingle(kernel, 4 * i));
            else Assert.Equal(Reference.Encode(Reference.Bf16, expected), Reference.ReadCode(Reference.Bf16, kernel, i));
        }
    }

    /// <summary>sce from its definition in float64: weights = mean squared selected task vector, normalised; at a selected
    /// position the deltas of the sign of their sum are averaged with those weights; elsewhere the base. The reference adds
    /// the squares in plain order (the kernels in LaneSum's), so an output within float64 error of a midpoint may be one
    /// code off, rarely.</summary>
    [SkippableTheory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    public void Sce_matches_a_float64_reference(double topk)
    {
        HostCompiler.SkipIfUnavailable();
        Model[] m = [new(Dtype.BF16, 1), new(Dtype.BF16, 1), new(Dtype.BF16, 1, Spread: 0.01), new(Dtype.BF16, 1)];
        TensorMergeContext context = Context(Tensor, [200, 128], m, 0, Dtype.BF16, new Dictionary<string, object> { ["select_topk"] = topk }, 0, 7);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new SceMerge(), context, out string reason) ?? throw new InvalidOperationException(reason);
        byte[] kernel = RunOnShim(plan, context, piece: 9000);

        float[][] x = Decode(context);
        float[] variance = Variances(x);
        int n = variance.Length, tasks = x.Length - 1;
        long k = (long)(topk * variance.Count(v => v != 0));
        var selected = topk < 1
            ? new HashSet<int>(Enumerable.Range(0, n).OrderByDescending(i => variance[i]).ThenBy(i => i).Take((int)k))
            : new HashSet<int>(Enumerable.Range(0, n));
        double Delta(int t, int i) => x[t][i] - x[0][i];
        double[] weights = Enumerable.Range(1, tasks).Select(t => selected.Sum(i => Delta(t, i) * Delta(t, i)) / n).ToArray();
        double total = weights.Sum();
        weights = weights.Select(w => w / total).ToArray();
        int off = 0;
        for (int i = 0; i < n; i++)
        {
            double expected = x[0][i];
            if (selected.Contains(i))
            {
                double sum = Enumerable.Range(1, tasks).Sum(t => Delta(t, i));
                var agreeing = Enumerable.Range(1, tasks).Where(t => sum >= 0 ? Delta(t, i) > 0 : Delta(t, i) < 0).ToArray();
                double divisor = agreeing.Sum(t => weights[t - 1]);
                expected += agreeing.Sum(t => Delta(t, i) * weights[t - 1]) / (divisor == 0 ? 1 : divisor);
            }
            uint want = Reference.Encode(Reference.Bf16, expected)!.Value, code = Reference.ReadCode(Reference.Bf16, kernel, i);
            if (code == want) continue;
            Assert.True(Reference.NeighboursAroundMidpoint(Reference.Bf16, code, want, expected), $"element {i}: expected {want:x4} ({expected:R}), got {code:x4}");
            off++;
        }
        Assert.True(off <= n / 100, $"{off} of {n} elements are one code off the float64 reference");
    }

    private static TensorMergeContext F32Pair(float[] a, float[] b, long[] shape, Dtype output)
    {
        var inputs = new[] { a, b }.Select((values, m) =>
        {
            var bytes = new byte[values.Length * 4];
            DtypeConversion.Encode(Dtype.F32, values, bytes, 0);
            return new MergeInput("m" + m, "t", Dtype.F32, shape, bytes, m == 0, ParameterBag.Empty);
        }).ToList();
        return new TensorMergeContext("t", inputs, 0, ParameterBag.Empty, shape, output, new byte[output.ByteCount(a.Length)], 0, false,
            new ExecutionSettings(2));
    }

    /// <summary>arcee_fusion from its definition: per row KL(softmax(b) + 1e-8 ‖ softmax(a) + 1e-8) in float64, importance
    /// (float)(|b − a|·KL), the order statistics ⌊q·(n − 1)⌋ of a sort of all importances, threshold median + 1.5·IQR,
    /// output b where importance ≥ threshold, else a.</summary>
    [SkippableTheory]
    [InlineData(40, 96)]
    [InlineData(1, 3001)]
    [InlineData(2, 40)]
    public void Arcee_fusion_matches_a_sorting_reference(int rows, int width)
    {
        HostCompiler.SkipIfUnavailable();
        var random = new Random(rows * 1000 + width);
        int n = rows * width;
        // bf16-like coarse values: many equal |b − a| within a row, so the order statistics tie
        float[] a = Enumerable.Range(0, n).Select(_ => random.Next(-40, 41) / 64f).ToArray();
        // a few large changes: the tail above median + 1.5·IQR
        float[] b = a.Select(v => random.Next(25) == 0 ? v + random.Next(-64, 65) / 16f : v + random.Next(-6, 7) / 128f).ToArray();
        TensorMergeContext context = F32Pair(a, b, rows == 1 ? [width] : [rows, width], Dtype.F32);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new ArceeFusion(), context, out string reason) ?? throw new InvalidOperationException(reason);
        byte[] kernel = RunOnShim(plan, context, piece: 1000);

        var importance = new float[n];
        for (int r = 0; r < rows; r++)
        {
            double maxA = double.NegativeInfinity, maxB = double.NegativeInfinity, sumA = 0, sumB = 0, kl = 0;
            for (int e = r * width; e < (r + 1) * width; e++) { maxA = Math.Max(maxA, a[e]); maxB = Math.Max(maxB, b[e]); }
            for (int e = r * width; e < (r + 1) * width; e++) { sumA += Math.Exp(a[e] - maxA); sumB += Math.Exp(b[e] - maxB); }
            for (int e = r * width; e < (r + 1) * width; e++)
            {
                double pb = Math.Exp(b[e] - maxB) / sumB + 1e-8, pa = Math.Exp(a[e] - maxA) / sumA + 1e-8;
                kl += pb * Math.Log(pb / pa);
            }
            for (int e = r * width; e < (r + 1) * width; e++) importance[e] = (float)(Math.Abs((double)b[e] - a[e]) * kl);
        }
        float[] sorted = importance.Order().ToArray();
        double threshold = sorted[(int)(0.5 * (n - 1))] + 1.5 * ((double)sorted[(int)(0.75 * (n - 1))] - sorted[(int)(0.25 * (n - 1))]);
        int donor = 0;
        for (int e = 0; e < n; e++)
        {
            float expected = importance[e] >= threshold ? b[e] : a[e];
            if (importance[e] >= threshold) donor++;
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.ToUInt32(kernel, 4 * e));
        }
        Assert.InRange(donor, 1, n - 1);
    }

    /// <summary>Rows where b is a shifted by an exact constant have identical softmaxes: KL 0, importance 0. With most rows
    /// like that, the quartiles and the median are 0, the threshold is 0, and every element (importance ≥ 0) takes b, also
    /// in the rows whose importance equals the threshold exactly.</summary>
    [SkippableFact]
    public void Arcee_fusion_takes_the_donor_where_the_importance_equals_the_threshold()
    {
        HostCompiler.SkipIfUnavailable();
        const int rows = 8, width = 16;
        float[] a = Enumerable.Range(0, rows * width).Select(i => (i * 7 % 23 - 11) / 64f).ToArray();
        float[] b = a.Select((v, i) => i / width < rows - 1 ? v + 0.25f : v + (i % 3) / 32f).ToArray();
        TensorMergeContext context = F32Pair(a, b, [rows, width], Dtype.BF16);
        new ArceeFusion().Merge(context);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new ArceeFusion(), context, out string reason) ?? throw new InvalidOperationException(reason);
        byte[] kernel = RunOnShim(plan, WithNewOutput(context), rows * width);
        Assert.Equal(context.Output.ToArray(), kernel);
        for (int e = 0; e < rows * width; e++)
            Assert.Equal(Reference.Encode(Reference.Bf16, b[e]), Reference.ReadCode(Reference.Bf16, kernel, e));
    }
}
