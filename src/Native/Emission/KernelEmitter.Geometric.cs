using System.Text;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Emission;

public static partial class KernelEmitter
{
    /// <summary>The Gram matrix of the geometric methods (slerp, model_stock), in the CPU's operations (VectorMath.Gram):
    /// with dᵢ = (double)x[sources[i]] − (double)x[origin] (or (double)x[sources[i]] without an origin), the tensor is cut
    /// into spans of <c>span</c> elements (LaneSum.ChunkElements for a whole tensor, the row length for rows), and for span
    /// c and pair p = (i, j ≥ i) in VectorMath.Pair's packed order, <c>partial[c·pairs + p]</c> = Σ dᵢ·dⱼ over the span in
    /// LaneSum's order (element at offset e into accumulator e mod 16, plain products, the fixed tree). One block of
    /// <see cref="ReductionBlockSize"/> threads per span (grid-stride over spans): the threads decode a tile together, the
    /// first 16 threads each add up their lane. Parameters: <c>in[n]</c>, <c>partial</c> (double[spans·pairs]),
    /// <c>count</c>, <c>span</c>.</summary>
    public static EmittedKernel EmitGram(int modelCount, IReadOnlyList<int> sources, int origin, IReadOnlyList<Dtype> inputDtypes)
    {
        Validate(modelCount, inputDtypes, Dtype.F32);
        ValidateSources(modelCount, sources, origin);
        int k = sources.Count, pairs = k * (k + 1) / 2;
        var layout = KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of the tensor"),
            ("partial", KernelParameterType.OutputPointer, null, "double[spans * pairs]: per span, the packed upper triangle of dot products"),
            ("count", KernelParameterType.UInt64, null, "elements of the tensor"),
            ("span", KernelParameterType.UInt64, null, "elements per reduction span"),
        });
        string entry = GeometricName("dm_gram", modelCount, sources, origin, inputDtypes, null);
        string description = Invariant($"Gram matrix: {inputDtypes.Count} inputs ({string.Join(", ", inputDtypes.Select(Suffix))}), sources {string.Join(", ", sources)}, origin {(origin < 0 ? "none" : origin.ToString(System.Globalization.CultureInfo.InvariantCulture))}");

        var element = new StringBuilder(origin >= 0 ? $"                const double origin = (double){Load(inputDtypes[origin], origin)};\n" : "");
        for (int s = 0; s < k; s++)
            element.Append(Invariant($"                diff[{s}][threadIdx.x] = (double){Load(inputDtypes[sources[s]], sources[s])}{(origin >= 0 ? " - origin" : "")};\n"));
        var laneAdds = new StringBuilder();
        int pair = 0;
        for (int a = 0; a < k; a++)
            for (int b = a; b < k; b++, pair++)
                laneAdds.Append(Invariant($"                    s{pair} = s{pair} + diff[{a}][t] * diff[{b}][t];\n"));
        string body = LaneReduction(
            Invariant($"    __shared__ double diff[{k}][DM_BLOCK_SIZE];\n    __shared__ double lanes[{pairs}][DM_LANES];\n"),
            "spans", "span",
            string.Concat(Enumerable.Range(0, pairs).Select(q => Invariant($"        double s{q} = 0.0;\n"))),
            element.ToString(),
            laneAdds.ToString(),
            string.Concat(Enumerable.Range(0, pairs).Select(q => Invariant($"            lanes[{q}][threadIdx.x] = s{q};\n"))),
            string.Concat(Enumerable.Range(0, pairs).Select(q => Invariant($"            partial[c * {pairs} + {q}] = dm_lane_total(lanes[{q}]);\n"))));
        return Assemble(entry, description, layout, ["dtype.cuh", "reduce.cuh"], body, modelCount, ReductionBlockSize);
    }

    /// <summary>The combine map of the geometric methods, in the CPU's operations (VectorMath.CombineSegment): with o =
    /// (double)x[origin] (0.0 without an origin), sum = o, then for each source s in order sum = sum + <c>coefficient[s]</c>·
    /// ((double)x[sources[s]] − o); the output is narrowed as the CPU does (to odd for outputs narrower than float32),
    /// then encoded. Parameters: <c>in[n]</c>, <c>out</c>, <c>count</c>, <c>coefficient[k]</c> (double); with
    /// <paramref name="rows"/> (one vector per row, VectorLayout.Rows) the coefficients of element e are those of its row:
    /// <c>row_coefficients</c> (a device double[rows·k]) from row (<c>first</c> + e) / <c>width</c> on.</summary>
    public static EmittedKernel EmitCombine(int modelCount, IReadOnlyList<int> sources, int origin, IReadOnlyList<Dtype> inputDtypes, Dtype output,
        bool rows = false)
    {
        Validate(modelCount, inputDtypes, output);
        ValidateSources(modelCount, sources, origin);
        var fields = new List<(string, KernelParameterType, int?, string)>
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
        };
        if (rows)
        {
            fields.Add(("row_coefficients", KernelParameterType.InputPointer, null, "double[rows * k]: the coefficients of each row"));
            fields.Add(("first", KernelParameterType.UInt64, null, "tensor element index of element 0"));
            fields.Add(("width", KernelParameterType.UInt64, null, "elements per row"));
        }
        else
        {
            fields.Add(("coefficient", KernelParameterType.Float64, sources.Count, "coefficient of source s"));
        }
        var layout = KernelParameterLayout.Create(fields);
        string entry = GeometricName(rows ? "dm_combine_rows" : "dm_combine", modelCount, sources, origin, inputDtypes, output);
        string description = Invariant($"combine{(rows ? " by rows" : "")}: {Describe(inputDtypes, output)}, sources {string.Join(", ", sources)}, origin {(origin < 0 ? "none" : origin.ToString(System.Globalization.CultureInfo.InvariantCulture))}");

        var body = new StringBuilder(LoopHead);
        string coefficient = "p.coefficient";
        if (rows)
        {
            body.Append(Invariant($"        const double* coefficient = (const double*)p.row_coefficients + (p.first + i) / p.width * {sources.Count}u;\n"));
            coefficient = "coefficient";
        }
        body.Append(origin >= 0 ? $"        const double origin = (double){Load(inputDtypes[origin], origin)};\n" : "        const double origin = 0.0;\n");
        body.Append("        double sum = origin;\n");
        for (int s = 0; s < sources.Count; s++)
            body.Append(Invariant($"        sum = sum + {coefficient}[{s}] * ((double){Load(inputDtypes[sources[s]], sources[s])} - origin);\n"));
        body.Append($"        {Store(output, "sum")}\n");
        body.Append(LoopTail);
        return Assemble(entry, description, layout, ["dtype.cuh", "merge_ops.cuh"], body.ToString(), modelCount, BlockSize);
    }

    /// <summary><c>nearswap</c>, in the CPU's operations (Nearswap.Merge): with a = (double)base and b = (double)other,
    /// w = clamp(<c>t</c> / max(|a − b|, 1e-6), 0, 1) with .NET's NaN rules (Math.Max and Math.Clamp pass a NaN through,
    /// where CUDA's fmax would drop it), out = w·b + (1 − w)·a narrowed as the CPU does (to odd below float32), then encoded.
    /// Parameters: <c>in[2]</c>, <c>out</c>, <c>count</c>, <c>t</c> (double).</summary>
    public static EmittedKernel EmitNearswap(int baseIndex, IReadOnlyList<Dtype> inputDtypes, Dtype output)
    {
        Validate(2, inputDtypes, output);
        ValidateBase(2, baseIndex);
        var layout = KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, 2, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("t", KernelParameterType.Float64, null, "distance scale"),
        });
        int other = 1 - baseIndex;
        string entry = EntryName("nearswap", 2, inputDtypes, output, null, baseIndex);
        var body = new StringBuilder(LoopHead);
        body.Append($"        const double a = (double){Load(inputDtypes[baseIndex], baseIndex)};\n");
        body.Append($"        const double b = (double){Load(inputDtypes[other], other)};\n");
        body.Append("        const double difference = a - b;\n");
        body.Append("        const double distance = difference < 0.0 ? -difference : difference;\n");
        body.Append(Invariant($"        const double clamped = distance != distance ? distance : (distance > {NearswapClamp} ? distance : {NearswapClamp});\n"));
        body.Append("        const double ratio = p.t / clamped;\n");
        body.Append("        const double w = ratio < 0.0 ? 0.0 : (ratio > 1.0 ? 1.0 : ratio);\n");
        body.Append($"        {Store(output, "w * b + (1.0 - w) * a")}\n");
        body.Append(LoopTail);
        return Assemble(entry, Invariant($"nearswap: {Describe(inputDtypes, output)}, base: input {baseIndex}"), layout, ["dtype.cuh", "merge_ops.cuh"],
            body.ToString(), 2, BlockSize);
    }

    /// <summary>Nearswap.DistanceClamp (1e-6) as a C literal that reads back to the same double.</summary>
    private static string NearswapClamp => DotnetMerge.Methods.Nearswap.DistanceClamp.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    private static void ValidateSources(int modelCount, IReadOnlyList<int> sources, int origin)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0) throw new ArgumentException("no sources", nameof(sources));
        foreach (int s in sources)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(s, nameof(sources));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(s, modelCount, nameof(sources));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(origin, -1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(origin, modelCount);
    }

    private static string GeometricName(string prefix, int modelCount, IReadOnlyList<int> sources, int origin, IReadOnlyList<Dtype> inputs, Dtype? output)
    {
        var name = new StringBuilder(prefix).Append(Invariant($"_n{modelCount}_s{string.Join("x", sources)}"));
        name.Append(origin < 0 ? "_plain" : Invariant($"_o{origin}"));
        foreach (Dtype d in inputs) name.Append('_').Append(Suffix(d));
        if (output is Dtype o) name.Append("_to_").Append(Suffix(o));
        return name.ToString();
    }
}
