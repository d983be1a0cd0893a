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

    /// <summary>Keep bits against the reference uniforms compared in double, at densities on and next to the 2^-24 grid
    /// of the uniforms (where an integer threshold off by one would show), 0, 1 and out of range.</summary>
    [Theory]
    [InlineData(0.5, 0L, 64 * 40)]
    [InlineData(0.3, 64L * 1000, 64 * 33 + 17)] // a tail shorter than one word
    [InlineData(0.25 + 1.0 / (1 << 24), 64L * 7, 64 * 20)] // exactly on the grid: m < 2^22 + 1
    [InlineData(0.25 + 1.5 / (1 << 24), 64L * 7, 64 * 20)] // between two grid points
    [InlineData(1.0 / (1 << 24), 0L, 64 * 20)]
    [InlineData(0.0, 64L, 64 * 3)]
    [InlineData(-0.5, 64L, 64 * 3)]
    [InlineData(1.0, 64L, 64 * 3)]
    [InlineData(1.0 - 1.0 / (1 << 25), 64L, 64 * 3)]
    [InlineData(double.NaN, 64L, 64 * 3)]
    public void Keep_bits_are_the_uniforms_below_the_density(double density, long start, int count)
    {
        const ulong seed = 0x5eed;
        const string name = "model.layers.1.self_attn.q_proj.weight";
        uint hash = ReferencePhilox.Fnv(name);
        // The buffer starts with garbage (callers pass pooled arrays): every word covered must be written.
        var words = Enumerable.Repeat(0xA5A5_A5A5_A5A5_A5A5ul, (count + 63) / 64).ToArray();
        Philox.FillKeepBits(seed, 3, hash, start, count, density, words);
        for (int j = 0; j < count; j++)
        {
            bool expected = ReferencePhilox.Uniform(seed, 3, name, start + j) < density;
            Assert.True(expected == ((words[j >> 6] >> (j & 63) & 1) != 0), $"element {start + j}: expected kept = {expected}");
        }
        if (count % 64 != 0) Assert.Equal(0ul, words[^1] >> (count % 64)); // nothing beyond the elements asked for
    }

    /// <summary>The AVX2 word path called directly, so it is checked on AVX-512 machines too (where
    /// <see cref="Philox.FillKeepBits"/> takes the 512-bit path): whole words only, against the reference.</summary>
    [SkippableTheory]
    [InlineData(0.5, 0L, 64 * 40)]
    [InlineData(0.3, 64L * 1000, 64 * 33 + 17)]
    [InlineData(0.25 + 1.0 / (1 << 24), 64L * 7, 64 * 20)]
    [InlineData(0.25 + 1.5 / (1 << 24), 64L * 7, 64 * 20)]
    [InlineData(0.0, 64L, 64 * 3)]
    [InlineData(1.0, 64L, 64 * 3)]
    [InlineData(1.0 - 1.0 / (1 << 25), 64L, 64 * 3)]
    public void The_avx2_keep_bits_are_the_uniforms_below_the_density(double density, long start, int count)
    {
        Skip.IfNot(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "this CPU has no AVX2 (the scalar path is tested above)");
        ulong seed = 0xfeed_0123_4567_89abul;
        const string name = "model.layers.9.mlp.down_proj.weight";
        uint hash = ReferencePhilox.Fnv(name);
        var words = Enumerable.Repeat(0xA5A5_A5A5_A5A5_A5A5ul, (count + 63) / 64).ToArray();
        int done = Philox.KeepBits256((uint)seed, (uint)(seed >> 32), 2, hash, start, count, density, words);
        Assert.Equal(count / 64 * 64, done);
        for (int j = 0; j < done; j++)
        {
            bool expected = ReferencePhilox.Uniform(seed, 2, name, start + j) < density;
            Assert.True(expected == ((words[j >> 6] >> (j & 63) & 1) != 0), $"element {start + j}: expected kept = {expected}");
        }
        if (count % 64 != 0) Assert.Equal(0xA5A5_A5A5_A5A5_A5A5ul, words[^1]); // the partial word is left to the caller
    }

    [Fact]
    public void Keep_bits_at_the_grid_threshold_separate_neighbouring_uniforms()
    {
        // Find a uniform u in the stream and use density = u: that element must be dropped (u < u is false) and an
        // element with uniform u - 2^-24 kept; the integer form must agree with the double compare on both.
        const string name = "x";
        uint hash = ReferencePhilox.Fnv(name);
        const int count = 64 * 64;
        var uniforms = Enumerable.Range(0, count).Select(j => ReferencePhilox.Uniform(1, 0, name, j)).ToArray();
        foreach (float u in uniforms.Take(50))
        {
            var words = new ulong[count / 64];
            Philox.FillKeepBits(1, 0, hash, 0, count, u, words);
            for (int j = 0; j < count; j++)
                Assert.Equal(uniforms[j] < u, (words[j >> 6] >> (j & 63) & 1) != 0);
        }
    }
}
