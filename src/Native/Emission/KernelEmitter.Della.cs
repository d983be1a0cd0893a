using System.Text;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Emission;

public static partial class KernelEmitter
{
    /// <summary>Longest row the DELLA keep kernel sorts (in shared memory, as 64-bit composite keys); longer rows stay on the CPU.</summary>
    public const int DellaMaxRow = 4096;

    /// <summary>DELLA's MagPrune decisions, in the CPU's operations (DeltaPruner.Della): per row of <c>row</c> elements and per
    /// input i with <c>mode[i]</c> = 1, the composite keys (SortKey(|δ|) &lt;&lt; 32 | (row − 1 − j)) of the row are sorted
    /// ascending (a bitonic sort in shared memory; the keys are distinct, so the order, and each element's rank r, is the
    /// CPU's), and element j is kept iff (double)uniform(seed, i, name_hash, tensor index) &lt; (density − ε) + (r / (row − 1))·2·ε
    /// (r / (row − 1) is 0.5 for one-element rows). <c>flags[i·count + e]</c> receives 1 (kept) or 0; mode 0 writes 1
    /// everywhere (no pruner: every element kept), mode 2 writes 0 everywhere (density ≤ 0: nothing kept). One block per row
    /// (grid-stride over rows); block size a power of two. Parameters: <c>in[n]</c>, <c>flags</c> (dm_u8[n·count]),
    /// <c>count</c>, <c>row</c>, <c>seed</c>, <c>density[n]</c>, <c>epsilon[n]</c> (double), <c>mode[n]</c>, <c>name_hash</c>.</summary>
    public static EmittedKernel EmitDellaKeep(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes)
    {
        Validate(modelCount, inputDtypes, Dtype.F32);
        ValidateBase(modelCount, baseIndex);
        var layout = KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of the tensor"),
            ("flags", KernelParameterType.OutputPointer, null, "dm_u8[n * count]: 1 where input i keeps element e"),
            ("count", KernelParameterType.UInt64, null, "elements of the tensor"),
            ("row", KernelParameterType.UInt64, null, "elements per row (at most DM_DELLA_MAX_ROW)"),
            ("seed", KernelParameterType.UInt64, null, "run seed (random stream key)"),
            ("density", KernelParameterType.Float64, modelCount, "density of input i"),
            ("epsilon", KernelParameterType.Float64, modelCount, "epsilon of input i"),
            ("mode", KernelParameterType.UInt32, modelCount, "0: no pruner, 1: MagPrune, 2: nothing kept"),
            ("name_hash", KernelParameterType.UInt32, null, "FNV-1a of the output tensor name"),
        });
        var name = new StringBuilder("dm_della_keep").Append(Invariant($"_n{modelCount}_b{baseIndex}"));
        foreach (Dtype d in inputDtypes) name.Append('_').Append(Suffix(d));
        string description = Invariant($"DELLA keep flags: {inputDtypes.Count} inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), base: input {baseIndex}");

        var body = new StringBuilder();
        body.Append(Invariant($"    __shared__ dm_u64 keys[{DellaMaxRow}];\n"));
        body.Append("    dm_u8* flags = (dm_u8*)p.flags;\n");
        body.Append("    const dm_u64 rows = p.count / p.row;\n");
        body.Append("    unsigned int padded = 1u;\n");
        body.Append("    while ((dm_u64)padded < p.row) padded <<= 1;\n");
        body.Append("    for (dm_u64 r = blockIdx.x; r < rows; r += gridDim.x)\n    {\n");
        body.Append("        const dm_u64 start = r * p.row;\n");
        foreach (int m in Enumerable.Range(0, modelCount).Where(m => m != baseIndex))
        {
            body.Append(Invariant($"        if (p.mode[{m}] != 1u)\n        {{\n"));
            body.Append(Invariant($"            for (dm_u64 j = threadIdx.x; j < p.row; j += blockDim.x) flags[{m}ull * p.count + start + j] = p.mode[{m}] == 0u ? 1 : 0;\n"));
            body.Append("        }\n");
            body.Append("        else\n        {\n");
            body.Append("            for (unsigned int j = threadIdx.x; j < padded; j += blockDim.x)\n");
            body.Append(Invariant($"                keys[j] = (dm_u64)j < p.row ? ((dm_u64)dm_magnitude_key({LoadAt(inputDtypes[m], m, "start + j")} - {LoadAt(inputDtypes[baseIndex], baseIndex, "start + j")}) << 32) | (dm_u64)(p.row - 1 - j) : ~0ull;\n"));
            body.Append("            __syncthreads();\n");
            body.Append("            for (unsigned int size = 2u; size <= padded; size <<= 1)\n");
            body.Append("                for (unsigned int stride = size >> 1; stride > 0u; stride >>= 1)\n                {\n");
            body.Append("                    for (unsigned int j = threadIdx.x; j < padded; j += blockDim.x)\n                    {\n");
            body.Append("                        const unsigned int partner = j ^ stride;\n");
            body.Append("                        if (partner > j)\n                        {\n");
            body.Append("                            const bool ascending = (j & size) == 0u;\n");
            body.Append("                            const dm_u64 a = keys[j], b = keys[partner];\n");
            body.Append("                            if (ascending ? a > b : a < b) { keys[j] = b; keys[partner] = a; }\n");
            body.Append("                        }\n                    }\n                    __syncthreads();\n                }\n");
            body.Append("            for (dm_u64 rank = threadIdx.x; rank < p.row; rank += blockDim.x)\n            {\n");
            body.Append("                const dm_u64 j = p.row - 1 - (dm_u64)(dm_u32)keys[rank];\n");
            body.Append("                const double normalized = p.row == 1 ? 0.5 : (double)rank / (double)(p.row - 1);\n");
            body.Append(Invariant($"                const double probability = (p.density[{m}] - p.epsilon[{m}]) + normalized * 2.0 * p.epsilon[{m}];\n"));
            body.Append(Invariant($"                flags[{m}ull * p.count + start + j] = (double)dm_uniform(dm_random_bits(p.seed, {m}u, p.name_hash, start + j)) < probability ? 1 : 0;\n"));
            body.Append("            }\n            __syncthreads();\n        }\n");
        }
        body.Append("    }\n");
        return Assemble(name.ToString(), description, layout, ["dtype.cuh", "philox.cuh", "select.cuh"], body.ToString(), modelCount, BlockSize);
    }

    private static string LoadAt(Dtype dtype, int input, string index) => Invariant($"dm_load_{Suffix(dtype)}(p.in[{input}], {index})");

    /// <summary>The per-model parameters of a flags mask (and the kept deltas' factors when <paramref name="withScale"/>).</summary>
    private static IEnumerable<(string, KernelParameterType, int?, string)> FlagsMaskFields(int modelCount, bool withScale)
    {
        if (withScale) yield return ("scale", KernelParameterType.Float64, modelCount, "factor of the kept deltas of input i");
        yield return ("flags", KernelParameterType.InputPointer, null, "dm_u8[n * total]: 1 where input i keeps element e (EmitDellaKeep)");
        yield return ("total", KernelParameterType.UInt64, null, "elements of the tensor (the flags' stride)");
    }

    /// <summary>The C condition "δᵢ is kept" of a flags mask, at tensor index <paramref name="element"/>.</summary>
    private static string FlagsKeep(int i, string element) => Invariant($"(((const dm_u8*)p.flags)[{i}ull * p.total + {element}] != 0)");
}
