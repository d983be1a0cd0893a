using System.Text.Json;
using DotnetMerge.Numerics;
using static DotnetMerge.Tests.Moe.MoeFixture;

namespace DotnetMerge.Tests.Moe;

/// <summary>Experts and base given as <c>model+adapter</c> (or <c>{model, lora}</c>): the tensors written are the
/// LoRA-adapted ones, checked against W + (alpha/r)·B·A computed here in float64 and rounded as PEFT's
/// merge_and_unload keeps the dtype (float32, then bf16).</summary>
public sealed partial class MoeBuildTests
{
    private const int Rank = 2;
    private const double Alpha = 4; // scale alpha / r = 2

    /// <summary>Deterministic float32-exact factor values, different per tensor.</summary>
    private static double[] Factor(long count, int seed)
        => Enumerable.Range(0, (int)count).Select(i => ((i * 7 + seed * 5) % 13 - 6) / 32.0).ToArray();

    /// <summary>A PEFT adapter of the base in <paramref name="name"/>: rank-2 lora_A/lora_B (float32) for each
    /// module (its weight's [out, in]).</summary>
    private async Task<Dictionary<string, (double[] A, double[] B, long Out, long In)>> WriteAdapterAsync(string name, params (string Module, long Out, long In)[] modules)
    {
        var dir = _fx.PathOf(name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA", ["r"] = Rank, ["lora_alpha"] = Alpha, ["task_type"] = "CAUSAL_LM", ["base_model_name_or_path"] = "base",
            ["target_modules"] = modules.Select(m => m.Module[(m.Module.LastIndexOf('.') + 1)..]).Distinct().ToArray(),
        }));
        var factors = new Dictionary<string, (double[] A, double[] B, long Out, long In)>();
        var tensors = new List<(string, long[], double[])>();
        int seed = 1;
        foreach (var (module, outDim, inDim) in modules)
        {
            var a = Factor(Rank * inDim, seed++);
            var b = Factor(outDim * Rank, seed++);
            factors[module] = (a, b, outDim, inDim);
            tensors.Add(("base_model.model." + module + ".lora_A.weight", [Rank, inDim], a));
            tensors.Add(("base_model.model." + module + ".lora_B.weight", [outDim, Rank], b));
        }
        await Adapters.AdapterFixture.WriteAsync(Path.Combine(dir, "adapter_model.safetensors"), tensors, Dtype.F32);
        return factors;
    }

    /// <summary>W + s·B·A in float64 from the stored bf16 W, rounded to float32 and then bf16 (nearest-even), decoded.</summary>
    private static double[] Adapted(byte[] stored, (double[] A, double[] B, long Out, long In) f)
    {
        var w = Bf16(stored);
        var result = new double[w.Length];
        for (long o = 0; o < f.Out; o++)
            for (long i = 0; i < f.In; i++)
            {
                double delta = 0;
                for (int k = 0; k < Rank; k++) delta += f.B[o * Rank + k] * f.A[k * f.In + i];
                result[o * f.In + i] = w[o * f.In + i] + Alpha / Rank * delta;
            }
        return Bf16(Adapters.AdapterFixture.Encode(result, Dtype.BF16));
    }

    [Fact]
    public async Task An_expert_given_as_model_plus_lora_is_the_adapted_MLP_and_a_base_with_lora_its_adapted_attention()
    {
        await _fx.WriteModelsAsync(2);
        var mlp = await WriteAdapterAsync("lora-mlp", ("model.layers.0.mlp.gate_proj", Inter, Hidden), ("model.layers.1.mlp.down_proj", Hidden, Inter));
        var attention = await WriteAdapterAsync("lora-attn", ("model.layers.1.self_attn.o_proj", Hidden, Hidden));
        var yaml = $"""
            base_model:
              model: {_fx.PathOf("base")}
              lora: {_fx.PathOf("lora-attn")}
            gate_mode: random
            experts:
              - source_model: {_fx.PathOf("e0")}
              - source_model: {_fx.PathOf("base")}+{_fx.PathOf("lora-mlp")}
            """;
        await _fx.BuildAsync(yaml);
        var output = ReadAll(_fx.PathOf("out"));
        var dense = ReadAll(_fx.PathOf("base"));

        void AssertAdapted(string from, string to, (double[] A, double[] B, long Out, long In) factors)
        {
            var expected = Adapted(dense[from].Bytes, factors);
            var got = Bf16(output[to].Bytes);
            Assert.Equal(expected.Length, got.Length);
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - expected[i]) <= Math.Abs(expected[i]) / 256, $"{to} element {i}: {got[i]} vs {expected[i]}");
            Assert.NotEqual(dense[from].Bytes, output[to].Bytes); // the delta changed it
        }
        AssertAdapted("model.layers.0.mlp.gate_proj.weight", "model.layers.0.block_sparse_moe.experts.1.w1.weight", mlp["model.layers.0.mlp.gate_proj"]);
        AssertAdapted("model.layers.1.mlp.down_proj.weight", "model.layers.1.block_sparse_moe.experts.1.w2.weight", mlp["model.layers.1.mlp.down_proj"]);
        AssertAdapted("model.layers.1.self_attn.o_proj.weight", "model.layers.1.self_attn.o_proj.weight", attention["model.layers.1.self_attn.o_proj"]);
        // What the adapters do not touch is the stored tensor, byte for byte.
        Assert.Equal(dense["model.layers.0.mlp.up_proj.weight"].Bytes, output["model.layers.0.block_sparse_moe.experts.1.w3.weight"].Bytes);
        Assert.Equal(dense["model.layers.0.self_attn.o_proj.weight"].Bytes, output["model.layers.0.self_attn.o_proj.weight"].Bytes);
        Assert.Equal(ReadAll(_fx.PathOf("e0"))["model.layers.0.mlp.gate_proj.weight"].Bytes, output["model.layers.0.block_sparse_moe.experts.0.w1.weight"].Bytes);
    }

    [Fact]
    public async Task An_adapter_that_does_not_fit_its_model_is_an_input_error_naming_it_and_writes_nothing()
    {
        await _fx.WriteModelsAsync(2);
        await WriteAdapterAsync("lora-wide", ("model.layers.0.mlp.gate_proj", Inter + 1, Hidden));
        var yaml = Yaml("random", 1) + $"  - source_model: {_fx.PathOf("base")}+{_fx.PathOf("lora-wide")}\n";
        var e = await Assert.ThrowsAsync<DotnetMerge.Engine.MergeException>(() => _fx.BuildAsync(yaml));
        Assert.Equal(DotnetMerge.Engine.MergeErrorKind.Input, e.Kind);
        Assert.Contains("lora-wide", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.layers.0.mlp.gate_proj", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_fx.PathOf("out")));
    }

    [Fact]
    public async Task An_adapter_made_for_another_base_is_DMRG0704_unless_crimes_are_allowed_then_a_warning()
    {
        await _fx.WriteModelsAsync(2);
        await WriteAdapterAsync("lora-mlp", ("model.layers.0.mlp.up_proj", Inter, Hidden)); // names "base"; applied to e1 here
        var yaml = Yaml("random", 1) + $"  - source_model: {_fx.PathOf("e1")}+{_fx.PathOf("lora-mlp")}\n";
        var e = await Assert.ThrowsAsync<DotnetMerge.Engine.MergeException>(() => _fx.BuildAsync(yaml));
        Assert.Equal("DMRG0704", e.Id);
        Assert.Contains("--allow-crimes", e.Message, StringComparison.Ordinal);
        var (_, progress) = await _fx.BuildAsync(yaml, options: new DotnetMerge.Engine.MergeOptions { AllowCrimes = true });
        Assert.Contains(progress.Warnings, w => w.Contains("warning DMRG0704", StringComparison.Ordinal));
        Assert.NotEqual(ReadAll(_fx.PathOf("e1"))["model.layers.0.mlp.up_proj.weight"].Bytes,
            ReadAll(_fx.PathOf("out"))["model.layers.0.block_sparse_moe.experts.1.w3.weight"].Bytes);
    }
}
