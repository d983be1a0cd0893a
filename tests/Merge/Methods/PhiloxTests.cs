using DotnetMerge.Kernels;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

public class PhiloxTests
{
    [Theory]
    // Random123 known-answer vectors for Philox4x32-10.
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Block_matches_Random123_known_answers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint r0, uint r1, uint r2, uint r3)
    {
        Assert.Equal((r0, r1, r2, r3), Philox.Block(c0, c1, c2, c3, k0, k1));
        Assert.Equal([r0, r1, r2, r3], ReferencePhilox.Philox4x32x10([c0, c1, c2, c3], [k0, k1]));
    }

    [Theory]
    [InlineData("", 0x811c9dc5u)]
    [InlineData("a", 0xe40c292cu)]
    [InlineData("foobar", 0xbf9cf968u)]
    public void Fnv1a32_matches_published_vectors(string text, uint expected)
    {
        Assert.Equal(expected, Philox.Fnv1a32(text));
        Assert.Equal(expected, ReferencePhilox.Fnv(text));
    }

    [Theory]
    [InlineData(0ul, 0u, "model.embed_tokens.weight")]
    [InlineData(0x0123456789abcdeful, 3u, "model.layers.31.self_attn.q_proj.weight")]
    [InlineData(ulong.MaxValue, 1u, "lm_head.weight — ünïcode")]
    public void Uniform_and_bulk_fill_follow_the_stream_definition(ulong seed, uint model, string name)
    {
        uint hash = Philox.Fnv1a32(name);
        long[] starts = [0, 1, 3, 5, (1L << 32) * 4 + 2];
        foreach (long start in starts)
        {
            var bulk = new float[11];
            Philox.FillUniform(seed, model, hash, start, bulk);
            for (int i = 0; i < bulk.Length; i++)
            {
                double expected = ReferencePhilox.Uniform(seed, (int)model, name, start + i);
                Assert.Equal(expected, Philox.Uniform(seed, model, hash, start + i));
                Assert.Equal(expected, bulk[i]);
                Assert.InRange(bulk[i], 0, 1 - 1.0 / (1 << 24));
            }
        }
    }

    [Fact]
    public void Uniforms_are_roughly_uniform()
    {
        var u = new float[1 << 16];
        Philox.FillUniform(7, 0, Philox.Fnv1a32("x"), 0, u);
        Assert.InRange(u.Average(), 0.49, 0.51);
        Assert.InRange(u.Count(v => v < 0.3) / (double)u.Length, 0.29, 0.31);
    }
}
