using System.Globalization;
using System.Text;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Emission;

/// <summary>A generated kernel: one self-contained CUDA C source (headers inlined, nothing #included) with one
/// <c>extern "C"</c> entry point that takes a single by-value <c>struct dm_params</c> laid out as <see cref="Parameters"/>.
/// Every kernel is a grid-stride loop over <c>count</c> elements: any grid size gives the same result.</summary>
public sealed record EmittedKernel(string EntryPoint, string Source, KernelParameterLayout Parameters, int BlockSize, string Description)
{
    /// <summary>The program name given to NVRTC (and the file name used for dumps and baselines).</summary>
    public string ProgramName => EntryPoint + ".cu";

    public KernelArguments CreateArguments() => new(Parameters);
}

/// <summary>Generates plan-specialised merge kernels: the number of models, every input's dtype, the output dtype and the
/// method's switches are compile-time constants, unrolled into straight-line code; weights and other per-tensor numbers
/// are runtime parameters, so one compiled kernel serves every tensor of the same shape of plan. The text is deterministic.</summary>
public static partial class KernelEmitter
{
    /// <summary>Bumped whenever the generated text changes meaning (it is part of the text, hence of the cache key).</summary>
    public const int Version = 2;
    /// <summary>Threads per block the kernels are written for (<c>__launch_bounds__</c>).</summary>
    public const int BlockSize = 256;

    /// <summary>Whether kernels can load and store tensors of <paramref name="dtype"/>.</summary>
    public static bool SupportsDtype(Dtype dtype) => dtype is Dtype.F32 or Dtype.BF16 or Dtype.F16 or Dtype.F8_E4M3 or Dtype.F8_E5M2;

    /// <summary>Bytes per element of a supported dtype.</summary>
    public static int ElementSize(Dtype dtype) => dtype switch
    {
        Dtype.F32 => 4,
        Dtype.BF16 or Dtype.F16 => 2,
        Dtype.F8_E4M3 or Dtype.F8_E5M2 => 1,
        _ => throw Unsupported(dtype),
    };

    /// <summary><c>linear</c>, in the CPU's operations: acc = Σ wᵢ·(double)xᵢ (models in order, from +0),
    /// out = narrow(acc / divisor) where the host passes divisor = Σ wᵢ when normalising, else 1 (x / 1 is exact).
    /// Parameters: <c>in[n]</c>, <c>out</c>, <c>count</c>, <c>weight[n]</c> (double), <c>divisor</c> (double).</summary>
    public static EmittedKernel EmitLinear(int modelCount, IReadOnlyList<Dtype> inputDtypes, Dtype output)
    {
        Validate(modelCount, inputDtypes, output);
        var layout = KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("weight", KernelParameterType.Float64, modelCount, "weight of input i"),
            ("divisor", KernelParameterType.Float64, null, "sum of the weights when normalising, else 1"),
        });
        string entry = EntryName("linear", modelCount, inputDtypes, output, null);
        string description = $"linear: {Describe(inputDtypes, output)}";

        var body = new StringBuilder(LoopHead);
        body.Append("        double acc = 0.0;\n");
        for (int i = 0; i < modelCount; i++)
            body.Append(Invariant($"        acc = acc + p.weight[{i}] * (double){Load(inputDtypes[i], i)};\n"));
        body.Append($"        {Store(output, "acc / p.divisor")}\n");
        body.Append(LoopTail);
        return Assemble(entry, description, layout, ["dtype.cuh", "merge_ops.cuh"], body.ToString(), modelCount, BlockSize);
    }

    /// <summary>The task-arithmetic family, in the CPU's operations (GeneralizedTaskArithmetic): δᵢ = xᵢ − base in float32
    /// for every non-base input; with <paramref name="dareMask"/> δᵢ is kept iff (double)uniform &lt; <c>density[i]</c>
    /// (the shared Philox stream) and the weighted term is wᵢ·((double)δᵢ·<c>scale[i]</c>), else wᵢ·(double)δᵢ; the terms
    /// are summed in model order from +0. Without <paramref name="signConsensus"/>: mixed = sum / <c>divisor</c> (the host
    /// passes GeneralizedTaskArithmetic.PlainDivisor). With it (TIES "sum" election): only the terms whose sign agrees
    /// with the sum's (sum ≥ 0 counts as positive) are added, divided by the sum of their weights (0 → 1) when
    /// <paramref name="normalize"/>. out = narrow((double)base + <c>lambda</c>·mixed).
    /// Parameters: <c>in[n]</c>, <c>out</c>, <c>count</c>, <c>first</c> (tensor element index of element 0 of this launch),
    /// <c>seed</c>, <c>weight[n]</c>, <c>lambda</c>, <c>divisor</c> (doubles), and with DARE <c>density[n]</c>, <c>scale[n]</c>
    /// (doubles), <c>name_hash</c>.</summary>
    public static EmittedKernel EmitTaskArithmetic(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, Dtype output,
        bool dareMask = false, bool signConsensus = false, bool normalize = false)
        => EmitTaskArithmetic(modelCount, baseIndex, inputDtypes, output, dareMask ? KernelMask.Random : KernelMask.None, signConsensus, normalize);

    /// <summary><see cref="EmitTaskArithmetic(int, int, IReadOnlyList{Dtype}, Dtype, bool, bool, bool)"/> with any
    /// <see cref="KernelMask"/>. With <see cref="KernelMask.Magnitude"/> δᵢ is kept iff its |δ| key is in the set
    /// (<c>keep_key[i]</c>, <c>keep_end[i]</c>) and not in (<c>drop_key[i]</c>, <c>drop_end[i]</c>) (kernels/select.cuh), and the
    /// weighted term is wᵢ·((double)δᵢ·<c>scale[i]</c>), as for DARE.</summary>
    public static EmittedKernel EmitTaskArithmetic(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, Dtype output,
        KernelMask mask, bool signConsensus = false, bool normalize = false)
    {
        bool dareMask = mask == KernelMask.Random, magnitudeMask = mask == KernelMask.Magnitude, flagsMask = mask == KernelMask.Flags;
        Validate(modelCount, inputDtypes, output);
        ValidateBase(modelCount, baseIndex);
        if (normalize && !signConsensus)
            throw new ArgumentException("without sign consensus the normalisation is the host's divisor parameter", nameof(normalize));

        var fields = new List<(string, KernelParameterType, int?, string)>
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("first", KernelParameterType.UInt64, null, "tensor element index of element 0"),
            ("seed", KernelParameterType.UInt64, null, "run seed (random stream key)"),
            ("weight", KernelParameterType.Float64, modelCount, "weight of input i (base: unused)"),
            ("lambda", KernelParameterType.Float64, null, "scale of the mixed delta"),
            ("divisor", KernelParameterType.Float64, null, "divisor of the mixed delta (no sign consensus)"),
        };
        if (dareMask)
        {
            fields.Add(("density", KernelParameterType.Float64, modelCount, "keep probability of input i"));
            fields.Add(("scale", KernelParameterType.Float64, modelCount, "factor of the kept deltas of input i"));
            fields.Add(("name_hash", KernelParameterType.UInt32, null, "FNV-1a of the output tensor name"));
        }
        if (magnitudeMask) fields.AddRange(MagnitudeMaskFields(modelCount));
        if (flagsMask) fields.AddRange(FlagsMaskFields(modelCount, withScale: true));
        var layout = KernelParameterLayout.Create(fields);
        string variant = string.Join("_", new[] { dareMask ? "dare" : null, magnitudeMask ? "trim" : null, flagsMask ? "della" : null, signConsensus ? "ties" : null, normalize ? "norm" : null }.OfType<string>());
        string entry = EntryName("task_arithmetic", modelCount, inputDtypes, output, variant.Length == 0 ? null : variant, baseIndex);
        string description = Invariant($"task arithmetic: {Describe(inputDtypes, output)}, base: input {baseIndex}, DARE mask: {Bool(dareMask)}, sign consensus: {Bool(signConsensus)}, normalize: {Bool(normalize)}");
        if (magnitudeMask) description += ", magnitude mask";
        if (flagsMask) description += ", DELLA flags mask";

        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        var body = new StringBuilder(LoopHead);
        if (dareMask || magnitudeMask || flagsMask) body.Append("        const dm_u64 element = p.first + i;\n");
        body.Append($"        const float base = {Load(inputDtypes[baseIndex], baseIndex)};\n");
        foreach (int i in others)
        {
            body.Append(Invariant($"        const float delta{i} = {Load(inputDtypes[i], i)} - base;\n"));
            body.Append(mask switch
            {
                KernelMask.Random => Invariant($"        const double weighted{i} = p.weight[{i}] * ((dm_bernoulli_keep(p.seed, {i}u, p.name_hash, element, p.density[{i}]) ? (double)delta{i} : 0.0) * p.scale[{i}]);\n"),
                KernelMask.Magnitude => Invariant($"        const double weighted{i} = p.weight[{i}] * (({MagnitudeKeep(i, $"delta{i}", "element")} ? (double)delta{i} : 0.0) * p.scale[{i}]);\n"),
                KernelMask.Flags => Invariant($"        const double weighted{i} = p.weight[{i}] * (({FlagsKeep(i, "element")} ? (double)delta{i} : 0.0) * p.scale[{i}]);\n"),
                _ => Invariant($"        const double weighted{i} = p.weight[{i}] * (double)delta{i};\n"),
            });
        }
        body.Append("        double sum = 0.0;\n");
        foreach (int i in others) body.Append(Invariant($"        sum = sum + weighted{i};\n"));
        if (signConsensus)
        {
            body.Append("        const bool positive = sum >= 0.0;\n");
            body.Append("        double agreeing = 0.0, weights = 0.0;\n");
            foreach (int i in others)
                body.Append(Invariant($"        if (positive ? weighted{i} > 0.0 : weighted{i} < 0.0) {{ agreeing = agreeing + weighted{i}; weights = weights + p.weight[{i}]; }}\n"));
            body.Append(normalize ? "        const double mixed = agreeing / (weights == 0.0 ? 1.0 : weights);\n" : "        const double mixed = agreeing;\n");
        }
        else
        {
            body.Append("        const double mixed = sum / p.divisor;\n");
        }
        body.Append($"        {Store(output, "(double)base + p.lambda * mixed")}\n");
        body.Append(LoopTail);
        string[] headers = mask switch
        {
            KernelMask.Random => ["dtype.cuh", "philox.cuh", "merge_ops.cuh"],
            KernelMask.Magnitude => ["dtype.cuh", "select.cuh", "merge_ops.cuh"],
            _ => ["dtype.cuh", "merge_ops.cuh"],
        };
        return Assemble(entry, description, layout, headers, body.ToString(), modelCount, BlockSize);
    }

    /// <summary>Threads per block of the DARE L1 reduction: one warp per chunk.</summary>
    public const int ReductionBlockSize = 32;

    /// <summary>The L1 norms DARE's <c>rescale: l1</c> needs, in the CPU's operations (ChunkLoop.Reduce): the tensor is cut
    /// into chunks of <c>chunk</c> elements; for chunk c and non-base input i, <c>partial[c·2n + 2i]</c> = Σ |δᵢ| and
    /// <c>partial[c·2n + 2i + 1]</c> = Σ |kept δᵢ|, each a float64 sum in LaneSum's order (16 accumulators, fixed tree; the
    /// host then adds the chunks in order). One block of <see cref="ReductionBlockSize"/> threads per chunk (grid-stride
    /// over chunks): the threads decode and mask a tile together, the first 16 threads each add up their lane.
    /// Parameters: <c>in[n]</c>, <c>partial</c> (double[chunks·2n]), <c>count</c>, <c>chunk</c>, <c>seed</c>,
    /// <c>density[n]</c> (double), <c>name_hash</c>.</summary>
    public static EmittedKernel EmitDareNorms(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes)
        => EmitNorms(modelCount, baseIndex, inputDtypes, KernelMask.Random);

    /// <summary><see cref="EmitDareNorms"/> for either mask: with <see cref="KernelMask.Magnitude"/> the kept deltas are those
    /// of the map's magnitude mask (parameters <c>keep_key[n]</c>, <c>keep_end[n]</c>, <c>drop_key[n]</c>, <c>drop_end[n]</c>
    /// in place of <c>seed</c>, <c>density</c>, <c>name_hash</c>).</summary>
    public static EmittedKernel EmitNorms(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, KernelMask mask)
    {
        Validate(modelCount, inputDtypes, Dtype.F32);
        ValidateBase(modelCount, baseIndex);
        if (mask == KernelMask.None) throw new ArgumentException("the L1 norms compare pruned and unpruned deltas: a mask is needed", nameof(mask));
        bool magnitude = mask == KernelMask.Magnitude, flags = mask == KernelMask.Flags;
        var fields = new List<(string, KernelParameterType, int?, string)>
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of the tensor"),
            ("partial", KernelParameterType.OutputPointer, null, "double[chunks * 2 * n]: per chunk and input, sum |delta| and sum |kept delta|"),
            ("count", KernelParameterType.UInt64, null, "elements of the tensor"),
            ("chunk", KernelParameterType.UInt64, null, "elements per chunk"),
        };
        if (magnitude)
        {
            fields.AddRange(MagnitudeMaskFields(modelCount).Where(f => f.Item1 != "scale"));
        }
        else if (flags)
        {
            fields.AddRange(FlagsMaskFields(modelCount, withScale: false));
        }
        else
        {
            fields.Add(("seed", KernelParameterType.UInt64, null, "run seed (random stream key)"));
            fields.Add(("density", KernelParameterType.Float64, modelCount, "keep probability of input i"));
            fields.Add(("name_hash", KernelParameterType.UInt32, null, "FNV-1a of the output tensor name"));
        }
        var layout = KernelParameterLayout.Create(fields);
        var name = new StringBuilder(magnitude ? "dm_trim_norms" : flags ? "dm_della_norms" : "dm_dare_norms").Append(Invariant($"_n{modelCount}_b{baseIndex}"));
        foreach (Dtype d in inputDtypes) name.Append('_').Append(Suffix(d));
        string description = Invariant($"{(magnitude ? "magnitude trim" : flags ? "DELLA" : "DARE")} L1 norms: {inputDtypes.Count} inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), base: input {baseIndex}");

        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        var element = new StringBuilder($"                const float base = {Load(inputDtypes[baseIndex], baseIndex)};\n");
        foreach (int i in others)
        {
            element.Append(Invariant($"                const float magnitude{i} = dm_abs32({Load(inputDtypes[i], i)} - base);\n"));
            element.Append(Invariant($"                all[{i}][threadIdx.x] = magnitude{i};\n"));
            element.Append(magnitude ? Invariant($"                kept[{i}][threadIdx.x] = {MagnitudeKeep(i, $"magnitude{i}", "i")} ? magnitude{i} : 0.0f;\n")
                : flags ? Invariant($"                kept[{i}][threadIdx.x] = {FlagsKeep(i, "i")} ? magnitude{i} : 0.0f;\n")
                : Invariant($"                kept[{i}][threadIdx.x] = dm_bernoulli_keep(p.seed, {i}u, p.name_hash, i, p.density[{i}]) ? magnitude{i} : 0.0f;\n"));
        }
        string body = LaneReduction(
            "    __shared__ float all[DM_MODEL_COUNT][DM_BLOCK_SIZE];\n    __shared__ float kept[DM_MODEL_COUNT][DM_BLOCK_SIZE];\n    __shared__ double lanes[2 * DM_MODEL_COUNT][DM_LANES];\n",
            "chunks", "chunk",
            string.Concat(others.Select(i => Invariant($"        double all{i} = 0.0, kept{i} = 0.0;\n"))),
            element.ToString(),
            string.Concat(others.Select(i => Invariant($"                    all{i} = all{i} + (double)all[{i}][t];\n                    kept{i} = kept{i} + (double)kept[{i}][t];\n"))),
            string.Concat(others.Select(i => Invariant($"            lanes[{2 * i}][threadIdx.x] = all{i};\n            lanes[{2 * i + 1}][threadIdx.x] = kept{i};\n"))),
            string.Concat(others.Select(i => Invariant($"            partial[c * {2 * modelCount} + {2 * i}] = dm_lane_total(lanes[{2 * i}]);\n            partial[c * {2 * modelCount} + {2 * i + 1}] = dm_lane_total(lanes[{2 * i + 1}]);\n"))));
        string[] headers = magnitude ? ["dtype.cuh", "select.cuh", "reduce.cuh", "merge_ops.cuh"]
            : flags ? ["dtype.cuh", "reduce.cuh", "merge_ops.cuh"]
            : ["dtype.cuh", "philox.cuh", "reduce.cuh", "merge_ops.cuh"];
        return Assemble(name.ToString(), description, layout, headers, body, modelCount, ReductionBlockSize);
    }

    /// <summary>The body of a LaneSum reduction kernel (<see cref="ReductionBlockSize"/> threads per block): one block per span
    /// of <c>p.<paramref name="size"/></c> elements, grid-stride over the spans. Per tile of the span, every thread runs
    /// <paramref name="element"/> for element i (writing its values to shared memory), then thread l &lt; 16 runs
    /// <paramref name="laneAdds"/> for the tile's elements t ≡ l (mod 16), in order; at the span's end
    /// <paramref name="lanesStore"/> (threads &lt; 16) and <paramref name="partialWrites"/> (thread 0, dm_lane_total) write
    /// the span's totals to <c>partial</c>.</summary>
    private static string LaneReduction(string shared, string spans, string size, string accumulators, string element, string laneAdds,
        string lanesStore, string partialWrites)
    {
        var body = new StringBuilder(shared);
        body.Append("    double* partial = (double*)p.partial;\n");
        body.Append($"    const dm_u64 {spans} = (p.count + p.{size} - 1) / p.{size};\n");
        body.Append($"    for (dm_u64 c = blockIdx.x; c < {spans}; c += gridDim.x)\n    {{\n");
        body.Append($"        const dm_u64 start = c * p.{size};\n");
        body.Append($"        const dm_u64 end = start + p.{size} < p.count ? start + p.{size} : p.count;\n");
        body.Append("        // LaneSum order: thread l < DM_LANES owns accumulator l (elements at offsets = l mod DM_LANES, in order).\n");
        body.Append(accumulators);
        body.Append("        for (dm_u64 tile = start; tile < end; tile += DM_BLOCK_SIZE)\n        {\n");
        body.Append("            const dm_u64 i = tile + threadIdx.x;\n");
        body.Append("            if (i < end)\n            {\n");
        body.Append(element);
        body.Append("            }\n            __syncthreads();\n");
        body.Append("            if (threadIdx.x < DM_LANES)\n            {\n");
        body.Append("                const unsigned int n = end - tile < DM_BLOCK_SIZE ? (unsigned int)(end - tile) : DM_BLOCK_SIZE;\n");
        body.Append("                for (unsigned int t = threadIdx.x; t < n; t += DM_LANES)\n                {\n");
        body.Append(laneAdds);
        body.Append("                }\n            }\n            __syncthreads();\n        }\n");
        body.Append("        if (threadIdx.x < DM_LANES)\n        {\n");
        body.Append(lanesStore);
        body.Append("        }\n        __syncthreads();\n");
        body.Append("        if (threadIdx.x == 0)\n        {\n");
        body.Append(partialWrites);
        body.Append("        }\n        __syncthreads();\n    }\n");
        return body.ToString();
    }

    private const string LoopHead =
        "    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;\n" +
        "    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)\n" +
        "    {\n";

    private const string LoopTail = "    }\n";

    private static EmittedKernel Assemble(string entry, string description, KernelParameterLayout layout, string[] headers, string body,
        int modelCount, int blockSize)
    {
        var text = new StringBuilder();
        text.Append(Invariant($"// dotnet-merge generated kernel (emitter v{Version}); regenerate rather than edit.\n"));
        text.Append("// ").Append(description).Append('\n');
        text.Append(Invariant($"// launch: blockDim.x = {blockSize}, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.\n\n"));
        text.Append(Invariant($"#define DM_MODEL_COUNT {modelCount}\n"));
        text.Append(Invariant($"#define DM_BLOCK_SIZE {blockSize}\n\n"));
        text.Append(KernelSources.Inline(headers));
        text.Append("// ==== generated ====\n");
        text.Append(layout.ToCDeclaration()).Append('\n');
        text.Append($"extern \"C\" __global__ void __launch_bounds__(DM_BLOCK_SIZE) {entry}(const dm_params p)\n{{\n");
        text.Append(body);
        text.Append("}\n");
        return new EmittedKernel(entry, text.ToString(), layout, blockSize, description);
    }

    private static void Validate(int modelCount, IReadOnlyList<Dtype> inputDtypes, Dtype output)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modelCount);
        ArgumentNullException.ThrowIfNull(inputDtypes);
        if (inputDtypes.Count != modelCount)
            throw new ArgumentException(Invariant($"{inputDtypes.Count} input dtypes given for {modelCount} models"), nameof(inputDtypes));
        foreach (Dtype d in inputDtypes.Append(output))
            if (!SupportsDtype(d)) throw Unsupported(d);
    }

    private static void ValidateBase(int modelCount, int baseIndex)
    {
        if (modelCount < 2) throw new ArgumentOutOfRangeException(nameof(modelCount), "task arithmetic needs a base and at least one other model");
        ArgumentOutOfRangeException.ThrowIfNegative(baseIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(baseIndex, modelCount);
    }

    private static NotSupportedException Unsupported(Dtype dtype)
        => new($"CUDA kernels cannot load or store {dtype} tensors (supported: F32, BF16, F16, F8_E4M3, F8_E5M2)");

    private static string Suffix(Dtype dtype) => dtype switch
    {
        Dtype.F32 => "f32",
        Dtype.BF16 => "bf16",
        Dtype.F16 => "f16",
        Dtype.F8_E4M3 => "f8e4m3",
        Dtype.F8_E5M2 => "f8e5m2",
        _ => throw Unsupported(dtype),
    };

    private static string Load(Dtype dtype, int input) => Invariant($"dm_load_{Suffix(dtype)}(p.in[{input}], i)");

    /// <summary>The store of a float64 result: narrowed to float32 (to odd for formats narrower than float32), then encoded.</summary>
    private static string Store(Dtype output, string value)
        => $"dm_store_{Suffix(output)}(p.out, i, {(output == Dtype.F32 ? "dm_narrow_nearest" : "dm_narrow_odd")}({value}));";

    private static string EntryName(string method, int modelCount, IReadOnlyList<Dtype> inputs, Dtype output, string? variant, int? baseIndex = null)
    {
        var name = new StringBuilder("dm_").Append(method).Append(Invariant($"_n{modelCount}"));
        if (baseIndex is int b) name.Append(Invariant($"_b{b}"));
        foreach (Dtype d in inputs) name.Append('_').Append(Suffix(d));
        name.Append("_to_").Append(Suffix(output));
        if (variant is not null) name.Append('_').Append(variant);
        return name.ToString();
    }

    private static string Describe(IReadOnlyList<Dtype> inputs, Dtype output)
        => Invariant($"{inputs.Count} inputs ({string.Join(", ", inputs.Select(Suffix))}) -> {Suffix(output)}");

    private static string Bool(bool value) => value ? "true" : "false";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
