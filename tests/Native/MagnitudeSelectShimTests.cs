using System.Runtime.InteropServices;
using DotnetMerge.Cuda.Backend;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Tests.Infrastructure;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using static DotnetMerge.Cuda.Tests.Infrastructure.CpuFixtures;
using DotnetMerge.Selection;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The GPU magnitude selection (kernels/select.cuh and the select kernel's four passes, run on the g++ shim with
/// real threads racing on the histograms' atomicAdds, plus the host's bucket walks) gives the CPU's TopSet contract: the
/// k largest |δ| under "larger first, ties: lower index first", as threshold key and last tie index.</summary>
public sealed class MagnitudeSelectShimTests
{
    /// <summary>Element i's |δ| of every task, in float32, as the CPU computes it (decoded x − decoded base).</summary>
    private static float[][] AbsDeltas(TensorMergeContext context, int[] tasks)
    {
        long n = context.OutputElementCount;
        var b = new float[n];
        context.Inputs[context.BaseIndex].Decode(0, b);
        return tasks.Select(t =>
        {
            var x = new float[n];
            context.Inputs[t].Decode(0, x);
            for (long i = 0; i < n; i++) x[i] = MathF.Abs(x[i] - b[i]);
            return x;
        }).ToArray();
    }

    /// <summary>The set by definition: sort (|δ| descending, index ascending), take k, read off the smallest kept value's
    /// key and the largest index kept among its copies (long.MaxValue when every copy is kept).</summary>
    private static TopSet ReferenceTopSet(float[] magnitudes, long k)
    {
        long n = magnitudes.Length;
        if (k <= 0) return TopSet.None;
        if (k >= n) return TopSet.All(n);
        int[] order = Enumerable.Range(0, (int)n).OrderByDescending(i => MagnitudeSelect.SortKey(magnitudes[i])).ThenBy(i => i).ToArray();
        uint key = MagnitudeSelect.SortKey(magnitudes[order[k - 1]]);
        int copies = magnitudes.Count(v => MagnitudeSelect.SortKey(v) == key);
        int keptCopies = order.Take((int)k).Count(i => MagnitudeSelect.SortKey(magnitudes[i]) == key);
        long last = keptCopies == copies ? long.MaxValue : order.Take((int)k).Where(i => MagnitudeSelect.SortKey(magnitudes[i]) == key).Max();
        return new TopSet(k, key, last);
    }

    public static TheoryData<string, int> Streams => new()
    {
        { "bf16", 1 },
        { "f16", 2 },
        { "f32", 3 },
    };

    [SkippableTheory]
    [MemberData(nameof(Streams))]
    public void Selection_equals_the_cpus_top_sets(string dtypeName, int seed)
    {
        HostCompiler.SkipIfUnavailable();
        Dtype dtype = dtypeName switch { "bf16" => Dtype.BF16, "f16" => Dtype.F16, _ => Dtype.F32 };
        Model[] models = [new(dtype, 0), new(dtype, 1), new(Dtype.BF16, 1), new(dtype, 1)];
        TensorMergeContext context = Context("t", [160, 200], models, 0, Dtype.BF16, new Dictionary<string, object>(), 0, seed);
        long n = context.OutputElementCount;
        int[] tasks = [1, 2, 3];
        float[][] magnitudes = AbsDeltas(context, tasks);
        // k = 1, k = n − 1, small and large fractions, and the count of every element above some value plus part of
        // its copies (a tie in a late tile); also k ≤ 0 and k ≥ n (no pass), several queries on one stream
        long[] counts = [1, n - 1, n / 100, n / 3, (long)(0.77 * n), 0, n, n + 5];
        var queries = new List<SelectionQuery>();
        foreach (int t in tasks) foreach (long k in counts) queries.Add(new SelectionQuery(t, k));
        EmittedKernel select = KernelEmitter.EmitMagnitudeSelect(4, 0, [dtype, dtype, Dtype.BF16, dtype]);
        byte[][] inputs = context.Inputs.Select(i => i.Data.ToArray()).ToArray();
        int before = SelectPassesRun[3];

        TopSet[] sets = MagnitudeSelection.Select(select, n, queries, (arguments, words) => RunSelectPass(select, arguments, inputs, words));

        var cpu = MagnitudeSelect.SelectTop(n, tasks.Length, queries.Select(q => new SelectQuery(Array.IndexOf(tasks, q.Model), q.Count)).ToList(),
            (start, length, destinations) =>
            {
                for (int s = 0; s < tasks.Length; s++) magnitudes[s].AsSpan((int)start, length).CopyTo(destinations[s]);
            }, new ExecutionSettings(2, 4099));
        for (int q = 0; q < queries.Count; q++)
        {
            TopSet reference = ReferenceTopSet(magnitudes[Array.IndexOf(tasks, queries[q].Model)], queries[q].Count);
            Assert.Equal(reference, sets[q]);
            Assert.Equal(cpu[q], sets[q]);
        }
        if (dtype != Dtype.F32)
        {
            // narrow inputs: duplicated thresholds, so some set keeps only part of its threshold's copies
            Assert.Contains(sets, s => s.LastTieIndex >= 0 && s.LastTieIndex < n);
            Assert.True(SelectPassesRun[3] > before, "the tie-locating pass did not run");
        }
    }

    /// <summary>Every element has the same |δ|: all threads of every block add to one histogram bin at once. The atomics
    /// must count every element, and the tie passes must find the k-th copy by index.</summary>
    [SkippableFact]
    public void Histogram_atomics_count_every_element_under_contention()
    {
        HostCompiler.SkipIfUnavailable();
        const int n = 3 * 4096 + 123;
        var baseValues = new float[n];
        var other = Enumerable.Repeat(0.25f, n).ToArray();
        byte[][] inputs = [Reference.FloatBytes(baseValues), Reference.FloatBytes(other)];
        EmittedKernel select = KernelEmitter.EmitMagnitudeSelect(2, 0, [Dtype.F32, Dtype.F32]);
        ulong[] high = RunSelectPass(select, select.CreateArguments().Set("count", (ulong)n).Set("pass", 0u).Set("queries", 1u).Set("stream", 0, 1u),
            inputs, KernelEmitter.SelectBins);
        uint key = MagnitudeSelect.SortKey(0.25f);
        Assert.Equal((ulong)n, high[key >> 16]);
        Assert.Equal((ulong)n, high.Aggregate(0UL, (a, b) => a + b));

        TopSet[] sets = MagnitudeSelection.Select(select, n, [new SelectionQuery(1, 5000), new SelectionQuery(1, 1)],
            (arguments, words) => RunSelectPass(select, arguments, inputs, words));
        Assert.Equal(new TopSet(5000, key, 4999), sets[0]);
        Assert.Equal(new TopSet(1, key, 0), sets[1]);
    }

    /// <summary>TIES over a task vector whose every |δ| is the same: the kept half is exactly the lower indices (the last
    /// kept copy is at k − 1, so an off-by-one in the map's tie test would keep element k), in pieces that do not start on
    /// the tie. Checked against the CPU method's bytes and against the expected values.</summary>
    [SkippableFact]
    public void Ties_keeps_the_lowest_indices_of_a_duplicated_threshold()
    {
        HostCompiler.SkipIfUnavailable();
        const int n = 10_000;
        var global = new ParameterBag(new Dictionary<string, object> { ["normalize"] = true, ["lambda"] = 1.0, ["rescale"] = "false" });
        var b = new float[n];
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i % 3 == 0 ? -0.25f : 0.25f; // |δ| = 0.25 everywhere, signs mixed
        MergeInput Input(string name, float[] values, bool isBase, double density)
            => new(name, "t", Dtype.F32, [n], Reference.FloatBytes(values), isBase,
                new ParameterBag(new Dictionary<string, object> { ["weight"] = 1.0, ["density"] = density }));
        var context = new TensorMergeContext("t", [Input("base", b, true, 1), Input("x", x, false, 0.5)], 0, global, [n], Dtype.F32,
            new byte[n * 4], 0, false, new ExecutionSettings(2));
        new DotnetMerge.Methods.TiesMerge().Merge(context);
        MergeKernelPlan plan = MergeKernelPlan.TryCreate(new DotnetMerge.Methods.TiesMerge(), context, out string reason) ?? throw new InvalidOperationException(reason);
        byte[] kernel = RunOnShim(plan, WithNewOutput(context), piece: 1234);
        Assert.True(context.Output.Span.SequenceEqual(kernel), FirstDifference(context.Output.ToArray(), kernel, Dtype.F32));
        float[] result = Reference.Floats(kernel);
        for (int i = 0; i < n; i++) Assert.Equal(i < n / 2 ? x[i] : 0f, result[i]);
    }

    [Fact]
    public void Set_ends_encode_none_all_and_a_tie_index()
    {
        Assert.Equal(0UL, MagnitudeMasks.End(TopSet.None));
        Assert.Equal(1UL << 63, MagnitudeMasks.End(TopSet.All(10)));
        Assert.Equal(8UL, MagnitudeMasks.End(new TopSet(3, 0x8000_0001u, 7)));
    }
}
