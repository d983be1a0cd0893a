namespace DotnetMerge.Definitions.Tests;

public class PrecedenceTests
{
    private static readonly MethodDescriptor Ties = MethodCatalog.Find("ties")!;

    private static readonly string Yaml = TestYaml.Lines(
        "merge_method: ties",
        "base_model: base",
        "slices:",
        "  - sources:",
        "      - model: a",
        "        layer_range: [0, 4]",
        "        parameters:",
        "          weight: [{filter: mlp, value: 0.9}]",
        "          normalize: false", // method-wide: must not be read from a source
        "      - model: b",
        "        layer_range: [4, 8]",
        "      - model: base",
        "        layer_range: [0, 4]",
        "    parameters:",
        "      weight: [{filter: self_attn, value: 0.5}]",
        "      density: 0.7",
        "parameters:",
        "  weight: 0.1",
        "  density: [0, 1]",
        "  lambda: [{filter: embed, value: 2}]");

    private static object? Resolve(string parameter, int sourceIndex, string tensor, double t = 0)
    {
        var d = TestYaml.Definition(Yaml);
        var slice = d.Slices![0];
        var source = sourceIndex < 0 ? null : slice.Sources[sourceIndex];
        return ParameterResolver.Resolve(d, Ties, Ties.FindParameter(parameter)!, slice, source, tensor, t);
    }

    [Fact]
    public void Source_level_wins_when_its_filter_matches()
        => Assert.Equal(0.9, Resolve("weight", 0, "model.layers.1.mlp.up_proj.weight"));

    [Fact]
    public void Unmatched_source_filter_falls_through_to_the_slice()
        => Assert.Equal(0.5, Resolve("weight", 0, "model.layers.1.self_attn.q_proj.weight"));

    [Fact]
    public void Unmatched_slice_filter_falls_through_to_the_top_level()
        => Assert.Equal(0.1, Resolve("weight", 0, "model.layers.1.input_layernorm.weight"));

    [Fact]
    public void Slice_level_overrides_top_level_for_every_source()
    {
        Assert.Equal(0.7, Resolve("density", 1, "model.layers.5.mlp.up_proj.weight", 0.5));
        Assert.Equal(0.5, Resolve("weight", 1, "model.layers.5.self_attn.k_proj.weight"));
    }

    [Fact]
    public void Method_wide_parameters_ignore_source_parameters()
        => Assert.Equal(true, Resolve("normalize", 0, "model.layers.0.mlp.up_proj.weight")); // ties default, not the source's false

    [Fact]
    public void Unset_parameter_falls_back_to_the_default_or_null()
    {
        Assert.Equal(2.0, Resolve("lambda", -1, "model.embed_tokens.weight"));
        Assert.Equal(1.0, Resolve("lambda", -1, "model.layers.0.mlp.up_proj.weight")); // filter misses -> default 1.0
        var d = TestYaml.Definition(TestYaml.Lines("merge_method: ties", "models:", "  - model: a"));
        var slice = DefinitionNormalizer.ToSlices(d, _ => 2)[0];
        Assert.Null(ParameterResolver.Resolve(d, Ties, Ties.FindParameter("weight")!, slice, slice.Sources[0], "x", 0));
    }

    [Fact]
    public void Top_level_gradient_is_evaluated_at_the_given_position()
        => Assert.Equal(0.25, (double)TestYaml.Definition(Yaml).Parameters["density"].Evaluate("x", 0.25)!, 12);

    [Fact]
    public void Models_syntax_puts_model_parameters_at_the_source_level_and_appends_the_base()
    {
        var d = TestYaml.Definition(TestYaml.Lines(
            "merge_method: ties",
            "base_model: base",
            "models:",
            "  - model: a",
            "    parameters: {weight: 0.3}",
            "  - model: b",
            "parameters: {weight: 0.8}"));
        var counts = new Dictionary<string, int> { ["a"] = 32, ["b"] = 32, ["base"] = 32 };
        var slices = DefinitionNormalizer.ToSlices(d, m => counts[m.Path]);
        var slice = Assert.Single(slices);
        Assert.Equal(new[] { "a", "b", "base" }, slice.Sources.Select(s => s.Model.Path));
        Assert.All(slice.Sources, s => Assert.Equal((0, 32), (s.LayerStart, s.LayerEnd)));
        Assert.Empty(slice.Sources[2].Parameters);
        var weight = Ties.FindParameter("weight")!;
        Assert.Equal(0.3, ParameterResolver.Resolve(d, Ties, weight, slice, slice.Sources[0], "x", 0));
        Assert.Equal(0.8, ParameterResolver.Resolve(d, Ties, weight, slice, slice.Sources[1], "x", 0));
    }

    [Fact]
    public void Base_listed_among_models_is_not_added_twice_and_slices_do_not_get_the_base()
    {
        var d = TestYaml.Definition(TestYaml.Lines("merge_method: ties", "base_model: a", "models:", "  - model: a", "  - model: b"));
        Assert.Equal(2, DefinitionNormalizer.ToSlices(d, _ => 4)[0].Sources.Count);
        var s = TestYaml.Definition(TestYaml.Lines("merge_method: ties", "base_model: base", "slices:",
            "  - sources: [{model: a, layer_range: [0, 2]}]",
            "    base_model: other"));
        var slice = Assert.Single(DefinitionNormalizer.ToSlices(s, _ => throw new InvalidOperationException()));
        Assert.Single(slice.Sources);
        Assert.Equal("other", DefinitionNormalizer.EffectiveBaseModel(s, slice)!.Path);
    }
}
