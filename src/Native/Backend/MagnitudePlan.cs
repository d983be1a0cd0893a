using DotnetMerge.Cuda.Emission;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Selection;

namespace DotnetMerge.Cuda.Backend;

/// <summary>The per-input sets of a magnitude mask, as the map kernel takes them: input i keeps δ iff its |δ| is in
/// (keep key, keep end) and not in (drop key, drop end), see kernels/select.cuh.</summary>
public sealed class MagnitudeMasks
{
    private readonly TopSet[] keep, drop;

    internal MagnitudeMasks(TopSet[] keep, TopSet[] drop)
    {
        this.keep = keep;
        this.drop = drop;
    }

    /// <summary>The kept set of input <paramref name="input"/> (the CPU's KeepSet "keep").</summary>
    public TopSet Keep(int input) => keep[input];

    /// <summary>The dropped outliers of input <paramref name="input"/> (the CPU's KeepSet "remove").</summary>
    public TopSet Drop(int input) => drop[input];

    internal void Set(KernelArguments arguments, int input)
        => arguments.Set("keep_key", input, keep[input].ThresholdKey).Set("keep_end", input, End(keep[input]))
            .Set("drop_key", input, drop[input].ThresholdKey).Set("drop_end", input, End(drop[input]));

    /// <summary>One past the last kept threshold copy: 0 for none (LastTieIndex −1), 2^63 for all (long.MaxValue).</summary>
    public static ulong End(TopSet set) => set.LastTieIndex == long.MaxValue ? 1UL << 63 : (ulong)(set.LastTieIndex + 1);
}

/// <summary>The magnitude sparsification of one job, decided from its parameters exactly as the CPU's DeltaPruner.CreateAll
/// decides it: per non-base input, a kept set and a dropped set, each either fixed (every element, none, or a model-scope
/// threshold) or the answer to a <see cref="SelectionQuery"/> that the select kernel computes.</summary>
internal sealed class MagnitudePlan
{
    /// <summary>A set: the answer to query <see cref="Query"/> when it is at least 0, else <see cref="Fixed"/>.</summary>
    private readonly record struct Source(int Query, TopSet Fixed);

    private readonly Source[] keep, drop;

    private MagnitudePlan(EmittedKernel? select, IReadOnlyList<SelectionQuery> queries, Source[] keep, Source[] drop)
    {
        Select = select;
        Queries = queries;
        this.keep = keep;
        this.drop = drop;
    }

    /// <summary>Null when no set needs selecting.</summary>
    public EmittedKernel? Select { get; }
    public IReadOnlyList<SelectionQuery> Queries { get; }

    /// <param name="ties">TIES trim (else Model Breadcrumbs, which reads <c>gamma</c>).</param>
    /// <param name="densities">Per input: its density, 1 where nothing is pruned (base included).</param>
    public static MagnitudePlan Create(bool ties, IReadOnlyList<KernelInput> inputs, int baseIndex, int[] tasks, double[] densities,
        long n, IReadOnlyList<Dtype> dtypes)
    {
        var keep = new Source[inputs.Count];
        var drop = new Source[inputs.Count];
        var queries = new List<SelectionQuery>();
        Source Fixed(TopSet set) => new(-1, set);
        Source Query(int model, long count)
        {
            queries.Add(new SelectionQuery(model, count));
            return new Source(queries.Count - 1, default);
        }
        for (int i = 0; i < inputs.Count; i++) { keep[i] = Fixed(TopSet.All(n)); drop[i] = Fixed(TopSet.None); }
        foreach (int t in tasks)
        {
            double density = densities[t];
            if (density >= 1) continue; // no pruner
            ParameterBag parameters = inputs[t].Parameters;
            if (ties)
            {
                if (density <= 0) keep[t] = Fixed(TopSet.None);
                else if (inputs[t].MagnitudeThreshold is float threshold)
                    // trim_scope: model: |δ| at or above the model's threshold, found over all its tensors in a pre-pass
                    keep[t] = Fixed(new TopSet(0, MagnitudeSelect.SortKey(threshold), long.MaxValue));
                else keep[t] = Query(t, Math.Max(1, (long)(density * n)));
            }
            else
            {
                // Kept: ranks [bottom, n - top) in ascending order = the (n - bottom) largest minus the top largest.
                double gamma = parameters.GetDouble("gamma");
                long kept = (long)(density * n), top = (long)(gamma * n), bottom = n - kept - top;
                if (bottom < 0) { top += bottom; bottom = 0; }
                keep[t] = Query(t, n - bottom);
                drop[t] = Query(t, top);
            }
        }
        EmittedKernel? select = queries.Count > 0 ? KernelEmitter.EmitMagnitudeSelect(inputs.Count, baseIndex, dtypes) : null;
        return new MagnitudePlan(select, queries, keep, drop);
    }

    public MagnitudeMasks Masks(IReadOnlyList<TopSet> selected)
    {
        if (selected.Count != Queries.Count) throw new ArgumentException($"{selected.Count} sets for {Queries.Count} queries", nameof(selected));
        TopSet Resolve(Source s) => s.Query >= 0 ? selected[s.Query] : s.Fixed;
        return new MagnitudeMasks(keep.Select(Resolve).ToArray(), drop.Select(Resolve).ToArray());
    }
}
