using System.Globalization;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Tests.Infrastructure;

namespace DotnetMerge.Cuda.Tests;

/// <summary>kernels/philox.cuh compiled with g++ through the CUDA shim: Random123's known answers, the element-to-counter
/// mapping of the shared random stream, and agreement with an independent C# implementation.</summary>
public sealed class PhiloxShimTests
{
    private static string[] Evaluate(string input)
    {
        string program = HostCompiler.Build("philox_driver.cpp");
        var (code, stdout, stderr) = HostCompiler.Run(program, [], input);
        Assert.True(code == 0, stderr);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [SkippableTheory]
    [InlineData("0 0 0 0 0 0", "6627e8d5 e169c58d bc57ac4c 9b00dbd8")]
    [InlineData("ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff", "408f276d 41c83b0e a20bc7c6 6d5451fd")]
    [InlineData("243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0", "d16cfe09 94fdcceb 5001e420 24126ea1")]
    public void Header_matches_the_Random123_known_answers(string counterAndKey, string expected)
    {
        HostCompiler.SkipIfUnavailable();
        Assert.Equal(expected, Evaluate("raw " + counterAndKey + "\n").Single());
    }

    [Fact]
    public void Reference_matches_the_Random123_known_answers()
    {
        // the C# reference the other tests rely on, checked on its own
        Assert.Equal([0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u], Reference.Philox([0, 0, 0, 0], [0, 0]));
        Assert.Equal([0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u],
            Reference.Philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]));
    }

    [SkippableFact]
    public void Random_bits_and_uniforms_match_the_reference_stream()
    {
        HostCompiler.SkipIfUnavailable();
        var random = new Random(20240611);
        var cases = new List<(ulong Seed, uint Model, uint Hash, ulong Element)>
        {
            (0, 0, 0, 0), (1, 2, Reference.Fnv1a("model.layers.0.mlp.up_proj.weight"), 3),
            (ulong.MaxValue, uint.MaxValue, uint.MaxValue, ulong.MaxValue), (42, 1, 7, 1UL << 34 | 5),
        };
        for (int i = 0; i < 400; i++)
            cases.Add(((ulong)random.NextInt64() ^ ((ulong)random.Next() << 40), (uint)random.Next(8), (uint)random.Next() * 2u + 1,
                (ulong)random.NextInt64(0, 1L << 40)));
        string input = string.Concat(cases.Select(c => FormattableString.Invariant($"elem {c.Seed:x} {c.Model:x} {c.Hash:x} {c.Element:x}\n")));
        string[] lines = Evaluate(input);
        Assert.Equal(cases.Count, lines.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            var (seed, model, hash, element) = cases[i];
            uint bits = Reference.RandomBits(seed, model, hash, element);
            string[] parts = lines[i].Split(' ');
            Assert.Equal(bits, uint.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            float uniform = BitConverter.UInt32BitsToSingle(uint.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            Assert.Equal(Reference.Uniform(bits), (double)uniform);
            Assert.InRange(uniform, 0f, 0.99999995f);
        }
    }
}
