using DotnetMerge.Definitions;
using DotnetMerge.Moe;

namespace DotnetMerge.Tests.Moe;

/// <summary>The moe config is read with every problem located at file(line,col) and its DMRG id, before any model is opened.</summary>
public sealed class MoeConfigReaderTests
{
    private static IReadOnlyList<DefinitionDiagnostic> Read(string yaml, out MoeConfig? config, bool allowIdentical = false)
    {
        config = MoeConfigReader.Read(yaml, "moe.yml", allowIdentical, out var diagnostics);
        return diagnostics;
    }

    private static DefinitionDiagnostic Single(string yaml, string id)
    {
        var diagnostics = Read(yaml, out var config);
        Assert.Null(config);
        var error = Assert.Single(diagnostics, d => d.IsError);
        Assert.Equal(id, error.Id);
        return error;
    }

    private const string TwoExperts = "experts:\n  - source_model: a\n    positive_prompts: [\"math\"]\n  - source_model: b\n    positive_prompts: [\"code\"]\n";

    [Fact]
    public void A_full_config_reads_every_key()
    {
        var diagnostics = Read("base_model: org/base@main\ngate_mode: cheap_embed\ndtype: bfloat16\nexperts_per_token: 1\narchitecture: qwen\n" +
            "experts:\n  - source_model: a\n    positive_prompts: [\"math\", \"sums\"]\n    negative_prompts: [\"poems\"]\n    noise_scale: 0.01\n    residual_scale: 0.5\n" +
            "  - source_model: b\n    positive_prompts: [\"code\"]\nshared_experts:\n  - source_model: org/base\n    positive_prompts: [\"anything\"]\n", out var config);
        Assert.Empty(diagnostics);
        Assert.NotNull(config);
        Assert.Equal("org/base", config.BaseModel.Path);
        Assert.Equal("main", config.BaseModel.Revision);
        Assert.Equal(MoeGateMode.CheapEmbed, config.GateMode);
        Assert.Equal(DotnetMerge.Numerics.Dtype.BF16, config.Dtype);
        Assert.Equal(1, config.ExpertsPerToken);
        Assert.Equal(MoeArchitecture.Qwen2Moe, config.Architecture);
        Assert.Equal(["math", "sums"], config.Experts[0].PositivePrompts);
        Assert.Equal(["poems"], config.Experts[0].NegativePrompts);
        Assert.Equal(0.01, config.Experts[0].NoiseScale);
        Assert.Equal(0.5, config.Experts[0].ResidualScale);
        Assert.Equal("org/base", Assert.Single(config.SharedExperts).Model.Path);
        Assert.Equal(new SourceLocation("moe.yml", 7, 19), config.Experts[0].Model.Location);
    }

    [Fact]
    public void Models_take_a_lora_adapter_in_the_string_and_the_mapping_form_as_merge_definitions_do()
    {
        var diagnostics = Read("base_model: org/base+./adapters/base@v2\ngate_mode: random\nexperts:\n  - source_model: org/base+./adapters/math\n" +
            "  - source_model:\n      model: {path: org/base, revision: main}\n      lora: {path: ./adapters/code}\n", out var config);
        Assert.Empty(diagnostics);
        Assert.Equal(("org/base", "./adapters/base", "v2"), (config!.BaseModel.Path, config.BaseModel.LoraPath, config.BaseModel.LoraRevision));
        Assert.Equal("./adapters/math", config.Experts[0].Model.LoraPath);
        var mapped = config.Experts[1].Model;
        Assert.Equal(("org/base", "main", "./adapters/code"), (mapped.Path, mapped.Revision, mapped.LoraPath));
        Assert.Equal(new SourceLocation("moe.yml", 6, 7), mapped.Location);

        // The mapping's own errors, located: no 'model' (a required key), and an unknown key with "did you mean".
        var missing = Read("base_model: base\ngate_mode: random\nexperts:\n  - source_model:\n      lora: ./a\n  - source_model: b\n", out config);
        Assert.Null(config);
        Assert.Contains(missing, d => d.IsError && d.Location == new SourceLocation("moe.yml", 5, 7) && d.Message.Contains("model", StringComparison.Ordinal));
        var unknown = Read("base_model:\n  model: base\n  loar: ./a\ngate_mode: random\n" + TwoExperts, out _);
        Assert.Contains(unknown, d => d.Location == new SourceLocation("moe.yml", 3, 3) && (d.Hint ?? "").Contains("lora", StringComparison.Ordinal));
    }

    [Fact]
    public void Defaults_are_mergekits_two_experts_per_token_and_gate_mode_hidden()
    {
        Assert.Empty(Read("base_model: base\n" + TwoExperts, out var config));
        Assert.Equal(MoeGateMode.Hidden, config!.GateMode);
        Assert.Equal(2, config.ExpertsPerToken);
        Assert.Null(config.Architecture);
        Read("base_model: base\ngate_mode: hidden_avg\n" + TwoExperts, out config);
        Assert.Equal(MoeGateMode.HiddenAverage, config!.GateMode);
        Read("base_model: base\ngate_mode: hidden_last\n" + TwoExperts, out config);
        Assert.Equal(MoeGateMode.Hidden, config!.GateMode);
    }

    [Theory]
    [InlineData("gate_mode: hiddn\n", "DMRG0944", 2, 12)]
    [InlineData("gate_mode: cheap_embeds\n", "DMRG0944", 2, 12)]
    [InlineData("gate_mode: random\nexperts_per_token: 0\n", "DMRG0943", 3, 20)]
    [InlineData("gate_mode: random\nexperts_per_token: 1.5\n", "DMRG0943", 3, 20)]
    [InlineData("gate_mode: random\nexperts_per_token: 3\n", "DMRG0943", 3, 20)]
    [InlineData("gate_mode: random\nexperts_per_token: .inf\n", "DMRG0943", 3, 20)]
    [InlineData("gate_mode: random\ndtype: int8\n", "DMRG0501", 3, 8)]
    [InlineData("gate_mode: random\narchitecture: qwen3_moe\nshared_experts:\n  - source_model: s\n", "DMRG0945", 3, 15)]
    [InlineData("gate_mode: random\narchitecture: gpt2\n", "DMRG0945", 3, 15)]
    [InlineData("gate_mode: random\narchitecture: qwen\n", "DMRG0945", 3, 15)]
    public void Bad_values_are_located(string extra, string id, int line, int column)
    {
        var error = Single("base_model: base\n" + extra + TwoExperts, id);
        Assert.Equal(new SourceLocation("moe.yml", line, column), error.Location);
    }

    [Fact]
    public void A_near_miss_gate_mode_says_did_you_mean()
        => Assert.Contains("did you mean 'cheap_embed'", Single("base_model: base\ngate_mode: cheap_embeds\n" + TwoExperts, "DMRG0944").Hint, StringComparison.Ordinal);

    [Fact]
    public void Expert_problems_are_located_at_the_expert()
    {
        Assert.Equal(new SourceLocation("moe.yml", 4, 5), Single("base_model: base\ngate_mode: random\nexperts:\n  - positive_prompts: [x]\n", "DMRG0941").Location);
        Assert.Equal(new SourceLocation("moe.yml", 5, 18),
            Single("base_model: base\ngate_mode: random\nexperts:\n  - source_model: a\n    noise_scale: -1\n", "DMRG0943").Location);
        Assert.Equal(new SourceLocation("moe.yml", 5, 23),
            Single("base_model: base\ngate_mode: random\nexperts:\n  - source_model: a\n    positive_prompts: math\n", "DMRG0940").Location);
        Assert.Equal(new SourceLocation("moe.yml", 4, 19),
            Single("base_model: base\ngate_mode: random\nexperts:\n  - source_model: a++b\n", "DMRG0107").Location);
        Assert.Equal(new SourceLocation("moe.yml", 3, 1), Single("base_model: base\ngate_mode: random\nexperts: []\n", "DMRG0941").Location);
    }

    [Fact]
    public void Cheap_embed_needs_prompts_for_every_expert_and_different_ones()
    {
        var missing = Single("base_model: base\ngate_mode: cheap_embed\nexperts:\n  - source_model: a\n    positive_prompts: [x]\n  - source_model: b\n", "DMRG0946");
        Assert.Equal(new SourceLocation("moe.yml", 6, 5), missing.Location);
        Single("base_model: base\ngate_mode: cheap_embed\nexperts:\n  - source_model: a\n    positive_prompts: [x]\n  - source_model: b\n    positive_prompts: [x]\n", "DMRG0946");
    }

    [Fact]
    public void Every_expert_the_same_model_needs_mergekits_flag()
    {
        const string yaml = "base_model: base\ngate_mode: random\nexperts:\n  - source_model: a\n  - source_model: a\n";
        Assert.Contains("--i-understand-this-is-not-useful-without-training", Single(yaml, "DMRG0947").Hint, StringComparison.Ordinal);
        Assert.Empty(Read(yaml, out var config, allowIdentical: true));
        Assert.NotNull(config);
    }

    [Fact]
    public void Missing_keys_unknown_keys_and_yaml_errors()
    {
        var diagnostics = Read("gate_mode: random\nbase_modle: x\n", out var config);
        Assert.Null(config);
        Assert.Contains(diagnostics, d => d is { Id: "DMRG0941", IsError: true } && d.Message.Contains("base_model", StringComparison.Ordinal));
        Assert.Contains(diagnostics, d => d is { Id: "DMRG0941", IsError: true } && d.Message.Contains("experts", StringComparison.Ordinal));
        var unknown = Assert.Single(diagnostics, d => d.Id == "DMRG0942");
        Assert.False(unknown.IsError);
        Assert.Equal(new SourceLocation("moe.yml", 2, 1), unknown.Location);
        Assert.Contains("did you mean 'base_model'", unknown.Hint, StringComparison.Ordinal);
        Assert.Equal("DMRG0001", Assert.Single(Read("base_model: [a\n", out _)).Id);
        Assert.Equal("DMRG0005", Assert.Single(Read("base_model: a\nbase_model: b\n", out _)).Id);
        Assert.Equal("DMRG0941", Assert.Single(Read("", out _)).Id);
        Assert.Equal("DMRG0940", Assert.Single(Read("- a\n", out _)).Id);
    }

    [Fact]
    public void Mixtral_with_a_shared_expert_and_two_shared_experts_are_architecture_errors()
    {
        Single("base_model: base\ngate_mode: random\narchitecture: mixtral\nshared_experts:\n  - source_model: s\n" + TwoExperts, "DMRG0945");
        var diagnostics = Read("base_model: base\ngate_mode: random\nshared_experts:\n  - source_model: s\n  - source_model: t\n" + TwoExperts, out _);
        Assert.Contains(diagnostics, d => d.Id == "DMRG0945" && d.Location.Line == 4);
    }
}
