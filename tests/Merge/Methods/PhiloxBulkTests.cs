using DotnetMerge.Kernels;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

/// <summary>The bulk fill (SIMD lanes of 4 or 8 blocks) against the independent scalar reference, over lengths and
/// offsets that cover the head, several vector groups, both vector widths and the tail.</summary>
public class PhiloxBulkTests
{
    [Theory]
    [InlineData(0ul, 0u, "model.embed_tokens.weight", 0L, 200)]
    [InlineData(0x0123456789abcdeful, 2u, "model.layers.3.mlp.up_proj.weight", 3L, 157)]
    [InlineData(ulong.MaxValue, 1u, "lm_head.weight", 4L * 0xFFFF_FFF0L + 1, 300)]
    public void Long_fills_match_the_reference_stream(ulong seed, uint model, string name, long start, int length)
    {
        uint hash = ReferencePhilox.Fnv(name);
        var bulk = new float[length];
        Philox.FillUniform(seed, model, hash, start, bulk);
        for (int i = 0; i < length; i++)
            Assert.Equal(ReferencePhilox.Uniform(seed, (int)model, name, start + i), bulk[i]);
    }
}
