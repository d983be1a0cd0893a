namespace DotnetMerge.Definitions.Tests;

/// <summary><c>modules:</c> (mergekit's multi-module syntax): parsed with locations, checked module by module, resolved with
/// the module's parameters between the slice's and the top level's, and written back.</summary>
public class ModulesTests
{
    private static string L(params string[] lines) => TestYaml.Lines(lines);

    private static readonly MethodDescriptor Linear = MethodCatalog.Find("linear")!;

    private static readonly string Yaml = L(
        "merge_method: linear",
        "modules:",
        "  text_decoder:",
        "    models:",
        "      - model: org/a",
        "        parameters: {weight: 0.25}",
        "      - model: org/b",
        "    parameters:",
        "      weight: [{filter: mlp, value: 0.5}]",
        "  vision_tower:",
        "    slices:",
        "      - sources:",
        "          - {model: org/a, layer_range: [0, 2]}",
        "          - {model: org/b, layer_range: [1, 3], parameters: {weight: 0.9}}",
        "        parameters: {weight: [{filter: attn, value: 0.6}]}",
        "    parameters: {weight: 0.3, normalize: false}",
        "parameters:",
        "  weight: 0.1",
        "dtype: float32");

    [Fact]
    public void Parses_each_module_with_its_inputs_parameters_and_locations()
    {
        var result = TestYaml.Load(Yaml);
        Assert.DoesNotContain(result.Diagnostics, d => d.IsError);
        var d = result.Definition!;
        Assert.True(d.UsesModules);
        Assert.Null(d.Models);
        Assert.Null(d.Slices);
        Assert.Equal((2, 1), (d.ModulesLocation.Line, d.ModulesLocation.Column));
        Assert.Equal(new[] { "text_decoder", "vision_tower" }, d.Modules!.Select(m => m.Name));

        var text = d.Modules![0];
        Assert.True(text.UsesModels);
        Assert.Equal((3, 3), (text.Location.Line, text.Location.Column));
        Assert.Equal(new[] { "org/a", "org/b" }, text.Models!.Select(m => m.Model.ToString()));
        Assert.Equal(0.25, text.Models![0].Parameters.Evaluate("weight", "x", 0));
        Assert.IsType<ConditionalSetting>(text.Parameters["weight"]);

        var vision = d.Modules[1];
        Assert.False(vision.UsesModels);
        var slice = Assert.Single(vision.Slices!);
        Assert.Equal("vision_tower", slice.Module);
        Assert.Same(vision.Parameters, slice.ModuleParameters);
        Assert.Equal((1, 3), (slice.Sources[1].LayerStart, slice.Sources[1].LayerEnd));
        Assert.Equal(new[] { "org/a", "org/b" }, d.AllModels().Select(m => m.ToString()));
    }

    [Fact]
    public void Module_parameters_sit_between_the_slice_and_the_top_level()
    {
        var d = TestYaml.Definition(Yaml);
        var weight = Linear.FindParameter("weight")!;
        var normalize = Linear.FindParameter("normalize")!;
        var vision = d.Modules![1].Slices![0];
        object? Vision(int source, string tensor) => ParameterResolver.Resolve(d, Linear, weight, vision, vision.Sources[source], tensor, 0);
        Assert.Equal(0.9, Vision(1, "v.blocks.0.attn.weight"));   // the source's own
        Assert.Equal(0.6, Vision(0, "v.blocks.0.attn.weight"));   // the slice's filter matches
        Assert.Equal(0.3, Vision(0, "v.blocks.0.mlp.weight"));    // the slice's filter does not: the module's
        Assert.Equal(false, ParameterResolver.Resolve(d, Linear, normalize, vision, null, "v.blocks.0.mlp.weight", 0)); // method-wide, from the module

        // The text module's models: one slice over the whole stack, its entries' parameters at the source level.
        var text = Assert.Single(DefinitionNormalizer.ToSlices(d, d.Modules[0], _ => 4));
        Assert.Equal("text_decoder", text.Module);
        Assert.Equal(new[] { (0, 4), (0, 4) }, text.Sources.Select(s => (s.LayerStart, s.LayerEnd)));
        object? Text(int source, string tensor) => ParameterResolver.Resolve(d, Linear, weight, text, text.Sources[source], tensor, 0);
        Assert.Equal(0.25, Text(0, "m.layers.0.mlp.weight"));
        Assert.Equal(0.5, Text(1, "m.layers.0.mlp.weight"));      // the module's filter
        Assert.Equal(0.1, Text(1, "m.layers.0.attn.weight"));     // falls through to the top level
    }

    [Fact]
    public void Round_trips_through_the_writer()
    {
        var d = TestYaml.Definition(Yaml);
        var written = DefinitionWriter.Write(d);
        var expected = L(
            "merge_method: linear",
            "modules:",
            "  text_decoder:",
            "    models:",
            "      - model: org/a",
            "        parameters:",
            "          weight: 0.25",
            "      - model: org/b",
            "    parameters:",
            "      weight: [{filter: mlp, value: 0.5}]",
            "  vision_tower:",
            "    slices:",
            "      - sources:",
            "          - model: org/a",
            "            layer_range: [0, 2]",
            "          - model: org/b",
            "            layer_range: [1, 3]",
            "            parameters:",
            "              weight: 0.9",
            "        parameters:",
            "          weight: [{filter: attn, value: 0.6}]",
            "    parameters:",
            "      weight: 0.3",
            "      normalize: false",
            "parameters:",
            "  weight: 0.1",
            "dtype: float32");
        Assert.Equal(expected, written);
        var again = TestYaml.Load(written);
        Assert.DoesNotContain(again.Diagnostics, x => x.IsError);
        Assert.Equal(written, DefinitionWriter.Write(again.Definition!));
    }

    [Fact]
    public void A_module_with_neither_input_is_located_at_its_name()
    {
        var result = TestYaml.Load(L("merge_method: linear", "modules:", "  text_decoder:", "    parameters: {weight: 1}", "  vision_tower:",
            "    models: [{model: org/a, parameters: {weight: 1}}]"));
        var d = Assert.Single(result.Diagnostics, x => x.Id == "DMRG0120");
        Assert.Equal((3, 3), (d.Location.Line, d.Location.Column));
        Assert.Contains("module 'text_decoder' has no inputs", d.Message);
    }

    [Theory]
    [InlineData("models: [{model: org/a, parameters: {weight: 1}}]\n", "not 'models' and 'modules'")]
    [InlineData("slices: [{sources: [{model: org/a, layer_range: [0, 2]}]}]\n", "not 'slices' and 'modules'")]
    public void Modules_with_models_or_slices_at_the_top_level_is_an_error(string other, string message)
    {
        var result = TestYaml.Load(L("merge_method: linear", "modules:", "  text_decoder: {models: [{model: org/a, parameters: {weight: 1}}]}") + other);
        var d = Assert.Single(result.Diagnostics, x => x.Id == "DMRG0104");
        Assert.Contains(message, d.Message);
        Assert.Equal((2, 1), (d.Location.Line, d.Location.Column));
    }

    [Fact]
    public void An_empty_modules_mapping_needs_inputs()
    {
        var d = Assert.Single(TestYaml.Load(L("merge_method: linear", "modules: {}")).Diagnostics, x => x.Id == "DMRG0104");
        Assert.Contains("'modules' names no module", d.Message);
    }

    [Fact]
    public void Each_module_is_checked_as_a_definition_of_its_syntax_is()
    {
        var result = TestYaml.Load(L(
            "merge_method: ties",
            "base_model: org/base",
            "modules:",
            "  text_decoder:",
            "    models:",
            "      - model: org/a",                                   // no weight anywhere: DMRG0305
            "    parameters: {densty: 0.5}",                         // near miss in a module: DMRG0312
            "  vision_tower:",
            "    slices:",
            "      - sources:",
            "          - {model: org/a, layer_range: [0, 2], parameters: {weight: 1}}",
            "          - {model: org/b, layer_range: [0, 3], parameters: {weight: 1}}", // DMRG0402
            "    modles: []"));                                      // DMRG0109 in a module
        var ids = result.Diagnostics.Select(x => x.Id).ToList();
        Assert.Contains("DMRG0305", ids);
        Assert.Contains("DMRG0312", ids);
        Assert.Contains("DMRG0402", ids);
        Assert.Contains("DMRG0404", ids); // the base is not a source of the vision slice
        var typo = Assert.Single(result.Diagnostics, x => x.Id == "DMRG0109");
        Assert.Contains("module 'vision_tower'", typo.Message);
        Assert.Equal((13, 5), (typo.Location.Line, typo.Location.Column));
        var missing = Assert.Single(result.Diagnostics, x => x.Id == "DMRG0305");
        Assert.Equal((6, 9), (missing.Location.Line, missing.Location.Column));
    }

    [Fact]
    public void A_method_wide_parameter_under_a_module_counts_for_its_slices()
    {
        var yaml = L("merge_method: slerp", "base_model: org/a", "modules:", "  text_decoder:",
            "    models: [{model: org/a}, {model: org/b}]", "    parameters: {t: 0.5}");
        Assert.DoesNotContain(TestYaml.Load(yaml).Diagnostics, x => x.IsError);
        var missing = TestYaml.Load(L("merge_method: slerp", "base_model: org/a", "modules:", "  text_decoder:",
            "    models: [{model: org/a}, {model: org/b}]"));
        var d = Assert.Single(missing.Diagnostics, x => x.Id == "DMRG0308");
        Assert.Contains("module 'text_decoder'", d.Message);
    }
}
