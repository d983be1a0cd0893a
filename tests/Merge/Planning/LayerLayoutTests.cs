using DotnetMerge.Models;

namespace DotnetMerge.Tests.Planning;

public sealed class LayerLayoutTests
{
    [Theory]
    [InlineData("model.layers.12.mlp.up_proj.weight", "model.layers.", 12, "mlp.up_proj.weight")]
    [InlineData("transformer.h.0.attn.c_attn.weight", "transformer.h.", 0, "attn.c_attn.weight")]
    [InlineData("model.layers.3.mlp.experts.7.w1.weight", "model.layers.", 3, "mlp.experts.7.w1.weight")]
    public void TrySplit_FindsTheFirstNumberedSegment(string name, string prefix, int layer, string suffix)
    {
        Assert.True(LayerLayout.TrySplit(name, out var p, out var l, out var s));
        Assert.Equal((prefix, layer, suffix), (p, l, s));
    }

    [Theory]
    [InlineData("model.embed_tokens.weight")]
    [InlineData("lm_head.weight")]
    [InlineData("model.norm.weight")]
    public void TrySplit_RejectsNamesWithoutALayer(string name) => Assert.False(LayerLayout.TrySplit(name, out _, out _, out _));

    [Fact]
    public void Infer_SplitsPreLayersAndPost()
    {
        var layout = LayerLayout.Infer(new[]
        {
            "model.embed_tokens.weight", "model.layers.0.a.weight", "model.layers.0.b.weight", "model.layers.1.a.weight",
            "model.layers.1.b.weight", "model.norm.weight", "lm_head.weight",
        });
        Assert.Equal("model.layers.", layout.Prefix);
        Assert.Equal(2, layout.LayerCount);
        Assert.Equal(new[] { "a.weight", "b.weight" }, layout.LayerSuffixes[1]);
        Assert.Equal(new[] { "model.embed_tokens.weight" }, layout.PreWeights);
        Assert.Equal(new[] { "model.norm.weight", "lm_head.weight" }, layout.PostWeights);
        Assert.Equal("model.layers.7.a.weight", layout.LayerTensorName(7, "a.weight"));
    }
}
