namespace DotnetMerge.Definitions.Tests;

public class ParserTests
{
    private static string L(params string[] lines) => TestYaml.Lines(lines);

    [Fact]
    public void Ties_example_with_gradients_and_a_conditional_weight()
    {
        var yaml = L(
            "models:",
            "  - model: psmathur/orca_mini_v3_13b",
            "    parameters: {density: [1, 0.7, 0.1], weight: 1.0}",
            "  - model: garage-bAInd/Platypus2-13B",
            "    parameters: {density: 0.5, weight: [0, 0.3, 0.7, 1]}",
            "  - model: WizardLM/WizardMath-13B-V1.0",
            "    parameters:",
            "      density: 0.33",
            "      weight: [{filter: mlp, value: 0.5}, {value: 0}]",
            "merge_method: ties",
            "base_model: TheBloke/Llama-2-13B-fp16",
            "parameters: {normalize: true, int8_mask: true}",
            "dtype: float16");
        var result = TestYaml.Load(yaml);
        Assert.Equal(new[] { "DMRG0310" }, result.Diagnostics.Select(d => d.Id)); // int8_mask: info only
        var d = result.Definition!;
        Assert.Equal("ties", d.MergeMethod);
        Assert.Equal((10, 15), (d.MergeMethodLocation.Line, d.MergeMethodLocation.Column));
        Assert.Equal("TheBloke/Llama-2-13B-fp16", d.BaseModel!.Path);
        Assert.Equal((11, 13), (d.BaseModel.Location.Line, d.BaseModel.Location.Column));
        Assert.Equal("float16", d.Dtype);
        Assert.Null(d.Slices);
        Assert.Equal(3, d.Models!.Count);
        Assert.Equal(new[] { "psmathur/orca_mini_v3_13b", "garage-bAInd/Platypus2-13B", "WizardLM/WizardMath-13B-V1.0" },
            d.Models.Select(m => m.Model.ToString()));
        var density0 = Assert.IsType<GradientSetting>(d.Models[0].Parameters["density"]);
        Assert.Equal(new[] { 1, 0.7, 0.1 }, density0.Values);
        Assert.Equal(1.0, Assert.IsType<ScalarSetting>(d.Models[0].Parameters["weight"]).Value);
        Assert.Equal(new[] { 0, 0.3, 0.7, 1 }, Assert.IsType<GradientSetting>(d.Models[1].Parameters["weight"]).Values);
        var weight2 = Assert.IsType<ConditionalSetting>(d.Models[2].Parameters["weight"]);
        Assert.Equal(new[] { "mlp", null }, weight2.Entries.Select(e => e.Filter));
        Assert.Equal(0.5, weight2.Evaluate("model.layers.0.mlp.up_proj.weight", 0));
        Assert.Equal(0.0, weight2.Evaluate("model.layers.0.self_attn.v_proj.weight", 0));
        Assert.Equal((9, 7), (d.Models[2].Parameters.GetKeyLocation("weight").Line, d.Models[2].Parameters.GetKeyLocation("weight").Column));
        Assert.Equal(true, d.Parameters["normalize"].Evaluate("x", 0));
    }

    [Fact]
    public void Gradient_slerp_example_with_per_filter_gradients()
    {
        var yaml = L(
            "slices:",
            "  - sources:",
            "      - {model: psmathur/orca_mini_v3_13b, layer_range: [0, 40]}",
            "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}",
            "merge_method: slerp",
            "base_model: psmathur/orca_mini_v3_13b",
            "parameters:",
            "  t:",
            "    - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}",
            "    - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}",
            "    - {value: 0.5}");
        var result = TestYaml.Load(yaml);
        Assert.Empty(result.Diagnostics);
        var d = result.Definition!;
        var slice = Assert.Single(d.Slices!);
        Assert.Equal(2, slice.Sources.Count);
        Assert.All(slice.Sources, s => Assert.Equal((0, 40, 40), (s.LayerStart, s.LayerEnd, s.LayerCount)));
        Assert.Equal((3, 9), (slice.Sources[0].Location.Line, slice.Sources[0].Location.Column));
        var t = Assert.IsType<ConditionalSetting>(d.Parameters["t"]);
        Assert.Equal(3, t.Entries.Count);
        Assert.True(t.HasCatchAll);
        // layer 13 of 40: t = 13/39 = 1/3 -> s = 4/3 on the mlp gradient: (2/3)·0.5 + (1/3)·0.7
        var position = ParameterResolver.LayerPosition(13, 40);
        Assert.Equal(0.5 * 2 / 3 + 0.7 / 3, (double)t.Evaluate("model.layers.13.mlp.up_proj.weight", position)!, 12);
        Assert.Equal(0.5, t.Evaluate("model.layers.13.input_layernorm.weight", position));
        Assert.Equal(0.0, t.Evaluate("model.layers.0.self_attn.q_proj.weight", 0));
    }

    [Fact]
    public void Passthrough_layer_stacking_example()
    {
        var yaml = L(
            "slices:",
            "  - sources: [{model: psmathur/orca_mini_v3_13b, layer_range: [0, 24]}]",
            "  - sources: [{model: garage-bAInd/Platypus2-13B, layer_range: [20, 40]}]",
            "merge_method: passthrough");
        var result = TestYaml.Load(yaml);
        Assert.Empty(result.Diagnostics);
        var slices = result.Definition!.Slices!;
        Assert.Equal(2, slices.Count);
        Assert.Equal(44, slices.Sum(s => s.Sources[0].LayerCount));
        Assert.Equal((20, 40), (slices[1].Sources[0].LayerStart, slices[1].Sources[0].LayerEnd));
        Assert.Same(slices, DefinitionNormalizer.ToSlices(result.Definition, _ => throw new InvalidOperationException()));
    }

    [Theory]
    [InlineData("org/model", "org/model", null, null, null)]
    [InlineData("org/model@main", "org/model", "main", null, null)]
    [InlineData("./local/dir", "./local/dir", null, null, null)]
    [InlineData("org/model@v2+org/lora@r1", "org/model", "v2", "org/lora", "r1")]
    [InlineData("org/model+org/lora", "org/model", null, "org/lora", null)]
    public void Model_reference_string_form(string text, string path, string? revision, string? lora, string? loraRevision)
    {
        var r = ModelReference.Parse(text);
        Assert.Equal((path, revision, lora, loraRevision), (r.Path, r.Revision, r.LoraPath, r.LoraRevision));
        Assert.Equal(text, r.ToString());
        Assert.Equal(new ModelReference(path, revision, lora, loraRevision), r);
        Assert.Equal(r.GetHashCode(), new ModelReference(path, revision, lora, loraRevision).GetHashCode());
    }

    [Theory]
    [InlineData("a+b+c")]
    [InlineData("a@1@2")]
    [InlineData("@main")]
    [InlineData("")]
    [InlineData("a@")]
    public void Malformed_model_references_are_rejected(string text)
    {
        Assert.False(ModelReference.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Model_reference_dict_form_equals_the_string_form()
    {
        var d = TestYaml.Definition(L(
            "merge_method: linear",
            "base_model: {model: {path: org/base, revision: main}}",
            "models:",
            "  - model: {model: {path: org/a}}",
            "  - model: org/b@dev"));
        Assert.Equal(ModelReference.Parse("org/base@main"), d.BaseModel);
        Assert.Equal("org/a", d.Models![0].Model.ToString());
        Assert.NotEqual(ModelReference.Parse("org/b"), d.Models[1].Model);
        Assert.Equal(3, d.AllModels().Count);
    }

    [Fact]
    public void LoRA_references_in_both_forms_are_inputs_without_diagnostics()
    {
        var result = TestYaml.Load(L(
            "merge_method: linear",
            "models:",
            "  - model: org/a+./adapters/math",
            "    parameters: {weight: 1}",
            "  - model: {model: org/a, lora: {path: ./adapters/code, revision: r1}}",
            "    parameters: {weight: 1}"));
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity != DiagnosticSeverity.Info);
        var models = result.Definition!.Models!;
        Assert.Equal(("org/a", "./adapters/math"), (models[0].Model.Path, models[0].Model.LoraPath));
        Assert.Equal(("org/a", "./adapters/code", "r1"), (models[1].Model.Path, models[1].Model.LoraPath, models[1].Model.LoraRevision));
    }

    [Fact]
    public void Top_level_scalars_and_extensions()
    {
        var d = TestYaml.Definition(L(
            "merge_method: linear",
            "models: [{model: a, parameters: {weight: 1}}]",
            "dtype: torch.float32",
            "out_dtype: bfloat16",
            "tokenizer_source: union",
            "chat_template: auto",
            "seed: 18446744073709551615"));
        Assert.Equal(("float32", "bfloat16", "union", "auto"), (d.Dtype, d.OutDtype, d.TokenizerSource, d.ChatTemplate));
        Assert.Equal(ulong.MaxValue, d.Seed);
        Assert.Equal((7, 7), (d.SeedLocation.Line, d.SeedLocation.Column));
    }

    [Fact]
    public void Quoted_numbers_stay_strings_and_nulls_fall_through()
    {
        var d = TestYaml.Definition(L("parameters:", "  a: \"1\"", "  b: ~", "  c:"));
        Assert.Equal("1", d.Parameters["a"].Evaluate("x", 0));
        Assert.Null(d.Parameters["b"].Evaluate("x", 0));
        Assert.Null(d.Parameters["c"].Evaluate("x", 0));
    }

    [Fact]
    public void Syntax_errors_give_no_definition()
    {
        var result = DefinitionParser.Parse("merge_method: [linear\n", "m.yaml");
        Assert.Null(result.Definition);
        Assert.True(result.HasErrors);
        Assert.Equal("DMRG0001", Assert.Single(result.Diagnostics).Id);
    }
}
