namespace DotnetMerge.Definitions.Tests;

public class EvaluationTests
{
    private static ParameterSetting Setting(string yamlValue)
        => TestYaml.Definition("parameters:\n  p: " + yamlValue + "\n").Parameters["p"];

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.125, 0.25)] // s = 0.5: halfway between 0 and 0.5
    [InlineData(0.25, 0.5)]   // on the second anchor
    [InlineData(0.6, 0.46)]   // s = 2.4: 0.6 * 0.3 + 0.4 * 0.7
    [InlineData(1.0, 1.0)]
    public void Gradient_interpolates_between_evenly_spaced_anchors(double t, double expected)
    {
        var setting = Setting("[0, 0.5, 0.3, 0.7, 1]");
        Assert.IsType<GradientSetting>(setting);
        Assert.Equal(expected, (double)setting.Evaluate("model.layers.0.mlp.up_proj.weight", t)!, 12);
    }

    [Fact]
    public void Single_value_gradient_is_constant()
    {
        var setting = Setting("[0.3]");
        Assert.Equal(0.3, (double)setting.Evaluate("x", 0)!, 12);
        Assert.Equal(0.3, (double)setting.Evaluate("x", 1)!, 12);
    }

    [Theory]
    [InlineData(0.0, true)]
    [InlineData(0.49, true)]  // (int)(0.98) = 0
    [InlineData(0.5, false)]  // (int)(1.0) = 1
    [InlineData(0.99, false)] // (int)(1.98) = 1
    [InlineData(1.0, true)]   // index 2
    public void Non_numeric_list_is_a_step_function(double t, bool expected)
    {
        var setting = Setting("[true, false, true]");
        Assert.IsType<StepSetting>(setting);
        Assert.Equal(expected, setting.Evaluate("x", t));
    }

    [Fact]
    public void Conditional_list_takes_the_first_matching_filter()
    {
        var setting = Setting("[{filter: self_attn, value: 0.1}, {filter: attn, value: 0.2}, {value: 0.3}]");
        Assert.Equal(0.1, setting.Evaluate("model.layers.3.self_attn.q_proj.weight", 0.5));
        Assert.Equal(0.2, setting.Evaluate("model.layers.3.cross_attn.q_proj.weight", 0.5));
        Assert.Equal(0.3, setting.Evaluate("model.layers.3.mlp.down_proj.weight", 0.5));
    }

    [Fact]
    public void Conditional_filter_is_an_ordinal_substring_and_star_matches_everything()
    {
        var setting = Setting("[{filter: MLP, value: 1}, {filter: '*', value: 2}]");
        Assert.Equal(2.0, setting.Evaluate("model.layers.0.mlp.up_proj.weight", 0)); // case differs: no match
        Assert.Equal(1.0, setting.Evaluate("x.MLP.y", 0));
    }

    [Fact]
    public void Conditional_value_may_be_a_gradient()
    {
        var setting = Setting("[{filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}, {value: 0.5}]");
        // t = 0.375: s = 1.5 -> halfway between 0.5 and 0.7
        Assert.Equal(0.6, (double)setting.Evaluate("model.layers.7.mlp.gate_proj.weight", 0.375)!, 12);
        Assert.Equal(0.5, setting.Evaluate("model.layers.7.self_attn.o_proj.weight", 0.375));
    }

    [Fact]
    public void Conditional_without_a_match_gives_null()
    {
        var setting = Setting("[{filter: mlp, value: 0.5}]");
        Assert.Null(setting.Evaluate("model.embed_tokens.weight", 0));
    }

    [Fact]
    public void Single_mapping_is_one_conditional_entry()
    {
        var setting = Setting("{filter: down_proj, value: 0.5}");
        var conditional = Assert.IsType<ConditionalSetting>(setting);
        Assert.Single(conditional.Entries);
        Assert.Equal(0.5, setting.Evaluate("model.layers.1.mlp.down_proj.weight", 0));
        Assert.Null(setting.Evaluate("model.layers.1.mlp.up_proj.weight", 0));
    }

    [Theory]
    [InlineData("1e-3", 0.001)]
    [InlineData(".5", 0.5)]
    [InlineData("-1", -1.0)]
    [InlineData("+2.5E2", 250.0)]
    [InlineData("0x10", 16.0)]
    public void Numbers_are_read_with_the_invariant_culture(string text, double expected)
        => Assert.Equal(expected, Setting(text).Evaluate("x", 0));

    [Theory]
    [InlineData("true", true)]
    [InlineData("False", false)]
    [InlineData("'0.5'", "0.5")]
    [InlineData("ties", "ties")]
    public void Scalars_keep_their_yaml_type(string text, object expected)
        => Assert.Equal(expected, Setting(text).Evaluate("x", 0));

    [Theory]
    [InlineData(0, 5, 0.0)]
    [InlineData(1, 5, 0.25)]
    [InlineData(4, 5, 1.0)]
    [InlineData(0, 1, 1.0)] // a one-layer slice gets t = 1 (the last gradient value)
    [InlineData(1, 3, 0.5)]
    public void Layer_position_is_relative_to_the_slice(int index, int count, double expected)
        => Assert.Equal(expected, ParameterResolver.LayerPosition(index, count), 12);

    [Fact]
    public void One_layer_slice_takes_the_last_gradient_value()
    {
        var setting = Setting("[0.2, 0.4, 0.9]");
        Assert.Equal(0.9, (double)setting.Evaluate("model.layers.0.mlp.up_proj.weight", ParameterResolver.LayerPosition(0, 1))!, 12);
    }
}
