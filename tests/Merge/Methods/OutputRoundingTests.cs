using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DotnetMerge.Methods;

namespace DotnetMerge.Tests.Methods;

/// <summary>The vector forms of round-to-odd against the scalar rule, which is itself checked against exact rounding
/// in the methods' bf16 tests: every lane must give the scalar's bits, edge values included.</summary>
public class OutputRoundingTests
{
    private static double[] Values()
    {
        var rng = new Random(5);
        var values = new List<double>
        {
            0.0, -0.0, 1.0, -1.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, -double.NaN,
            BitConverter.Int64BitsToDouble(0x7FF8_0000_DEAD_BEEF), // NaN with a payload
            float.MaxValue, -(double)float.MaxValue, (double)float.MaxValue * (1 + 1e-9), -(double)float.MaxValue * 1.5, 1e300, -1e300,
            float.Epsilon, float.Epsilon / 2, float.Epsilon * 0.75, -float.Epsilon / 3, 1e-300, -1e-300,
            1.0 + Math.Pow(2, -24), 1.0 + Math.Pow(2, -24) + Math.Pow(2, -50), 1.0 - Math.Pow(2, -25), -(1.0 + Math.Pow(2, -24)),
            1.17549435e-38 * (1 - 1e-9), 1.17549435e-38 * (1 + 1e-9), // around the smallest normal float
        };
        for (int i = 0; i < 4000; i++)
        {
            double v = (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-160, 140));
            values.Add(v);
            values.Add((float)v); // exactly representable
            values.Add(BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits((float)v) + rng.Next(-3, 4))); // next to a float
        }
        while (values.Count % 16 != 0) values.Add(0.5);
        return values.ToArray();
    }

    [Fact]
    public void Vector_round_to_odd_matches_the_scalar_rule_at_this_width()
    {
        var values = Values();
        int w = Vector<double>.Count;
        for (int i = 0; i + 2 * w <= values.Length; i += 2 * w)
        {
            var narrowed = OutputRounding.Narrow(new Vector<double>(values, i), new Vector<double>(values, i + w), roundToOdd: true);
            for (int l = 0; l < 2 * w; l++)
                Assert.Equal(BitConverter.SingleToUInt32Bits(OutputRounding.Narrow(values[i + l], true)), BitConverter.SingleToUInt32Bits(narrowed[l]));
        }
    }

    [SkippableFact]
    public void Avx512_round_to_odd_matches_the_scalar_rule()
    {
        // The embedded-rounding form runs only at 512-bit Vector<T>; it is called directly so any AVX-512 machine tests it.
        Skip.IfNot(Avx512F.IsSupported, "no AVX-512 on this CPU: the embedded-rounding form is never used here");
        var values = Values();
        for (int i = 0; i + 16 <= values.Length; i += 16)
        {
            var narrowed = OutputRounding.NarrowToOdd512(Vector512.Create(values, i), Vector512.Create(values, i + 8));
            for (int l = 0; l < 16; l++)
                Assert.Equal(BitConverter.SingleToUInt32Bits(OutputRounding.Narrow(values[i + l], true)), BitConverter.SingleToUInt32Bits(narrowed[l]));
        }
    }
}
