using System.Text;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Emission;

public static partial class KernelEmitter
{
    /// <summary>SCE's selection, as the CPU's SceMerge.VarianceAt ranks positions: the select kernel's four passes (see
    /// <see cref="EmitMagnitudeSelect"/>) over one stream, the order-preserving key (<c>dm_sort_key</c>) of the float32
    /// population variance across the non-base inputs of their task vectors δᵢ = xᵢ − base (mean and sum of squares in
    /// float64, models in order). The host sets <c>stream[q]</c> to 0. Pass 1 with the prefix of +0 also counts the
    /// positions of zero variance (bin 0), from which the host derives how many positions are selected.</summary>
    public static EmittedKernel EmitVarianceSelect(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes)
    {
        Validate(modelCount, inputDtypes, Dtype.F32);
        ValidateBase(modelCount, baseIndex);
        string name = Invariant($"dm_sce_select_n{modelCount}_b{baseIndex}") + string.Concat(inputDtypes.Select(d => "_" + Suffix(d)));
        string description = Invariant($"sce variance select: {inputDtypes.Count} inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), base: input {baseIndex}");
        return EmitSelect(name, description, modelCount, indent =>
            Deltas(modelCount, baseIndex, inputDtypes, indent) + Variance(modelCount, baseIndex, indent) + indent + "dm_u32 key = dm_sort_key(variance);\n");
    }

    /// <summary>SCE's per-model weights before normalisation, in the CPU's operations (SceMerge's sum of squares through
    /// ChunkLoop.Reduce): the tensor is cut into chunks of <c>chunk</c> elements; for chunk c and the k-th non-base input,
    /// <c>partial[c·(n − 1) + k]</c> = Σ (double)δ·(double)δ over the chunk's selected positions (all of them without
    /// <paramref name="selected"/>) in LaneSum's order (an unselected position adds +0, which leaves a sum of squares as
    /// it is). One block of <see cref="ReductionBlockSize"/> threads per chunk, as <see cref="EmitNorms"/>.
    /// Parameters: <c>in[n]</c>, <c>partial</c> (double[chunks·(n − 1)]), <c>count</c>, <c>chunk</c>, and with
    /// <paramref name="selected"/> <c>select_end</c>, <c>select_key</c> (the selected set of positions).</summary>
    public static EmittedKernel EmitSceSquares(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, bool selected)
    {
        Validate(modelCount, inputDtypes, Dtype.F32);
        ValidateBase(modelCount, baseIndex);
        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        var fields = new List<(string, KernelParameterType, int?, string)>
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of the tensor"),
            ("partial", KernelParameterType.OutputPointer, null, "double[chunks * (n - 1)]: per chunk and non-base input, the sum of its squared selected deltas"),
            ("count", KernelParameterType.UInt64, null, "elements of the tensor"),
            ("chunk", KernelParameterType.UInt64, null, "elements per chunk"),
        };
        if (selected) fields.AddRange(SceSelectionFields);
        var layout = KernelParameterLayout.Create(fields);
        string name = Invariant($"dm_sce_squares_n{modelCount}_b{baseIndex}") + string.Concat(inputDtypes.Select(d => "_" + Suffix(d))) + (selected ? "_select" : "");
        string description = Invariant($"sce sums of squares: {inputDtypes.Count} inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), base: input {baseIndex}, selection: {Bool(selected)}");

        string element = Deltas(modelCount, baseIndex, inputDtypes, "                ");
        if (selected)
        {
            element += Variance(modelCount, baseIndex, "                ");
            element += "                const bool selected = dm_in_top(dm_sort_key(variance), i, p.select_key, p.select_end);\n";
        }
        int tasks = others.Length;
        for (int k = 0; k < tasks; k++)
            element += Invariant($"                value[{k}][threadIdx.x] = {(selected ? "selected ? " : "")}delta{others[k]}{(selected ? " : 0.0f" : "")};\n");
        string body = LaneReduction(
            Invariant($"    __shared__ float value[{tasks}][DM_BLOCK_SIZE];\n    __shared__ double lanes[{tasks}][DM_LANES];\n"),
            "chunks", "chunk",
            string.Concat(Enumerable.Range(0, tasks).Select(k => Invariant($"        double squares{k} = 0.0;\n"))),
            element,
            string.Concat(Enumerable.Range(0, tasks).Select(k => Invariant($"                    squares{k} = squares{k} + (double)value[{k}][t] * (double)value[{k}][t];\n"))),
            string.Concat(Enumerable.Range(0, tasks).Select(k => Invariant($"            lanes[{k}][threadIdx.x] = squares{k};\n"))),
            string.Concat(Enumerable.Range(0, tasks).Select(k => Invariant($"            partial[c * {tasks} + {k}] = dm_lane_total(lanes[{k}]);\n"))));
        return Assemble(name, description, layout, ["dtype.cuh", "select.cuh", "reduce.cuh"], body, modelCount, ReductionBlockSize);
    }

    /// <summary>SCE's map, in the CPU's operations (SceMerge): with <paramref name="selected"/>, an unselected position
    /// (its variance key outside (<c>select_key</c>, <c>select_end</c>) at tensor index <c>first</c> + e) takes the base's
    /// value. Elsewhere: sum = Σ (double)δᵢ (models in order, from +0), positive = sum ≥ 0; the δᵢ of the elected sign
    /// (δᵢ &gt; 0, or δᵢ &lt; 0) add (double)δᵢ·<c>weight[i]</c> to mixed and <c>weight[i]</c> to divisor;
    /// out = narrow((double)base + mixed / (divisor == 0 ? 1 : divisor)).
    /// Parameters: <c>in[n]</c>, <c>out</c>, <c>count</c>, <c>first</c>, <c>weight[n]</c> (double: the normalised SCE
    /// weights), and with <paramref name="selected"/> <c>select_end</c>, <c>select_key</c>.</summary>
    public static EmittedKernel EmitSce(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, Dtype output, bool selected)
    {
        Validate(modelCount, inputDtypes, output);
        ValidateBase(modelCount, baseIndex);
        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        var fields = new List<(string, KernelParameterType, int?, string)>
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("first", KernelParameterType.UInt64, null, "tensor element index of element 0"),
            ("weight", KernelParameterType.Float64, modelCount, "normalised SCE weight of input i (base: unused)"),
        };
        if (selected) fields.AddRange(SceSelectionFields);
        var layout = KernelParameterLayout.Create(fields);
        string entry = EntryName("sce", modelCount, inputDtypes, output, selected ? "select" : null, baseIndex);
        string description = Invariant($"sce: {Describe(inputDtypes, output)}, base: input {baseIndex}, selection: {Bool(selected)}");

        var body = new StringBuilder(LoopHead);
        body.Append(Deltas(modelCount, baseIndex, inputDtypes, "        "));
        if (selected)
        {
            body.Append(Variance(modelCount, baseIndex, "        "));
            body.Append("        if (!dm_in_top(dm_sort_key(variance), p.first + i, p.select_key, p.select_end))\n        {\n");
            body.Append($"            {Store(output, "(double)base")}\n");
            body.Append("            continue;\n        }\n");
        }
        body.Append("        double sum = 0.0;\n");
        foreach (int i in others) body.Append(Invariant($"        sum = sum + (double)delta{i};\n"));
        body.Append("        const bool positive = sum >= 0.0;\n");
        body.Append("        double mixed = 0.0, divisor = 0.0;\n");
        foreach (int i in others)
            body.Append(Invariant($"        if (positive ? delta{i} > 0.0f : delta{i} < 0.0f) {{ mixed = mixed + (double)delta{i} * p.weight[{i}]; divisor = divisor + p.weight[{i}]; }}\n"));
        body.Append($"        {Store(output, "(double)base + mixed / (divisor == 0.0 ? 1.0 : divisor)")}\n");
        body.Append(LoopTail);
        return Assemble(entry, description, layout, ["dtype.cuh", "select.cuh", "merge_ops.cuh"], body.ToString(), modelCount, BlockSize);
    }

    /// <summary>SCE's selected positions: variance key above <c>select_key</c>, or equal to it at an index below <c>select_end</c>.</summary>
    private static readonly (string, KernelParameterType, int?, string)[] SceSelectionFields =
    [
        ("select_end", KernelParameterType.UInt64, null, "selected positions: one past the last selected threshold copy"),
        ("select_key", KernelParameterType.UInt32, null, "selected positions: threshold key of the variance"),
    ];

    /// <summary>"const float base = …; const float deltaᵢ = xᵢ − base;" for every non-base input at element i.</summary>
    private static string Deltas(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, string indent)
    {
        var text = new StringBuilder();
        text.Append(indent).Append($"const float base = {Load(inputDtypes[baseIndex], baseIndex)};\n");
        for (int i = 0; i < modelCount; i++)
            if (i != baseIndex) text.Append(indent).Append(Invariant($"const float delta{i} = {Load(inputDtypes[i], i)} - base;\n"));
        return text.ToString();
    }

    /// <summary>"const float variance = …" from the deltaᵢ locals, as SceMerge.VarianceAt: mean = Σ (double)δᵢ / k, then
    /// (float)(Σ ((double)δᵢ − mean)² / k), models in order.</summary>
    private static string Variance(int modelCount, int baseIndex, string indent)
    {
        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        string k = Invariant($"{others.Length}.0");
        var text = new StringBuilder();
        text.Append(indent).Append("double mean = 0.0;\n");
        foreach (int i in others) text.Append(indent).Append(Invariant($"mean = mean + (double)delta{i};\n"));
        text.Append(indent).Append($"mean = mean / {k};\n");
        text.Append(indent).Append("double squares = 0.0;\n");
        foreach (int i in others)
            text.Append(indent).Append(Invariant($"{{ const double deviation = (double)delta{i} - mean; squares = squares + deviation * deviation; }}\n"));
        text.Append(indent).Append($"const float variance = (float)(squares / {k});\n");
        return text.ToString();
    }
}
