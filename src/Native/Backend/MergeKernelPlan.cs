using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;
using DotnetMerge.Selection;

namespace DotnetMerge.Cuda.Backend;

/// <summary>One input of a tensor job as the GPU sees it: its stored dtype, its (possibly cropped) shape, the shape it is
/// stored with, and its resolved per-model parameters.</summary>
public readonly record struct KernelInput(Dtype Dtype, long[] Shape, long[] StoredShape, ParameterBag Parameters, float? MagnitudeThreshold = null);

/// <summary>The GPU form of one tensor job: the kernels to run (their text depends only on the shape of the plan) and the
/// numbers to pass them, derived from the job's parameters exactly as the CPU methods derive theirs (same double
/// arithmetic, same order), so that both backends write the same bytes. <see cref="TryCreate(IMergeMethod, string,
/// IReadOnlyList{KernelInput}, int, ParameterBag, long[], Dtype, ulong, out string)"/> returns null, with a reason, for
/// every job it does not reproduce exactly, including every job the CPU method would reject: the CPU then runs it
/// (and reports the error in its own words).</summary>
public sealed class MergeKernelPlan
{
    /// <summary>Elements per chunk of the L1 reduction (the CPU's TaskVectors.ReductionChunk for DARE, whose rows are
    /// not constrained): the chunking is part of the float64 summation order, so it must be the CPU's.</summary>
    public const long NormChunk = 1 << 16;

    private readonly double[] weights;
    private readonly double[] densities;
    private readonly double[] scales;
    private readonly double divisor;
    private readonly double lambda;
    private readonly bool l1;
    private readonly int[] tasks;
    private readonly MagnitudePlan? magnitude;
    private readonly GeometricPlan? geometric;
    private readonly DellaPlan? della;
    private readonly ScePlan? sce;
    private readonly RamPlan? ram;
    private readonly ArceePlan? arcee;

    private MergeKernelPlan(EmittedKernel map, EmittedKernel? norms, double[] weights, double[] densities, double[] scales,
        double divisor, double lambda, bool l1, int[] tasks, ulong seed, uint nameHash, IReadOnlyList<Dtype> inputDtypes, Dtype output,
        MagnitudePlan? magnitude = null, GeometricPlan? geometric = null, DellaPlan? della = null, ScePlan? sce = null, RamPlan? ram = null,
        ArceePlan? arcee = null)
    {
        this.arcee = arcee;
        this.della = della;
        this.sce = sce;
        this.ram = ram;
        Map = map;
        Norms = norms;
        this.magnitude = magnitude;
        this.geometric = geometric;
        this.weights = weights;
        this.densities = densities;
        this.scales = scales;
        this.divisor = divisor;
        this.lambda = lambda;
        this.l1 = l1;
        this.tasks = tasks;
        Seed = seed;
        NameHash = nameHash;
        InputDtypes = inputDtypes;
        OutputDtype = output;
    }

    /// <summary>The element-wise kernel that writes the output.</summary>
    public EmittedKernel Map { get; }

    /// <summary>The reduction that runs before <see cref="Map"/>, else null: the L1 norms (DARE, ties, DELLA with
    /// <c>rescale: l1</c>), SCE's sums of squares, or RAM+'s counts. <see cref="ScalesFromNorms"/> turns its per-chunk
    /// sums into the map's per-input factors.</summary>
    public EmittedKernel? Norms { get; }

    /// <summary>The magnitude select kernel that runs first (TIES trim, Model Breadcrumbs), else null; its queries are
    /// <see cref="SelectQueries"/>, and <see cref="MasksFrom"/> turns their answers into the map's mask parameters.</summary>
    public EmittedKernel? Select => magnitude?.Select ?? sce?.Select ?? arcee?.Select;

    /// <summary>The selections <see cref="Select"/> must answer (empty without it) when they are known from the parameters
    /// alone; see <see cref="SelectQueriesFor"/>.</summary>
    public IReadOnlyList<SelectionQuery> SelectQueries => magnitude?.Queries ?? arcee?.Queries ?? [];

    /// <summary>The selections <see cref="Select"/> must answer for a tensor of <paramref name="count"/> elements: SCE's
    /// count depends on the data, which a first pass of the select kernel (launched through <paramref name="run"/>) counts.</summary>
    public IReadOnlyList<SelectionQuery> SelectQueriesFor(long count, SelectPassRunner run)
        => sce is { Select: not null } ? sce.Queries(count, run) : SelectQueries;

    /// <summary>Fills the plan's own scalar arguments of a <see cref="Select"/> launch (arcee_fusion's row width; the caller
    /// also sets <c>row_coefficients</c> when <see cref="HasRowCoefficients"/>).</summary>
    public void SetSelectArguments(KernelArguments arguments) => arcee?.SetSelectArguments(arguments);

    /// <summary>True when the host computes one value per row before the device passes (arcee_fusion's KL):
    /// <see cref="HostRowValues"/> gives them, and the caller uploads them as <c>row_coefficients</c>.</summary>
    public bool HasHostRows => arcee is not null;

    /// <summary>The per-row values the host computes from the job's inputs, or null when the job must run on the CPU after
    /// all (<see cref="RunOnCpu"/>: arcee_fusion with a NaN or infinite input).</summary>
    public double[]? HostRowValues(TensorMergeContext context)
        => (arcee ?? throw new InvalidOperationException("this plan has no host rows")).RowKl(context);

    /// <summary>Merges the job with the CPU method (for a job that <see cref="HostRowValues"/> turned away).</summary>
    public static void RunOnCpu(TensorMergeContext context) => new ArceeFusion().Merge(context);

    /// <summary>True for the methods with a magnitude mask (ties, breadcrumbs, breadcrumbs_ties).</summary>
    public bool IsMagnitude => magnitude is not null;

    /// <summary>DELLA's keep kernel that runs first (it writes <see cref="FlagBytes"/> bytes of flags, which the norms and
    /// the map read as <c>flags</c>), else null.</summary>
    public EmittedKernel? DellaKeep => della?.Keep;

    /// <summary>Bytes of DELLA's flags buffer (0 without <see cref="DellaKeep"/>).</summary>
    public long FlagBytes => della?.FlagBytes ?? 0;

    /// <summary>Blocks to launch <see cref="DellaKeep"/> with (one per row, grid-stride beyond).</summary>
    public long DellaRows => della?.Rows ?? 0;

    /// <summary>Fills the scalar arguments of <see cref="DellaKeep"/> (the caller sets <c>in</c> and <c>flags</c>).</summary>
    public void SetDellaKeepArguments(KernelArguments arguments)
        => (della ?? throw new InvalidOperationException("this plan has no DELLA mask")).SetKeepArguments(arguments, Seed, NameHash);

    /// <summary>Elements per span of <see cref="Norms"/> (the CPU's reduction chunk: whole rows for DELLA).</summary>
    public long NormChunkElements => della?.NormChunk ?? NormChunk;

    /// <summary>The Gram reduction of the geometric methods (slerp, model_stock, multislerp, nuslerp, karcher) that runs
    /// first, else null: <see cref="SetGramArguments"/>, then <see cref="CoefficientsFromGram"/> gives the coefficients of
    /// the map (<see cref="SetMapArguments"/>).</summary>
    public EmittedKernel? Gram => geometric?.Gram;

    /// <summary>Values per span of <see cref="Gram"/>'s output.</summary>
    public int GramPairs => geometric?.Pairs ?? 0;

    /// <summary>Elements per span of <see cref="Gram"/> (a row for model_stock's filter_wise and nuslerp's rows, else 65536).</summary>
    public long GramSpan => geometric?.SpanElements ?? GeometricPlan.Span;

    /// <summary>True when the map takes one set of coefficients per row, from a device buffer that the caller fills with
    /// <see cref="CoefficientsFromGram"/>'s values and passes as <c>row_coefficients</c>.</summary>
    public bool HasRowCoefficients => geometric is { RowWidth: > 0 } || arcee is not null;

    /// <summary>Fills the scalar arguments of <see cref="Gram"/> (the caller sets the pointers).</summary>
    public void SetGramArguments(KernelArguments arguments, long count) => arguments.Set("count", (ulong)count).Set("span", (ulong)GramSpan);

    /// <summary>The map's coefficients from <see cref="Gram"/>'s per-span sums (span-major, <see cref="GramPairs"/> per span).</summary>
    public double[] CoefficientsFromGram(ReadOnlySpan<double> partial)
        => (geometric ?? throw new InvalidOperationException("this plan has no Gram reduction")).CoefficientsFromGram(partial);

    /// <summary>The Gram matrix itself (packed upper triangle, VectorMath.Gram's layout) from <see cref="Gram"/>'s per-span sums.</summary>
    public double[] GramFromPartial(ReadOnlySpan<double> partial)
        => (geometric ?? throw new InvalidOperationException("this plan has no Gram reduction")).GramFromPartial(partial);

    /// <summary>True for the DARE methods (a random mask, and scale factors).</summary>
    public bool IsDare => densities.Length > 0 && Map.Parameters.Fields.Any(f => f.Name == "density");

    public ulong Seed { get; }
    public uint NameHash { get; }
    public IReadOnlyList<Dtype> InputDtypes { get; }
    public Dtype OutputDtype { get; }

    /// <summary>The methods with GPU kernels.</summary>
    public static bool HasKernels(IMergeMethod method)
        => method is LinearMerge or TaskArithmeticMerge or DareLinearMerge or DareTiesMerge or TiesMerge or BreadcrumbsMerge or BreadcrumbsTiesMerge
            or Slerp or ModelStock or Multislerp or Nuslerp or Karcher or Nearswap or DellaMerge or DellaLinearMerge
            or SceMerge or RamMerge or RamPlusTlMerge or ArceeFusion;

    /// <summary>The plan of one tensor job of a merge plan (decided before its bytes are read).</summary>
    public static MergeKernelPlan? TryCreate(MergePlan plan, TensorJob job, out string reason)
    {
        if (job.Kind != JobKind.Merge) { reason = "not a merge job"; return null; }
        var inputs = job.Inputs.Select(i => new KernelInput(i.Tensor.Dtype, i.CropShape ?? i.Tensor.Shape, i.Tensor.Shape, i.Parameters, i.MagnitudeThreshold)).ToList();
        return TryCreate(plan.Implementation, job.OutputName, inputs, job.BaseIndex, job.Global, job.OutputShape, job.OutputDtype, plan.Seed, out reason);
    }

    /// <summary>The plan of one tensor job given as the CPU methods receive it.</summary>
    public static MergeKernelPlan? TryCreate(IMergeMethod method, TensorMergeContext context, out string reason)
    {
        var inputs = context.Inputs.Select(i => new KernelInput(i.Dtype, i.Shape, i.StoredShape, i.Parameters, i.MagnitudeThreshold)).ToList();
        return TryCreate(method, context.OutputName, inputs, context.BaseIndex, context.Global, context.OutputShape, context.OutputDtype,
            context.Seed, out reason);
    }

    public static MergeKernelPlan? TryCreate(IMergeMethod method, string outputName, IReadOnlyList<KernelInput> inputs, int baseIndex,
        ParameterBag global, long[] outputShape, Dtype output, ulong seed, out string reason)
    {
        if (!HasKernels(method)) { reason = $"{method.Name} has no GPU kernel"; return null; }
        if (inputs.Count == 0) { reason = "no inputs"; return null; }
        foreach (Dtype d in inputs.Select(i => i.Dtype).Append(output))
            if (!KernelEmitter.SupportsDtype(d)) { reason = $"{d} tensors are not supported on the GPU"; return null; }
        long count = TensorShape.ElementCount(outputShape);
        foreach (KernelInput input in inputs)
        {
            if (TensorShape.ElementCount(input.Shape) != count) { reason = "input shapes differ from the output's"; return null; }
            // A crop to leading rows is a prefix of the stored bytes; a crop of columns would need a gather.
            if (input.StoredShape.Length == 2 && input.Shape.Length == 2 && input.StoredShape[1] != input.Shape[1])
            { reason = "column-cropped inputs are not supported on the GPU"; return null; }
        }
        var dtypes = inputs.Select(i => i.Dtype).ToArray();
        uint nameHash = Philox.Fnv1a32(outputName);
        try
        {
            return method is LinearMerge ? Linear(inputs, global, dtypes, output, seed, nameHash, out reason)
                : method is Nearswap ? NearswapPlan(inputs, baseIndex, global, dtypes, output, seed, nameHash, out reason)
                : method is Slerp or ModelStock or Multislerp or Nuslerp or Karcher
                    ? Geometric(method, outputName, inputs, baseIndex, global, outputShape, dtypes, output, seed, nameHash, out reason)
                : method is ArceeFusion ? Arcee(inputs, baseIndex, outputShape, dtypes, output, seed, nameHash, out reason)
                : method is SceMerge or RamMerge or RamPlusTlMerge
                    ? Vote(method, inputs, baseIndex, global, outputShape, dtypes, output, seed, nameHash, out reason)
                : TaskArithmetic(method, inputs, baseIndex, global, dtypes, output, seed, nameHash, outputShape, out reason);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or InvalidCastException or KeyNotFoundException)
        {
            reason = "parameters the CPU method reports on: " + e.Message;
            return null;
        }
    }

    private static MergeKernelPlan? Linear(IReadOnlyList<KernelInput> inputs, ParameterBag global, Dtype[] dtypes, Dtype output,
        ulong seed, uint nameHash, out string reason)
    {
        // As LinearMerge: weights in input order, divisor Σ wᵢ when normalising (a zero sum is the CPU's error).
        var weights = inputs.Select(i => i.Parameters.GetDouble("weight")).ToArray();
        bool normalize = global.GetBool("normalize");
        double sum = weights.Sum();
        if (normalize && sum == 0) { reason = "the weights sum to zero (the CPU reports it)"; return null; }
        reason = "";
        return new MergeKernelPlan(KernelEmitter.EmitLinear(inputs.Count, dtypes, output), null, weights, [], [],
            normalize ? sum : 1, 1, false, [], seed, nameHash, dtypes, output);
    }

    private static MergeKernelPlan? NearswapPlan(IReadOnlyList<KernelInput> inputs, int baseIndex, ParameterBag global, Dtype[] dtypes,
        Dtype output, ulong seed, uint nameHash, out string reason)
    {
        // As VectorMath.BaseAndOther: exactly the base and one other model (one input is a copy, anything else an error).
        if (inputs.Count != 2 || baseIndex < 0) { reason = "nearswap needs the base and exactly one other model (the CPU copies or reports it)"; return null; }
        double t = global.GetDouble("t");
        reason = "";
        return new MergeKernelPlan(KernelEmitter.EmitNearswap(baseIndex, dtypes, output), null, [], [], [], 1, t, false, [], seed, nameHash, dtypes, output);
    }

    private static MergeKernelPlan? Geometric(IMergeMethod method, string outputName, IReadOnlyList<KernelInput> inputs, int baseIndex,
        ParameterBag global, long[] outputShape, Dtype[] dtypes, Dtype output, ulong seed, uint nameHash, out string reason)
    {
        GeometricPlan? plan = method switch
        {
            Slerp => GeometricPlan.Slerp(inputs, baseIndex, global, dtypes, output, out reason),
            ModelStock => GeometricPlan.ModelStock(inputs, baseIndex, global, outputShape, dtypes, output, out reason),
            Multislerp => GeometricPlan.Multislerp(inputs, baseIndex, global, outputName, dtypes, output, out reason),
            Nuslerp => GeometricPlan.Nuslerp(inputs, baseIndex, global, outputShape, dtypes, output, out reason),
            _ => GeometricPlan.Karcher(inputs, global, dtypes, output, out reason),
        };
        return plan is null ? null
            : new MergeKernelPlan(plan.Combine, null, [], [], [], 1, 1, false, [], seed, nameHash, dtypes, output, geometric: plan);
    }

    private static MergeKernelPlan? Arcee(IReadOnlyList<KernelInput> inputs, int baseIndex, long[] outputShape, Dtype[] dtypes, Dtype output,
        ulong seed, uint nameHash, out string reason)
    {
        ArceePlan? arcee = ArceePlan.Create(inputs, baseIndex, outputShape, dtypes, out reason);
        return arcee is null ? null
            : new MergeKernelPlan(KernelEmitter.EmitArceeFusion(baseIndex, dtypes, output), null, [], [], [], 1, 1, false, [], seed, nameHash, dtypes,
                output, arcee: arcee);
    }

    /// <summary>sce and the RAM family: task vectors from the base, a map that elects or counts per position.</summary>
    private static MergeKernelPlan? Vote(IMergeMethod method, IReadOnlyList<KernelInput> inputs, int baseIndex, ParameterBag global,
        long[] outputShape, Dtype[] dtypes, Dtype output, ulong seed, uint nameHash, out string reason)
    {
        // As TaskVectors.TaskIndices: a base is required (the CPU reports its absence); only the base is a copy.
        if (baseIndex < 0 || baseIndex >= inputs.Count) { reason = "no base model (the CPU reports it)"; return null; }
        int[] tasks = Enumerable.Range(0, inputs.Count).Where(i => i != baseIndex).ToArray();
        if (tasks.Length == 0) { reason = "only the base model (a copy)"; return null; }
        long count = TensorShape.ElementCount(outputShape);
        reason = "";
        if (method is SceMerge)
        {
            ScePlan sce = ScePlan.Create(inputs.Count, baseIndex, tasks, global.GetDouble("select_topk"), count, dtypes);
            return new MergeKernelPlan(KernelEmitter.EmitSce(inputs.Count, baseIndex, dtypes, output, sce.Select is not null), sce.Squares,
                [], [], [], 1, 1, false, tasks, seed, nameHash, dtypes, output, sce: sce);
        }
        RamPlan ram = RamPlan.Create(method, inputs.Count, baseIndex, tasks, global, count, dtypes);
        return new MergeKernelPlan(KernelEmitter.EmitRam(inputs.Count, baseIndex, dtypes, output), ram.Counts,
            [], [], [], 1, 1, false, tasks, seed, nameHash, dtypes, output, ram: ram);
    }

    private static MergeKernelPlan? TaskArithmetic(IMergeMethod method, IReadOnlyList<KernelInput> inputs, int baseIndex, ParameterBag global,
        Dtype[] dtypes, Dtype output, ulong seed, uint nameHash, long[] outputShape, out string reason)
    {
        long count = TensorShape.ElementCount(outputShape);
        // As GeneralizedTaskArithmetic: task order, weights, divisor, pruners and scales.
        if (baseIndex < 0 || baseIndex >= inputs.Count) { reason = "no base model (the CPU reports it)"; return null; }
        int[] tasks = Enumerable.Range(0, inputs.Count).Where(i => i != baseIndex).ToArray();
        if (tasks.Length == 0) { reason = "only the base model (a copy)"; return null; }
        bool dare = method is DareLinearMerge or DareTiesMerge;
        bool trim = method is TiesMerge or BreadcrumbsMerge or BreadcrumbsTiesMerge;
        bool dellaPrune = method is DellaMerge or DellaLinearMerge;
        bool consensus = method is DareTiesMerge or TiesMerge or BreadcrumbsTiesMerge or DellaMerge;
        bool normalize = global.GetBool("normalize");
        double lambda = global.GetDouble("lambda");
        bool pruned = dare || trim || dellaPrune;
        RescaleMode rescale = pruned ? Rescale.Parse(global.GetString("rescale")) : RescaleMode.None;
        double[] taskWeights = tasks.Select(t => inputs[t].Parameters.GetDouble("weight")).ToArray();
        double weightSum = taskWeights.Sum();
        double plainDivisor = GeneralizedTaskArithmetic.PlainDivisor(normalize, weightSum);

        var weights = new double[inputs.Count];
        var densities = new double[inputs.Count];
        var scales = new double[inputs.Count];
        bool anyPruned = false;
        for (int k = 0; k < tasks.Length; k++)
        {
            int t = tasks[k];
            weights[t] = taskWeights[k];
            scales[t] = 1;
            densities[t] = 1;
            if (!pruned) continue;
            double density = inputs[t].Parameters.GetDouble("density");
            if (density >= 1) continue; // no pruner: every element kept, scale 1
            anyPruned = true;
            densities[t] = density;
            if (rescale == RescaleMode.Inverse && density > 0) scales[t] = 1 / density;
        }
        bool l1 = pruned && rescale == RescaleMode.L1 && anyPruned;
        MagnitudePlan? magnitude = null;
        if (trim)
        {
            magnitude = MagnitudePlan.Create(method is TiesMerge, inputs, baseIndex, tasks, densities, count, dtypes);
        }
        DellaPlan? della = null;
        if (dellaPrune && anyPruned)
        {
            della = DellaPlan.Create(inputs, baseIndex, tasks, densities, outputShape, dtypes, out reason);
            if (della is null) return null;
        }
        KernelMask mask = dare ? KernelMask.Random : trim ? KernelMask.Magnitude : della is not null ? KernelMask.Flags : KernelMask.None;
        EmittedKernel map = KernelEmitter.EmitTaskArithmetic(inputs.Count, baseIndex, dtypes, output, mask, consensus, consensus && normalize);
        EmittedKernel? norms = l1 ? KernelEmitter.EmitNorms(inputs.Count, baseIndex, dtypes, mask) : null;
        reason = "";
        return new MergeKernelPlan(map, norms, weights, densities, scales, plainDivisor, lambda, l1, tasks, seed, nameHash, dtypes, output, magnitude,
            della: della);
    }

    /// <summary>The accumulators per chunk of <see cref="Norms"/>' output (two per input; SCE: one per non-base input;
    /// RAM+: two per non-base input).</summary>
    public int NormAccumulators => sce?.Accumulators ?? ram?.Accumulators ?? 2 * InputDtypes.Count;

    /// <summary>Fills the scalar arguments of <see cref="Norms"/> (the caller sets the pointers).</summary>
    public void SetNormArguments(KernelArguments arguments, long count, MagnitudeMasks? masks = null)
    {
        if (sce is not null) { sce.SetSquaresArguments(arguments, masks); return; }
        if (ram is not null) { ram.SetCountArguments(arguments); return; }
        arguments.Set("count", (ulong)count).Set("chunk", (ulong)NormChunkElements);
        if (della is not null)
        {
            arguments.Set("total", (ulong)della.Count); // the caller sets flags
            return;
        }
        if (magnitude is not null)
        {
            if (masks is null) throw new InvalidOperationException("the magnitude selection must run before the L1 norms");
            for (int i = 0; i < InputDtypes.Count; i++) masks.Set(arguments, i);
            return;
        }
        arguments.Set("seed", Seed).Set("name_hash", NameHash);
        for (int i = 0; i < InputDtypes.Count; i++) arguments.Set("density", i, densities[i]);
    }

    /// <summary>The per-input factors of the kept deltas from <see cref="Norms"/>' per-chunk sums (chunk-major,
    /// <see cref="NormAccumulators"/> per chunk): the chunks are added in order from zero, as ChunkLoop.Reduce does, and a
    /// pruned input gets <see cref="Rescale.L1Scale"/> of its two norms.</summary>
    public double[] ScalesFromNorms(ReadOnlySpan<double> partial)
    {
        if (sce is not null) return sce.Weights(partial); // SCE: the normalised weights
        if (ram is not null) return ram.Scales(partial); // RAM+: the unique-change factors
        var totals = LaneSum.ChunkTotals(partial, NormAccumulators);
        var result = (double[])scales.Clone();
        foreach (int t in tasks)
            if (densities[t] < 1) result[t] = Rescale.L1Scale(totals[2 * t], totals[2 * t + 1]);
        return result;
    }

    /// <summary>Fills the scalar arguments of <see cref="Map"/> for elements [first, first + count) (the caller sets the
    /// pointers). <paramref name="l1Scales"/> comes from <see cref="ScalesFromNorms"/> when <see cref="Norms"/> ran.</summary>
    public void SetMapArguments(KernelArguments arguments, long first, long count, double[]? l1Scales = null, MagnitudeMasks? masks = null,
        double[]? coefficients = null)
    {
        if (Map.Parameters.Fields.Any(f => f.Name == "t"))
        {
            arguments.Set("count", (ulong)count).Set("t", lambda); // nearswap: lambda holds t
            return;
        }
        if (sce is not null) { sce.SetMapArguments(arguments, first, count, l1Scales, masks); return; }
        if (ram is not null) { ram.SetMapArguments(arguments, count, l1Scales); return; }
        if (arcee is not null) { arcee.SetMapArguments(arguments, first, count, masks); return; }
        if (geometric is not null)
        {
            if (coefficients is null) throw new InvalidOperationException("the Gram matrix must be reduced before the map pass");
            arguments.Set("count", (ulong)count);
            if (geometric.RowWidth > 0)
            {
                arguments.Set("first", (ulong)first).Set("width", (ulong)geometric.RowWidth); // the caller sets row_coefficients
                return;
            }
            for (int s = 0; s < coefficients.Length; s++) arguments.Set("coefficient", s, coefficients[s]);
            return;
        }
        if (l1 && l1Scales is null) throw new InvalidOperationException("the L1 norms must be reduced before the map pass");
        if (magnitude is not null && masks is null) throw new InvalidOperationException("the magnitude selection must run before the map pass");
        arguments.Set("count", (ulong)count);
        for (int i = 0; i < InputDtypes.Count; i++) arguments.Set("weight", i, weights[i]);
        arguments.Set("divisor", divisor);
        if (tasks.Length == 0) return; // linear
        arguments.Set("first", (ulong)first).Set("seed", Seed).Set("lambda", lambda);
        if (IsDare)
        {
            double[] s = l1Scales ?? scales;
            arguments.Set("name_hash", NameHash);
            for (int i = 0; i < InputDtypes.Count; i++) arguments.Set("density", i, densities[i]).Set("scale", i, s[i]);
        }
        if (della is not null)
        {
            double[] s = l1Scales ?? scales;
            arguments.Set("total", (ulong)della.Count); // the caller sets flags
            for (int i = 0; i < InputDtypes.Count; i++) arguments.Set("scale", i, s[i]);
        }
        if (masks is not null)
        {
            double[] s = l1Scales ?? scales;
            for (int i = 0; i < InputDtypes.Count; i++)
            {
                arguments.Set("scale", i, s[i]);
                masks.Set(arguments, i);
            }
        }
    }

    /// <summary>The mask parameters of the map pass from <see cref="Select"/>'s answers to <see cref="SelectQueries"/>
    /// (in the same order; empty when there are none).</summary>
    public MagnitudeMasks MasksFrom(IReadOnlyList<TopSet> selected)
    {
        if (sce is not null) return sce.Masks(selected);
        if (arcee is not null) return ArceePlan.Masks(selected);
        if (magnitude is null) throw new InvalidOperationException("this plan has no magnitude mask");
        return magnitude.Masks(selected);
    }
}
