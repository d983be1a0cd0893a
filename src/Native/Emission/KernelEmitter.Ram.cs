using System.Text;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Emission;

public static partial class KernelEmitter
{
    /// <summary>The RAM family's change test (ReinforcedAgentMerge): δᵢ changes its position iff (double)|δᵢ| &gt; <c>epsilon</c>
    /// (NaN never does).</summary>
    private static string Changes(int i) => Invariant($"((double)dm_abs32(delta{i}) > p.epsilon)");

    /// <summary>RAM+'s counts (ReinforcedAgentMerge.Counts): per chunk of <c>chunk</c> elements and k-th non-base input,
    /// <c>partial[c·2(n − 1) + 2k]</c> = the positions it changes alone and <c>partial[c·2(n − 1) + 2k + 1]</c> = those it
    /// changes with at least one other input, as float64 (integer counts, exact; the host adds the chunks in order).
    /// Each thread counts its elements, then a block sum per counter. Grid-stride over chunks.
    /// Parameters: <c>in[n]</c>, <c>partial</c> (double[chunks·2(n − 1)]), <c>count</c>, <c>chunk</c>, <c>epsilon</c>.</summary>
    public static EmittedKernel EmitRamCounts(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes)
    {
        Validate(modelCount, inputDtypes, Dtype.F32);
        ValidateBase(modelCount, baseIndex);
        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        var layout = KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of the tensor"),
            ("partial", KernelParameterType.OutputPointer, null, "double[chunks * 2 * (n - 1)]: per chunk and non-base input, positions changed alone, then shared"),
            ("count", KernelParameterType.UInt64, null, "elements of the tensor"),
            ("chunk", KernelParameterType.UInt64, null, "elements per chunk"),
            ("epsilon", KernelParameterType.Float64, null, "a delta changes its position iff |delta| > epsilon"),
        });
        string name = Invariant($"dm_ram_counts_n{modelCount}_b{baseIndex}") + string.Concat(inputDtypes.Select(d => "_" + Suffix(d)));
        string description = Invariant($"RAM+ change counts: {inputDtypes.Count} inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), base: input {baseIndex}");

        var body = new StringBuilder();
        body.Append("    __shared__ dm_u64 scratch[DM_BLOCK_SIZE];\n");
        body.Append("    double* partial = (double*)p.partial;\n");
        body.Append("    const dm_u64 chunks = (p.count + p.chunk - 1) / p.chunk;\n");
        body.Append("    for (dm_u64 c = blockIdx.x; c < chunks; c += gridDim.x)\n    {\n");
        body.Append("        const dm_u64 start = c * p.chunk;\n");
        body.Append("        const dm_u64 end = start + p.chunk < p.count ? start + p.chunk : p.count;\n");
        for (int k = 0; k < others.Length; k++) body.Append(Invariant($"        dm_u64 alone{k} = 0, shared{k} = 0;\n"));
        body.Append("        for (dm_u64 i = start + threadIdx.x; i < end; i += blockDim.x)\n        {\n");
        body.Append(Deltas(modelCount, baseIndex, inputDtypes, "            "));
        foreach (int i in others) body.Append(Invariant($"            const bool changes{i} = {Changes(i)};\n"));
        body.Append("            const int changed = " + string.Join(" + ", others.Select(i => Invariant($"(changes{i} ? 1 : 0)"))) + ";\n");
        for (int k = 0; k < others.Length; k++)
            body.Append(Invariant($"            if (changes{others[k]}) {{ if (changed == 1) ++alone{k}; else ++shared{k}; }}\n"));
        body.Append("        }\n");
        for (int k = 0; k < others.Length; k++)
        {
            body.Append(Invariant($"        const dm_u64 alone_total{k} = dm_block_sum(alone{k}, scratch);\n"));
            body.Append(Invariant($"        const dm_u64 shared_total{k} = dm_block_sum(shared{k}, scratch);\n"));
        }
        body.Append("        if (threadIdx.x == 0)\n        {\n");
        for (int k = 0; k < others.Length; k++)
        {
            body.Append(Invariant($"            partial[c * {2 * others.Length} + {2 * k}] = (double)alone_total{k};\n"));
            body.Append(Invariant($"            partial[c * {2 * others.Length} + {2 * k + 1}] = (double)shared_total{k};\n"));
        }
        body.Append("        }\n    }\n");
        return Assemble(name, description, layout, ["dtype.cuh", "reduce.cuh", "merge_ops.cuh"], body.ToString(), modelCount, BlockSize);
    }

    /// <summary>The RAM family's map (<c>ram</c>, <c>ramplus_tl</c>), in the CPU's operations (ReinforcedAgentMerge): over the
    /// non-base inputs in order, those that change the position (see <see cref="Changes"/>) are counted, their (double)δᵢ
    /// summed from +0, and unique = (double)δᵢ·<c>scale[i]</c> of the last one; merged = 0 (none), unique (one), or
    /// sum / count; out = narrow((double)base + merged).
    /// Parameters: <c>in[n]</c>, <c>out</c>, <c>count</c>, <c>epsilon</c>, <c>scale[n]</c> (double: 1 for ram, RAM+'s λᵢ).</summary>
    public static EmittedKernel EmitRam(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, Dtype output)
    {
        Validate(modelCount, inputDtypes, output);
        ValidateBase(modelCount, baseIndex);
        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        var layout = KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("epsilon", KernelParameterType.Float64, null, "a delta changes its position iff |delta| > epsilon"),
            ("scale", KernelParameterType.Float64, modelCount, "factor of input i's delta where it alone changes the position"),
        });
        string entry = EntryName("ram", modelCount, inputDtypes, output, null, baseIndex);
        string description = Invariant($"ram: {Describe(inputDtypes, output)}, base: input {baseIndex}");

        var body = new StringBuilder(LoopHead);
        body.Append(Deltas(modelCount, baseIndex, inputDtypes, "        "));
        body.Append("        int changed = 0;\n");
        body.Append("        double sum = 0.0, unique = 0.0;\n");
        foreach (int i in others)
            body.Append(Invariant($"        if {Changes(i)} {{ changed = changed + 1; sum = sum + (double)delta{i}; unique = (double)delta{i} * p.scale[{i}]; }}\n"));
        body.Append("        const double merged = changed == 0 ? 0.0 : changed == 1 ? unique : sum / (double)changed;\n");
        body.Append($"        {Store(output, "(double)base + merged")}\n");
        body.Append(LoopTail);
        return Assemble(entry, description, layout, ["dtype.cuh", "merge_ops.cuh"], body.ToString(), modelCount, BlockSize);
    }
}
