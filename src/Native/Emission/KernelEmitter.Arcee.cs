using System.Text;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Emission;

public static partial class KernelEmitter
{
    /// <summary>The fields of arcee_fusion's row KL (computed on the host with ArceeFusion.RowKl and uploaded).</summary>
    private static readonly (string, KernelParameterType, int?, string)[] RowKlFields =
    [
        ("row_coefficients", KernelParameterType.InputPointer, null, "double[rows]: each row's KL(softmax(b) || softmax(a))"),
        ("width", KernelParameterType.UInt64, null, "elements per row"),
    ];

    /// <summary>"const float importance = …" of element <paramref name="element"/> from the locals x (base) and y (other), as
    /// ArceeFusion.Importance: (float)(|(double)y − (double)x|·kl[row]).</summary>
    private static string Importance(int baseIndex, IReadOnlyList<Dtype> inputDtypes, string element, string indent)
    {
        int other = 1 - baseIndex;
        var text = new StringBuilder();
        text.Append(indent).Append($"const float x = {Load(inputDtypes[baseIndex], baseIndex)};\n");
        text.Append(indent).Append($"const float y = {Load(inputDtypes[other], other)};\n");
        text.Append(indent).Append("const double difference = (double)y - (double)x;\n");
        text.Append(indent).Append($"const double row_kl = ((const double*)p.row_coefficients)[({element}) / p.width];\n");
        text.Append(indent).Append("const float importance = (float)((difference < 0.0 ? -difference : difference + 0.0) * row_kl);\n");
        return text.ToString();
    }

    /// <summary>arcee_fusion's order statistics: the select kernel's four passes (see <see cref="EmitMagnitudeSelect"/>) over the
    /// order-preserving key (<c>dm_sort_key</c>) of each element's importance (see <see cref="EmitArceeFusion"/>), one stream
    /// (the host sets <c>stream[q]</c> to 0). Inputs: the base and one other model. Extra parameters: <c>row_coefficients</c>
    /// (the rows' KL, double[rows]), <c>width</c>.</summary>
    public static EmittedKernel EmitImportanceSelect(int baseIndex, IReadOnlyList<Dtype> inputDtypes)
    {
        Validate(2, inputDtypes, Dtype.F32);
        ValidateBase(2, baseIndex);
        string name = Invariant($"dm_arcee_select_b{baseIndex}") + string.Concat(inputDtypes.Select(d => "_" + Suffix(d)));
        string description = Invariant($"arcee_fusion importance select: inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), base: input {baseIndex}");
        return EmitSelect(name, description, 2, indent => Importance(baseIndex, inputDtypes, "i", indent) + indent + "dm_u32 key = dm_sort_key(importance);\n",
            RowKlFields);
    }

    /// <summary>arcee_fusion's map, in the CPU's operations (ArceeFusion): importance = (float)(|(double)y − (double)x|·kl) with
    /// x the base, y the other model and kl the element's row KL (row (<c>first</c> + e) / <c>width</c> of
    /// <c>row_coefficients</c>); out = y where (double)importance ≥ <c>threshold</c>, else x (stored as the float32 it is).
    /// Parameters: <c>in[2]</c>, <c>out</c>, <c>count</c>, <c>first</c>, <c>threshold</c> (double), <c>row_coefficients</c>, <c>width</c>.</summary>
    public static EmittedKernel EmitArceeFusion(int baseIndex, IReadOnlyList<Dtype> inputDtypes, Dtype output)
    {
        Validate(2, inputDtypes, output);
        ValidateBase(2, baseIndex);
        var fields = new List<(string, KernelParameterType, int?, string)>
        {
            ("in", KernelParameterType.InputPointer, 2, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("first", KernelParameterType.UInt64, null, "tensor element index of element 0"),
            ("threshold", KernelParameterType.Float64, null, "median + 1.5 IQR of the importances"),
        };
        fields.AddRange(RowKlFields);
        var layout = KernelParameterLayout.Create(fields);
        string entry = EntryName("arcee_fusion", 2, inputDtypes, output, null, baseIndex);
        string description = Invariant($"arcee_fusion: {Describe(inputDtypes, output)}, base: input {baseIndex}");

        var body = new StringBuilder(LoopHead);
        body.Append(Importance(baseIndex, inputDtypes, "p.first + i", "        "));
        body.Append($"        {Store(output, "(double)((double)importance >= p.threshold ? y : x)")}\n");
        body.Append(LoopTail);
        return Assemble(entry, description, layout, ["dtype.cuh", "merge_ops.cuh"], body.ToString(), 2, BlockSize);
    }
}
