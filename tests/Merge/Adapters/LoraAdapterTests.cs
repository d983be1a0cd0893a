using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;
using static DotnetMerge.Tests.Adapters.AdapterFixture;

namespace DotnetMerge.Tests.Adapters;

/// <summary>LoRA adapters applied in the read stage: a merge of <c>base+adapter</c> alone (linear, weight 1) writes the
/// adapted tensors, compared with a float64 reference of PEFT's merge_and_unload written here per variant
/// (hub-adapters-pickle.md §D.5), within float32 rounding (half an ulp of the written value).</summary>
public sealed class LoraAdapterTests : IDisposable
{
    private readonly AdapterFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private const string Q = "model.layers.0.self_attn.q_proj";
    private const string Up = "model.layers.0.mlp.up_proj";
    private const string Embed = "model.embed_tokens";

    private static (string, long[], double[]) T(string name, long rows, long cols, int seed, double scale = 0.25)
        => (name, [rows, cols], Values(rows * cols, seed, scale));

    private static (string, long[], double[]) V(string name, long length, int seed, double scale = 0.25)
        => (name, [length], Values(length, seed, scale));

    private static Dictionary<string, object?> Config(int r, double alpha, params (string Key, object? Value)[] extra)
    {
        var c = new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA", ["r"] = r, ["lora_alpha"] = alpha, ["target_modules"] = new[] { "q_proj", "up_proj" },
            ["base_model_name_or_path"] = "org/tiny-base", ["task_type"] = "CAUSAL_LM",
        };
        foreach (var (k, v) in extra) c[k] = v;
        return c;
    }

    /// <summary>Merges <c>base+adapter</c> alone and returns the written model's directory.</summary>
    private async Task<string> MergeAlone(string adapter, string method = "linear", MergeOptions? options = null)
    {
        var yaml = method == "linear"
            ? $"merge_method: linear\nmodels:\n  - model: base+{Path.GetFileName(adapter)}\n    parameters: {{weight: 1.0}}\n"
            : $"merge_method: {method}\nmodels:\n  - model: base+{Path.GetFileName(adapter)}\n";
        var path = _fx.PathOf("def-" + Path.GetFileName(adapter) + ".yaml");
        File.WriteAllText(path, yaml);
        var definition = MergeRunner.LoadDefinition(path, out var diagnostics);
        Assert.DoesNotContain(diagnostics, d => d.Severity == Definitions.DiagnosticSeverity.Error);
        var output = _fx.PathOf("out-" + Path.GetFileName(adapter) + "-" + method);
        await MergeRunner.RunAsync(definition, output, options ?? new MergeOptions());
        return output;
    }

    private static double[] Read(string dir, string tensor)
    {
        using var checkpoint = ModelCheckpoint.Open(dir);
        Assert.True(checkpoint.TryGetTensor(tensor, out var info, out var file));
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        return info.Dtype switch
        {
            Dtype.F32 => Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, 4 * i)).ToArray(),
            Dtype.BF16 => Enumerable.Range(0, bytes.Length / 2).Select(i => (double)BitConverter.Int32BitsToSingle((bytes[2 * i] | bytes[2 * i + 1] << 8) << 16)).ToArray(),
            _ => throw new InvalidOperationException(info.Dtype.ToString()),
        };
    }

    /// <summary>Each written value is the float64 reference rounded once: within half an ulp of the written dtype.</summary>
    private static void AssertRounded(double[] expected, double[] actual, Dtype dtype = Dtype.F32)
    {
        Assert.Equal(expected.Length, actual.Length);
        int mantissa = dtype == Dtype.F32 ? 23 : 7;
        for (int i = 0; i < expected.Length; i++)
        {
            double ulp = Math.Pow(2, Math.Floor(Math.Log2(Math.Abs(actual[i]))) - mantissa);
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 0.5 * ulp * (1 + 1e-9),
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    /// <summary>PEFT nn.Linear: W[o, i] + s · Σ_k B[o, k] A[k, i], W stored [out, in].</summary>
    private static double[] LinearReference(double[] w, int outDim, int inDim, double[] a, double[] b, int r, double s)
    {
        var result = (double[])w.Clone();
        for (int o = 0; o < outDim; o++)
            for (int i = 0; i < inDim; i++)
            {
                double d = 0;
                for (int k = 0; k < r; k++) d += b[o * r + k] * a[k * inDim + i];
                result[o * inDim + i] += s * d;
            }
        return result;
    }

    /// <summary>DoRA, row-wise: W'[o, :] = m[o] / ‖(W + ΔW)[o, :]‖ · (W + ΔW)[o, :].</summary>
    private static double[] ScaleRows(double[] v, int rows, int cols, double[] m)
    {
        var result = (double[])v.Clone();
        for (int o = 0; o < rows; o++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, cols).Sum(j => v[o * cols + j] * v[o * cols + j]));
            for (int j = 0; j < cols; j++) result[o * cols + j] *= m[o] / norm;
        }
        return result;
    }

    /// <summary>DoRA on a stored [in, out] (or [vocab, dim]) matrix: columns scaled by m[j] / ‖column j‖.</summary>
    private static double[] ScaleColumns(double[] v, int rows, int cols, double[] m)
    {
        var result = (double[])v.Clone();
        for (int j = 0; j < cols; j++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, rows).Sum(i => v[i * cols + j] * v[i * cols + j]));
            for (int i = 0; i < rows; i++) result[i * cols + j] *= m[j] / norm;
        }
        return result;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LoraAlphaOverR_AndRsLora_AddTheScaledProduct_ToTargetedModulesOnly(bool rslora)
    {
        await _fx.BaseAsync();
        int r = 4;
        var a = Values(r * Hidden, 7, 0.25);
        var b = Values(Hidden * r, 8, 0.25);
        var upA = Values(r * Hidden, 9, 0.25);
        var upB = Values(Inter * r, 10, 0.25);
        var adapter = await _fx.AdapterAsync("lora", Config(r, 6, ("use_rslora", rslora)),
        [
            ($"{Q}.lora_A.weight", [r, Hidden], a), ($"{Q}.lora_B.weight", [Hidden, r], b),
            ($"{Up}.lora_A.weight", [r, Hidden], upA), ($"{Up}.lora_B.weight", [Inter, r], upB),
        ]);
        var output = await MergeAlone(adapter);

        double s = rslora ? 6 / Math.Sqrt(r) : 6.0 / r;
        AssertRounded(LinearReference(BaseValues(Q + ".weight"), Hidden, Hidden, a, b, r, s), Read(output, Q + ".weight"));
        AssertRounded(LinearReference(BaseValues(Up + ".weight"), Inter, Hidden, upA, upB, r, s), Read(output, Up + ".weight"));
        Assert.Equal(BaseValues("model.layers.0.mlp.down_proj.weight"), Read(output, "model.layers.0.mlp.down_proj.weight"));
        Assert.Equal(BaseValues("lm_head.weight"), Read(output, "lm_head.weight"));
    }

    [Fact]
    public async Task RankPatternAndAlphaPattern_GiveEachModuleItsOwnScale()
    {
        await _fx.BaseAsync();
        var a = Values(2 * Hidden, 3);
        var b = Values(Hidden * 2, 4);
        var upA = Values(3 * Hidden, 5);
        var upB = Values(Inter * 3, 6);
        // up_proj: rank 3 (rank_pattern), alpha 8 (default); q_proj: rank 2 (default), alpha 1 (alpha_pattern, a regex).
        var adapter = await _fx.AdapterAsync("patterns", Config(2, 8,
                ("rank_pattern", new Dictionary<string, int> { ["up_proj"] = 3 }),
                ("alpha_pattern", new Dictionary<string, int> { ["layers.0.self_attn.q_proj"] = 1 })),
        [
            ($"{Q}.lora_A.weight", [2, Hidden], a), ($"{Q}.lora_B.weight", [Hidden, 2], b),
            ($"{Up}.lora_A.weight", [3, Hidden], upA), ($"{Up}.lora_B.weight", [Inter, 3], upB),
        ]);
        var output = await MergeAlone(adapter);
        AssertRounded(LinearReference(BaseValues(Q + ".weight"), Hidden, Hidden, a, b, 2, 1.0 / 2), Read(output, Q + ".weight"));
        AssertRounded(LinearReference(BaseValues(Up + ".weight"), Inter, Hidden, upA, upB, 3, 8.0 / 3), Read(output, Up + ".weight"));
    }

    [Fact]
    public async Task FanInFanOut_AddsTheTransposedProduct_ToAWeightStoredInOut()
    {
        await _fx.BaseAsync();
        // down_proj is stored [4, 6]; with fan_in_fan_out it is read as Conv1D [in = 4, out = 6]: A [r, 4], B [6, r].
        int r = 2;
        var a = Values(r * Hidden, 12);
        var b = Values(Inter * r, 13);
        var adapter = await _fx.AdapterAsync("fif", Config(r, 2, ("fan_in_fan_out", true), ("target_modules", new[] { "down_proj" })),
            [("model.layers.0.mlp.down_proj.lora_A.weight", [r, Hidden], a), ("model.layers.0.mlp.down_proj.lora_B.weight", [Inter, r], b)]);
        var output = await MergeAlone(adapter);

        var w = BaseValues("model.layers.0.mlp.down_proj.weight");
        var expected = (double[])w.Clone();
        for (int i = 0; i < Hidden; i++)
            for (int o = 0; o < Inter; o++)
            {
                double d = 0;
                for (int k = 0; k < r; k++) d += b[o * r + k] * a[k * Hidden + i];
                expected[i * Inter + o] += 1.0 * d;
            }
        AssertRounded(expected, Read(output, "model.layers.0.mlp.down_proj.weight"));
    }

    [Fact]
    public async Task EmbeddingLora_AddsTheTransposedProduct_AndModulesToSaveReplacesTheTensor()
    {
        await _fx.BaseAsync();
        int r = 3;
        var a = Values(r * Vocab, 14); // lora_embedding_A [r, vocab]
        var b = Values(Hidden * r, 15); // lora_embedding_B [dim, r]
        var head = Values(Vocab * Hidden, 16, 0.5);
        var adapter = await _fx.AdapterAsync("embed", Config(r, 3, ("target_modules", new[] { "embed_tokens" }), ("modules_to_save", new[] { "lm_head" })),
        [
            ($"{Embed}.lora_embedding_A", [r, Vocab], a), ($"{Embed}.lora_embedding_B", [Hidden, r], b),
            ("lm_head.weight", [Vocab, Hidden], head),
        ]);
        var output = await MergeAlone(adapter);

        var e = BaseValues(Embed + ".weight");
        var expected = (double[])e.Clone();
        for (int v = 0; v < Vocab; v++)
            for (int d = 0; d < Hidden; d++)
            {
                double sum = 0;
                for (int k = 0; k < r; k++) sum += b[d * r + k] * a[k * Vocab + v];
                expected[v * Hidden + d] += 1.0 * sum;
            }
        AssertRounded(expected, Read(output, Embed + ".weight"));
        Assert.Equal(head, Read(output, "lm_head.weight"));
    }

    [Fact]
    public async Task Dora_ScalesEachOutputRow_ByMagnitudeOverTheNormOfTheAdaptedRow()
    {
        await _fx.BaseAsync();
        int r = 2;
        var a = Values(r * Hidden, 17);
        var b = Values(Hidden * r, 18);
        var m = Values(Hidden, 19, 2).Select(x => x + 3).ToArray();
        var adapter = await _fx.AdapterAsync("dora", Config(r, 4, ("use_dora", true), ("target_modules", new[] { "q_proj" })),
            [($"{Q}.lora_A.weight", [r, Hidden], a), ($"{Q}.lora_B.weight", [Hidden, r], b), ($"{Q}.lora_magnitude_vector", [Hidden], m)]);
        var output = await MergeAlone(adapter);
        var adapted = LinearReference(BaseValues(Q + ".weight"), Hidden, Hidden, a, b, r, 2);
        AssertRounded(ScaleRows(adapted, Hidden, Hidden, m), Read(output, Q + ".weight"));
    }

    [Fact]
    public async Task Dora_OnFanInFanOutAndEmbeddings_ScalesTheStoredColumns()
    {
        await _fx.BaseAsync();
        int r = 2;
        var a = Values(r * Hidden, 20);
        var b = Values(Inter * r, 21);
        var m = Values(Inter, 22, 2).Select(x => x + 3).ToArray();
        var ea = Values(r * Vocab, 23);
        var eb = Values(Hidden * r, 24);
        var em = Values(Hidden, 25, 2).Select(x => x + 3).ToArray();
        var adapter = await _fx.AdapterAsync("dora-fif", Config(r, 2, ("use_dora", true), ("fan_in_fan_out", true), ("target_modules", new[] { "down_proj", "embed_tokens" })),
        [
            ("model.layers.0.mlp.down_proj.lora_A.weight", [r, Hidden], a), ("model.layers.0.mlp.down_proj.lora_B.weight", [Inter, r], b),
            ("model.layers.0.mlp.down_proj.lora_magnitude_vector", [Inter], m),
            ($"{Embed}.lora_embedding_A", [r, Vocab], ea), ($"{Embed}.lora_embedding_B", [Hidden, r], eb), ($"{Embed}.lora_magnitude_vector", [Hidden], em),
        ]);
        var output = await MergeAlone(adapter);

        var w = (double[])BaseValues("model.layers.0.mlp.down_proj.weight").Clone();
        for (int i = 0; i < Hidden; i++)
            for (int o = 0; o < Inter; o++)
                for (int k = 0; k < r; k++) w[i * Inter + o] += b[o * r + k] * a[k * Hidden + i];
        AssertRounded(ScaleColumns(w, Hidden, Inter, m), Read(output, "model.layers.0.mlp.down_proj.weight"));

        var e = (double[])BaseValues(Embed + ".weight").Clone();
        for (int v = 0; v < Vocab; v++)
            for (int d = 0; d < Hidden; d++)
                for (int k = 0; k < r; k++) e[v * Hidden + d] += eb[d * r + k] * ea[k * Vocab + v];
        AssertRounded(ScaleColumns(e, Vocab, Hidden, em), Read(output, Embed + ".weight"));
    }

    [Fact]
    public async Task LoraBias_AddsTheScaledBias_AndABf16BaseKeepsItsDtype_RoundedOnce()
    {
        await _fx.BaseAsync(dtype: Dtype.BF16);
        int r = 2;
        var a = Values(r * Hidden, 26);
        var b = Values(Hidden * r, 27);
        var bias = Values(Hidden, 28);
        var adapter = await _fx.AdapterAsync("bias", Config(r, 6, ("lora_bias", true), ("target_modules", new[] { "q_proj" })),
            [($"{Q}.lora_A.weight", [r, Hidden], a), ($"{Q}.lora_B.weight", [Hidden, r], b), ($"{Q}.lora_B.bias", [Hidden], bias)], Dtype.BF16);
        var output = await MergeAlone(adapter);
        AssertRounded(LinearReference(BaseValues(Q + ".weight"), Hidden, Hidden, a, b, r, 3), Read(output, Q + ".weight"), Dtype.BF16);
        AssertRounded(BaseValues(Q + ".bias").Zip(bias, (x, y) => x + 3 * y).ToArray(), Read(output, Q + ".bias"), Dtype.BF16);
        using var checkpoint = ModelCheckpoint.Open(output);
        Assert.True(checkpoint.TryGetTensor(Q + ".weight", out var info, out _));
        Assert.Equal(Dtype.BF16, info.Dtype);
    }

    [Fact]
    public async Task AnAdaptedModel_IsAnOrdinaryInput_OfAMethodWithABase()
    {
        await _fx.BaseAsync();
        int r = 2;
        var a = Values(r * Hidden, 29);
        var b = Values(Hidden * r, 30);
        await _fx.AdapterAsync("ta", Config(r, 2, ("target_modules", new[] { "q_proj" })),
            [($"{Q}.lora_A.weight", [r, Hidden], a), ($"{Q}.lora_B.weight", [Hidden, r], b)]);
        var path = _fx.PathOf("ta.yaml");
        File.WriteAllText(path, "merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: base+ta\n    parameters: {weight: 0.5}\n");
        var output = _fx.PathOf("out-ta");
        await MergeRunner.RunAsync(MergeRunner.LoadDefinition(path, out _), output, new MergeOptions());
        // base + 0.5 · ((base + ΔW) − base) = base + 0.5 · ΔW
        AssertRounded(LinearReference(BaseValues(Q + ".weight"), Hidden, Hidden, a, b, r, 0.5), Read(output, Q + ".weight"));
    }

    [Fact]
    public async Task AnAdaptedModelInsideAFusedStage_IsComputedWhenTheNextStageReadsIt()
    {
        await _fx.BaseAsync();
        int r = 2;
        var a = Values(r * Hidden, 31);
        var b = Values(Hidden * r, 32);
        await _fx.AdapterAsync("staged", Config(r, 2, ("target_modules", new[] { "q_proj" })),
            [($"{Q}.lora_A.weight", [r, Hidden], a), ($"{Q}.lora_B.weight", [Hidden, r], b)]);
        var path = _fx.PathOf("multi.yaml");
        File.WriteAllText(path, "name: adapted\nmerge_method: linear\nmodels:\n  - model: base+staged\n    parameters: {weight: 1.0}\n---\n"
            + "merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: adapted\n    parameters: {weight: 2.0}\n");
        var graph = MultiStageRunner.LoadStages(path, _fx.Root, out _);
        var output = _fx.PathOf("out-multi");
        await MultiStageRunner.RunAsync(graph, output, new MergeOptions(), new MultiStageOptions());
        // base + 2 · ((base + ΔW) − base), ΔW = 1 · B·A
        AssertRounded(LinearReference(BaseValues(Q + ".weight"), Hidden, Hidden, a, b, r, 2), Read(output, Q + ".weight"));
    }

    [Fact]
    public async Task ThePlan_ComputesAdaptedTensorsInTheReadStage_AndCountsTheAdapterBytes()
    {
        await _fx.BaseAsync();
        int r = 2;
        await _fx.AdapterAsync("plan", Config(r, 2, ("target_modules", new[] { "q_proj" })),
            [($"{Q}.lora_A.weight", [r, Hidden], Values(r * Hidden, 1)), ($"{Q}.lora_B.weight", [Hidden, r], Values(Hidden * r, 2))]);
        var path = _fx.PathOf("plan.yaml");
        File.WriteAllText(path, "merge_method: linear\nmodels:\n  - model: base+plan\n    parameters: {weight: 1.0}\n");
        using var plan = MergeRunner.Plan(MergeRunner.LoadDefinition(path, out _), new MergeOptions());
        var q = plan.Jobs.Single(j => j.OutputName == Q + ".weight").Inputs.Single();
        Assert.Null(q.File);
        Assert.NotNull(q.Adaptation);
        Assert.Equal(Hidden * Hidden * 4 + 2 * (r * Hidden * 4), q.BytesFromDisk);
        var down = plan.Jobs.Single(j => j.OutputName == "model.layers.0.mlp.down_proj.weight").Inputs.Single();
        Assert.Null(down.Adaptation);
        Assert.NotNull(down.File);
    }

    private async Task<PlanningException> PlanFails(string adapter, MergeOptions? options = null)
    {
        var path = _fx.PathOf("fail.yaml");
        File.WriteAllText(path, $"merge_method: linear\nmodels:\n  - model: base+{adapter}\n    parameters: {{weight: 1.0}}\n");
        var definition = MergeRunner.LoadDefinition(path, out _);
        await Task.Yield();
        return Assert.Throws<PlanningException>(() => MergeRunner.Plan(definition, options ?? new MergeOptions()).Dispose());
    }

    public static TheoryData<string, string> Mismatches => new()
    {
        // A is [r, in]: 5 columns against q_proj's 4 inputs.
        { "shape", "needs [r, 4] and [4, r]" },
        { "missing", "is not in the base model" },
        { "rank", "adapter_config.json gives r = 4" },
        { "dora", "use_dora is set but lora_magnitude_vector is missing" },
        { "conv", "convolution LoRA is not supported" },
        { "bias", "the base has no 'model.layers.0.mlp.up_proj.bias'" },
        { "untargeted", "target_modules in adapter_config.json does not select it" },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task AnAdapterThatDoesNotFit_IsAnErrorNamingTheFileAndModule_BeforeAnyTensorIsRead(string kind, string expected)
    {
        await _fx.BaseAsync();
        var (a, b) = kind switch
        {
            "shape" => (T($"{Q}.lora_A.weight", 2, 5, 1), T($"{Q}.lora_B.weight", Hidden, 2, 2)),
            "missing" => (T("model.layers.0.self_attn.k_proj.lora_A.weight", 2, Hidden, 1), T("model.layers.0.self_attn.k_proj.lora_B.weight", Hidden, 2, 2)),
            _ => (T($"{Q}.lora_A.weight", 2, Hidden, 1), T($"{Q}.lora_B.weight", Hidden, 2, 2)),
        };
        var tensors = new List<(string, long[], double[])> { a, b };
        var config = Config(kind == "rank" ? 4 : 2, 2);
        if (kind == "dora") config["use_dora"] = true;
        if (kind == "untargeted") config["target_modules"] = new[] { "v_proj" };
        if (kind == "missing") config["target_modules"] = new[] { "k_proj" };
        if (kind == "conv") tensors = [($"{Q}.lora_A.weight", [2, Hidden, 1, 1], Values(2 * Hidden, 1)), b];
        if (kind == "bias") tensors = [T($"{Up}.lora_A.weight", 2, Hidden, 1), T($"{Up}.lora_B.weight", Inter, 2, 2), V($"{Up}.lora_B.bias", Inter, 3)];
        var dir = await _fx.AdapterAsync("bad-" + kind, config, tensors);

        var e = await PlanFails("bad-" + kind);
        Assert.Contains(Path.Combine(dir, "adapter_model.safetensors"), e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains("DMRG0712", e.Message);
        Assert.Equal(MergeErrorKind.Input, e.Kind);
    }

    [Fact]
    public async Task AnAdapterForAnotherBase_IsAnError_OrAWarningWithAllowCrimes()
    {
        await _fx.BaseAsync();
        var config = Config(2, 2);
        config["base_model_name_or_path"] = "org/some-other-model";
        await _fx.AdapterAsync("other", config, [T($"{Q}.lora_A.weight", 2, Hidden, 1), T($"{Q}.lora_B.weight", Hidden, 2, 2)]);

        var e = await PlanFails("other");
        Assert.Contains("base_model_name_or_path is 'org/some-other-model'", e.Message);
        Assert.Contains("--allow-crimes", e.Message);

        var path = _fx.PathOf("fail.yaml");
        using var plan = MergeRunner.Plan(MergeRunner.LoadDefinition(path, out _), new MergeOptions { AllowCrimes = true });
        Assert.Contains(plan.Warnings, w => w.Contains("org/some-other-model", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("peft_type", "\"IA3\"", "only LoRA adapters")]
    [InlineData("init_lora_weights", "\"pissa\"", "rewrites the base weights")]
    [InlineData("layer_replication", "[[0, 1]]", "'layer_replication' is set")]
    [InlineData("r", "0", "'r' is 0")]
    [InlineData("lora_alpha", "\"big\"", "'lora_alpha' must be a number")]
    public async Task AConfigThatCannotBeAppliedExactly_IsRefused_WithTheConfigFileNamed(string key, string json, string expected)
    {
        await _fx.BaseAsync();
        var dir = await _fx.AdapterAsync("cfg", Config(2, 2), [T($"{Q}.lora_A.weight", 2, Hidden, 1), T($"{Q}.lora_B.weight", Hidden, 2, 2)]);
        var configPath = Path.Combine(dir, "adapter_config.json");
        var text = File.ReadAllText(configPath).TrimEnd('}');
        File.WriteAllText(configPath, text.Contains($"\"{key}\":", StringComparison.Ordinal)
            ? System.Text.RegularExpressions.Regex.Replace(text + "}", $"\"{key}\":[^,}}]*", $"\"{key}\":{json}")
            : text + $",\"{key}\":{json}}}");
        var e = await PlanFails("cfg");
        Assert.Contains(configPath, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task AnAdapterWithOnlyABinFile_IsRefusedWithAHint()
    {
        await _fx.BaseAsync();
        var dir = _fx.PathOf("binonly");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":2}");
        File.WriteAllBytes(Path.Combine(dir, "adapter_model.bin"), [0x50, 0x4B]);
        var e = await PlanFails("binonly");
        Assert.Contains("no adapter_model.safetensors", e.Message);
        Assert.Contains("safe_serialization=True", e.Message);
    }
}
