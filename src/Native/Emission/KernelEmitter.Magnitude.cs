using System.Text;
using DotnetMerge.Numerics;
using DotnetMerge.Selection;

namespace DotnetMerge.Cuda.Emission;

/// <summary>How a task-arithmetic kernel sparsifies each task vector.</summary>
public enum KernelMask
{
    /// <summary>Every element kept.</summary>
    None,
    /// <summary>DARE: kept iff the element's Philox uniform is below the model's density.</summary>
    Random,
    /// <summary>TIES trim / Model Breadcrumbs: kept iff |δ| is in the model's selected magnitude set (and not in its
    /// dropped outliers), the sets coming from <see cref="KernelEmitter.EmitMagnitudeSelect"/>'s passes.</summary>
    Magnitude,
    /// <summary>DELLA: kept iff the element's flag, written by <see cref="KernelEmitter.EmitDellaKeep"/>, is set.</summary>
    Flags,
}

public static partial class KernelEmitter
{
    /// <summary>Elements per tile of the select kernel's tie-count pass (pass 2) and tie-locate pass (pass 3).</summary>
    public const long SelectTile = 4096;

    /// <summary>Bins of each select histogram (16 bits of the key).</summary>
    public const int SelectBins = 1 << 16;

    /// <summary>The per-model parameters of a magnitude mask: model i keeps δ iff dm_in_top(key, element, keep_key[i],
    /// keep_end[i]) and not dm_in_top(key, element, drop_key[i], drop_end[i]).</summary>
    private static IEnumerable<(string, KernelParameterType, int?, string)> MagnitudeMaskFields(int modelCount) =>
    [
        ("scale", KernelParameterType.Float64, modelCount, "factor of the kept deltas of input i"),
        ("keep_end", KernelParameterType.UInt64, modelCount, "kept set of input i: one past the last kept threshold copy"),
        ("drop_end", KernelParameterType.UInt64, modelCount, "dropped set of input i: one past the last dropped threshold copy"),
        ("keep_key", KernelParameterType.UInt32, modelCount, "kept set of input i: threshold key of |delta|"),
        ("drop_key", KernelParameterType.UInt32, modelCount, "dropped set of input i: threshold key of |delta|"),
    ];

    /// <summary>The C condition "δᵢ is kept" of a magnitude mask, for δᵢ (or |δᵢ|: same key) in <paramref name="value"/>
    /// at tensor index <paramref name="element"/>.</summary>
    private static string MagnitudeKeep(int i, string value, string element)
        => Invariant($"(dm_in_top(dm_magnitude_key({value}), {element}, p.keep_key[{i}], p.keep_end[{i}]) && !dm_in_top(dm_magnitude_key({value}), {element}, p.drop_key[{i}], p.drop_end[{i}]))");

    /// <summary>The radix select of the CPU's MagnitudeSelect over |δᵢ| = |xᵢ − base| (float32), in four passes chosen by
    /// <c>pass</c>, each over <c>queries</c> (stream, key) pairs, where a stream is an input index and the result buffer
    /// (dm_u64, zeroed by the host before passes 0 to 2) receives:
    /// <list type="bullet">
    /// <item>pass 0: per query q, the histogram of the high 16 bits of the |δ| keys of stream q (<c>result[q·65536 + bin]</c>);</item>
    /// <item>pass 1: per query, the histogram of the low 16 bits of the keys whose high 16 bits are those of <c>key[q]</c>;</item>
    /// <item>pass 2: per query and tile of <see cref="SelectTile"/> elements, how many keys equal <c>key[q]</c>
    ///   (<c>result[q·tiles + tile]</c>);</item>
    /// <item>pass 3: per query, the index of the <c>occurrence[q]</c>-th (1-based) key equal to <c>key[q]</c> from element
    ///   <c>start[q]</c> on, within one tile (all ones when there is none).</item>
    /// </list>
    /// Histograms are built with atomicAdd on integers, and tile counts with an integer block sum: every count is exact
    /// whatever the grid or the order of the additions. Any grid; passes 0 to 2 are grid-stride loops.</summary>
    public static EmittedKernel EmitMagnitudeSelect(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes)
    {
        Validate(modelCount, inputDtypes, Dtype.F32);
        ValidateBase(modelCount, baseIndex);
        var name = new StringBuilder("dm_magnitude_select").Append(Invariant($"_n{modelCount}_b{baseIndex}"));
        foreach (Dtype d in inputDtypes) name.Append('_').Append(Suffix(d));
        string description = Invariant($"magnitude select: {inputDtypes.Count} inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), base: input {baseIndex}");
        return EmitSelect(name.ToString(), description, modelCount, indent => KeySwitch(modelCount, baseIndex, inputDtypes, "p.stream[q]", indent));
    }

    /// <summary>The parameter layout shared by the select kernels (<see cref="EmitMagnitudeSelect"/>, <see cref="EmitVarianceSelect"/>).</summary>
    private static KernelParameterLayout SelectLayout(int modelCount, IEnumerable<(string, KernelParameterType, int?, string)>? extra)
    {
        int queries = MaxSelectQueries(modelCount);
        return KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of the tensor"),
            ("result", KernelParameterType.OutputPointer, null, "dm_u64[]: the pass's histograms, tile counts or indices"),
            ("count", KernelParameterType.UInt64, null, "elements of the tensor"),
            ("start", KernelParameterType.UInt64, queries, "pass 3: first element of the tile to search for query q"),
            ("occurrence", KernelParameterType.UInt64, queries, "pass 3: which copy of key[q] (1-based) to find"),
            ("pass", KernelParameterType.UInt32, null, "0: high histogram, 1: low histogram, 2: tie counts per tile, 3: tie index"),
            ("queries", KernelParameterType.UInt32, null, "queries in this launch"),
            ("stream", KernelParameterType.UInt32, queries, "input whose |delta| query q reads"),
            ("key", KernelParameterType.UInt32, queries, "pass 1: the key prefix (high 16 bits); passes 2, 3: the threshold key"),
        }.Concat(extra ?? []));
    }

    /// <summary>The four passes of a select kernel over the keys that <paramref name="keyCode"/> (given an indent) declares as
    /// <c>dm_u32 key</c> for query q at element i.</summary>
    private static EmittedKernel EmitSelect(string name, string description, int modelCount, Func<string, string> keyCode,
        IEnumerable<(string, KernelParameterType, int?, string)>? extraFields = null)
    {
        KernelParameterLayout layout = SelectLayout(modelCount, extraFields);
        var body = new StringBuilder();
        body.Append("    dm_u64* result = (dm_u64*)p.result;\n");
        body.Append("    if (p.pass == 3u)\n    {\n");
        body.Append("        if (blockIdx.x != 0u || threadIdx.x != 0u) return;\n");
        body.Append("        for (dm_u32 q = 0; q < p.queries; ++q)\n        {\n");
        body.Append(Invariant($"            const dm_u64 end = p.start[q] + {SelectTile}ull < p.count ? p.start[q] + {SelectTile}ull : p.count;\n"));
        body.Append("            dm_u64 seen = 0, found = ~0ull;\n");
        body.Append("            for (dm_u64 i = p.start[q]; i < end; ++i)\n            {\n");
        body.Append(keyCode("                "));
        body.Append("                if (key == p.key[q] && ++seen == p.occurrence[q]) { found = i; break; }\n");
        body.Append("            }\n            result[q] = found;\n        }\n        return;\n    }\n");
        body.Append("    if (p.pass == 2u)\n    {\n");
        body.Append("        __shared__ dm_u64 scratch[DM_BLOCK_SIZE];\n");
        body.Append(Invariant($"        const dm_u64 tiles = (p.count + {SelectTile - 1}ull) / {SelectTile}ull;\n"));
        body.Append("        for (dm_u64 tile = blockIdx.x; tile < tiles; tile += gridDim.x)\n        {\n");
        body.Append(Invariant($"            const dm_u64 start = tile * {SelectTile}ull;\n"));
        body.Append(Invariant($"            const dm_u64 end = start + {SelectTile}ull < p.count ? start + {SelectTile}ull : p.count;\n"));
        body.Append("            for (dm_u32 q = 0; q < p.queries; ++q)\n            {\n");
        body.Append("                dm_u64 matches = 0;\n");
        body.Append("                for (dm_u64 i = start + threadIdx.x; i < end; i += blockDim.x)\n                {\n");
        body.Append(keyCode("                    "));
        body.Append("                    if (key == p.key[q]) ++matches;\n");
        body.Append("                }\n");
        body.Append("                const dm_u64 total = dm_block_sum(matches, scratch);\n");
        body.Append("                if (threadIdx.x == 0u) result[q * tiles + tile] = total;\n");
        body.Append("            }\n        }\n        return;\n    }\n");
        body.Append(LoopHead);
        body.Append("        for (dm_u32 q = 0; q < p.queries; ++q)\n        {\n");
        body.Append(keyCode("            "));
        body.Append(Invariant($"            dm_u64* histogram = result + (dm_u64)q * {SelectBins}u;\n"));
        body.Append("            if (p.pass == 0u) atomicAdd(histogram + (key >> 16), 1ull);\n");
        body.Append("            else if ((key >> 16) == (p.key[q] >> 16)) atomicAdd(histogram + (key & 0xffffu), 1ull);\n");
        body.Append("        }\n");
        body.Append(LoopTail);
        return Assemble(name, description, layout, ["dtype.cuh", "select.cuh", "reduce.cuh"], body.ToString(), modelCount, BlockSize);
    }

    /// <summary>Queries one select launch can carry: two per non-base input (Model Breadcrumbs' kept and outlier sets).</summary>
    public static int MaxSelectQueries(int modelCount) => 2 * Math.Max(1, modelCount - 1);

    /// <summary>"dm_u32 key = sort key of |δ| of input <paramref name="stream"/> at element i" as a switch over the inputs
    /// (each with its own dtype).</summary>
    private static string KeySwitch(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, string stream, string indent)
    {
        var text = new StringBuilder();
        text.Append(indent).Append("dm_u32 key = 0u;\n");
        text.Append(indent).Append("switch (").Append(stream).Append(")\n").Append(indent).Append("{\n");
        for (int m = 0; m < modelCount; m++)
        {
            if (m == baseIndex) continue;
            text.Append(indent).Append(Invariant(
                $"    case {m}u: key = dm_magnitude_key({Load(inputDtypes[m], m)} - {Load(inputDtypes[baseIndex], baseIndex)}); break;\n"));
        }
        text.Append(indent).Append("    default: break;\n");
        text.Append(indent).Append("}\n");
        return text.ToString();
    }
}
