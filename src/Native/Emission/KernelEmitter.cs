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
public static class KernelEmitter
{
    /// <summary>Bumped whenever the generated text changes meaning (it is part of the text, hence of the cache key).</summary>
    public const int Version = 1;
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

    /// <summary>FNV-1a (32 bit) of the UTF-8 bytes of an output tensor name: the random stream's per-tensor word.</summary>
    public static uint TensorNameHash(string tensorName)
    {
        uint hash = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(tensorName)) hash = (hash ^ b) * 16777619;
        return hash;
    }

    /// <summary><c>linear</c>: out = Σ wᵢ·xᵢ (models in order), divided by Σ wᵢ when <paramref name="normalize"/> (no zero guard).
    /// Parameters: <c>in[n]</c>, <c>out</c>, <c>count</c>, <c>weight[n]</c>.</summary>
    public static EmittedKernel EmitLinear(int modelCount, IReadOnlyList<Dtype> inputDtypes, Dtype output, bool normalize = true)
    {
        Validate(modelCount, inputDtypes, output);
        var layout = KernelParameterLayout.Create(
        new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("weight", KernelParameterType.Float32, modelCount, "weight of input i"),
        });
        string entry = EntryName("linear", modelCount, inputDtypes, output, normalize ? "norm" : null);
        string description = $"linear: {Describe(inputDtypes, output)}, normalize: {Bool(normalize)}";

        var body = new StringBuilder();
        if (normalize) body.Append("    const float total = ").Append(SumOf(Enumerable.Range(0, modelCount))).Append(";\n");
        body.Append(LoopHead);
        for (int i = 0; i < modelCount; i++)
        {
            string load = Load(inputDtypes[i], i);
            body.Append(i == 0
                ? $"        float acc = p.weight[0] * {load};\n"
                : Invariant($"        acc = dm_weighted_add(acc, p.weight[{i}], {load});\n"));
        }
        if (normalize) body.Append("        acc = acc / total;\n");
        body.Append($"        dm_store_{Suffix(output)}(p.out, i, acc);\n");
        body.Append(LoopTail);
        return Assemble(entry, description, layout, ["dtype.cuh", "merge_ops.cuh"], body.ToString(), modelCount);
    }

    /// <summary>The task-arithmetic family without sign consensus (<c>task_arithmetic</c>, and <c>dare_linear</c> when
    /// <paramref name="dareMask"/>): δᵢ = xᵢ − base for every non-base input; with DARE δᵢ is kept with probability
    /// <c>density[i]</c> (the shared Philox stream) and multiplied by <c>rescale[i]</c>; mixed = Σ wᵢ·δᵢ; divided by
    /// Σ wᵢ (|Σ| &lt; 1e-8 → 1) when <paramref name="normalize"/>; times <c>lambda</c>; out = base + mixed.
    /// Parameters: <c>in[n]</c>, <c>out</c>, <c>count</c>, <c>first</c> (tensor element index of element 0 of this launch),
    /// <c>seed</c>, <c>weight[n]</c>, <c>lambda</c>, and with DARE <c>density[n]</c>, <c>rescale[n]</c>, <c>name_hash</c>.</summary>
    public static EmittedKernel EmitTaskArithmetic(int modelCount, int baseIndex, IReadOnlyList<Dtype> inputDtypes, Dtype output,
        bool normalize = false, bool dareMask = false)
    {
        Validate(modelCount, inputDtypes, output);
        if (modelCount < 2) throw new ArgumentOutOfRangeException(nameof(modelCount), "task arithmetic needs a base and at least one other model");
        ArgumentOutOfRangeException.ThrowIfNegative(baseIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(baseIndex, modelCount);

        var fields = new List<(string, KernelParameterType, int?, string)>
        {
            ("in", KernelParameterType.InputPointer, modelCount, "input i, element 0 of this launch"),
            ("out", KernelParameterType.OutputPointer, null, "output, element 0 of this launch"),
            ("count", KernelParameterType.UInt64, null, "elements in this launch"),
            ("first", KernelParameterType.UInt64, null, "tensor element index of element 0"),
            ("seed", KernelParameterType.UInt64, null, "run seed (random stream key)"),
            ("weight", KernelParameterType.Float32, modelCount, "weight of input i (base: unused)"),
            ("lambda", KernelParameterType.Float32, null, "scale of the mixed delta"),
        };
        if (dareMask)
        {
            fields.Add(("density", KernelParameterType.Float32, modelCount, "keep probability of input i"));
            fields.Add(("rescale", KernelParameterType.Float32, modelCount, "factor for kept elements of input i"));
            fields.Add(("name_hash", KernelParameterType.UInt32, null, "FNV-1a of the output tensor name"));
        }
        var layout = KernelParameterLayout.Create(fields);
        string variant = (dareMask ? "dare" : "") + (dareMask && normalize ? "_" : "") + (normalize ? "norm" : "");
        string entry = EntryName("task_arithmetic", modelCount, inputDtypes, output, variant.Length == 0 ? null : variant, baseIndex);
        string description = Invariant($"task arithmetic: {Describe(inputDtypes, output)}, base: input {baseIndex}, normalize: {Bool(normalize)}, DARE mask: {Bool(dareMask)}");

        int[] others = Enumerable.Range(0, modelCount).Where(i => i != baseIndex).ToArray();
        var body = new StringBuilder();
        if (normalize) body.Append("    const float divisor = dm_nonzero_divisor(").Append(SumOf(others)).Append(");\n");
        body.Append(LoopHead);
        if (dareMask) body.Append("        const dm_u64 element = p.first + i;\n");
        body.Append($"        const float base = {Load(inputDtypes[baseIndex], baseIndex)};\n");
        for (int k = 0; k < others.Length; k++)
        {
            int i = others[k];
            body.Append(Invariant($"        float delta{i} = {Load(inputDtypes[i], i)} - base;\n"));
            if (dareMask)
                body.Append(Invariant($"        delta{i} = dm_dare_delta(delta{i}, dm_bernoulli_keep(p.seed, {i}u, p.name_hash, element, p.density[{i}]), p.rescale[{i}]);\n"));
            body.Append(k == 0
                ? Invariant($"        float mixed = p.weight[{i}] * delta{i};\n")
                : Invariant($"        mixed = dm_weighted_add(mixed, p.weight[{i}], delta{i});\n"));
        }
        if (normalize) body.Append("        mixed = mixed / divisor;\n");
        body.Append("        mixed = mixed * p.lambda;\n");
        body.Append($"        dm_store_{Suffix(output)}(p.out, i, base + mixed);\n");
        body.Append(LoopTail);
        string[] headers = dareMask ? ["dtype.cuh", "philox.cuh", "merge_ops.cuh"] : ["dtype.cuh", "merge_ops.cuh"];
        return Assemble(entry, description, layout, headers, body.ToString(), modelCount);
    }

    private const string LoopHead =
        "    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;\n" +
        "    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)\n" +
        "    {\n";

    private const string LoopTail = "    }\n";

    private static EmittedKernel Assemble(string entry, string description, KernelParameterLayout layout, string[] headers, string body, int modelCount)
    {
        var text = new StringBuilder();
        text.Append(Invariant($"// dotnet-merge generated kernel (emitter v{Version}); regenerate rather than edit.\n"));
        text.Append("// ").Append(description).Append('\n');
        text.Append(Invariant($"// launch: blockDim.x = {BlockSize}, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.\n\n"));
        text.Append(Invariant($"#define DM_MODEL_COUNT {modelCount}\n"));
        text.Append(Invariant($"#define DM_BLOCK_SIZE {BlockSize}\n\n"));
        text.Append(KernelSources.Inline(headers));
        text.Append("// ==== generated ====\n");
        text.Append(layout.ToCDeclaration()).Append('\n');
        text.Append($"extern \"C\" __global__ void __launch_bounds__(DM_BLOCK_SIZE) {entry}(const dm_params p)\n{{\n");
        text.Append(body);
        text.Append("}\n");
        return new EmittedKernel(entry, text.ToString(), layout, BlockSize, description);
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

    private static string SumOf(IEnumerable<int> inputs) => string.Join(" + ", inputs.Select(i => Invariant($"p.weight[{i}]")));

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
