using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Numerics;

namespace DotnetMerge.Tests.Methods;

/// <summary>The "rounded once" guarantee for narrow outputs, against an independent exact reference: a float64 result
/// narrowed by <see cref="OutputRounding"/> and encoded by the output encoder must be the float64 value rounded
/// directly to bf16/f16 (nearest, ties to even). The reference is <see cref="FloatReference.Encode"/>, which rounds a
/// double by comparing it with the two neighbouring codes' exact values (the differences are exact by Sterbenz'
/// lemma), with no float32 step in between. Cases: every midpoint between neighbouring finite codes of both formats
/// (subnormals included), exactly on it, one double ulp either side, and a few float32-invisible distances either side
/// (where rounding to the nearest float32 first would land on the midpoint and tie the wrong way).</summary>
public sealed class RoundOnceTests
{
    private static readonly double Hair = Math.ScaleB(1, -30), Fraction = Math.ScaleB(1, -20);

    public static TheoryData<Dtype> NarrowOutputs => new() { Dtype.BF16, Dtype.F16 };

    private static FloatReference ReferenceOf(Dtype dtype) => dtype == Dtype.BF16 ? FloatReference.BFloat16 : FloatReference.Half;

    /// <summary>Every positive midpoint of the format's finite codes, and values around each, with both signs.</summary>
    private static double[] MidpointCases(Dtype dtype)
    {
        FloatReference format = ReferenceOf(dtype);
        var values = new List<double>();
        for (int code = 0; code < format.MaxFiniteCode; code++)
        {
            double lower = format.Magnitude(code), upper = format.Magnitude(code + 1), midpoint = (lower + upper) / 2;
            if (midpoint > float.MaxValue) continue; // beyond float32 (bf16's top binade): Narrow's result is ±Inf/MaxValue, not a tie
            double step = upper - lower;
            foreach (double v in new[] { midpoint, Math.BitIncrement(midpoint), Math.BitDecrement(midpoint),
                         midpoint + step * Hair, midpoint - step * Hair, midpoint + step * Fraction, midpoint - step * Fraction })
            {
                values.Add(v);
                values.Add(-v);
            }
        }
        while (values.Count % 16 != 0) values.Add(0);
        return values.ToArray();
    }

    private static void AssertRoundedOnce(Dtype dtype, double[] values, float[] narrowed, string form)
    {
        FloatReference format = ReferenceOf(dtype);
        var bytes = new byte[narrowed.Length * 2];
        DtypeConversion.Encode(dtype, narrowed, bytes, 0);
        int wrong = 0;
        string? first = null;
        for (int i = 0; i < values.Length; i++)
        {
            int expected = format.Encode(values[i]), actual = bytes[2 * i] | bytes[2 * i + 1] << 8;
            if (expected == actual) continue;
            wrong++;
            first ??= $"{values[i]:R}: expected 0x{expected:X4}, got 0x{actual:X4}";
        }
        Assert.True(wrong == 0, $"{form} to {dtype}: {wrong} of {values.Length} values not rounded once; first {first}");
    }

    [Theory]
    [MemberData(nameof(NarrowOutputs))]
    public void Scalar_narrowing_rounds_once_at_every_midpoint(Dtype dtype)
    {
        double[] values = MidpointCases(dtype);
        AssertRoundedOnce(dtype, values, values.Select(v => OutputRounding.Narrow(v, roundToOdd: true)).ToArray(), "scalar");
    }

    [Theory]
    [MemberData(nameof(NarrowOutputs))]
    public void Vector_narrowing_rounds_once_at_every_midpoint(Dtype dtype)
    {
        double[] values = MidpointCases(dtype);
        var narrowed = new float[values.Length];
        int w = Vector<double>.Count;
        for (int i = 0; i + 2 * w <= values.Length; i += 2 * w)
            OutputRounding.Narrow(new Vector<double>(values, i), new Vector<double>(values, i + w), roundToOdd: true).CopyTo(narrowed, i);
        AssertRoundedOnce(dtype, values, narrowed, $"Vector<double> x{w}");
    }

    [SkippableTheory]
    [MemberData(nameof(NarrowOutputs))]
    public void Avx512_narrowing_rounds_once_at_every_midpoint(Dtype dtype)
    {
        Skip.IfNot(Avx512F.IsSupported, "no AVX-512 on this CPU: the embedded-rounding form is never used here");
        double[] values = MidpointCases(dtype);
        var narrowed = new float[values.Length];
        for (int i = 0; i + 16 <= values.Length; i += 16)
            OutputRounding.NarrowToOdd512(Vector512.Create(values, i), Vector512.Create(values, i + 8)).CopyTo(narrowed, i);
        AssertRoundedOnce(dtype, values, narrowed, "AVX-512");
    }

    /// <summary>The check is not vacuous: narrowing to the nearest float32 first (no round to odd) fails it.</summary>
    [Theory]
    [MemberData(nameof(NarrowOutputs))]
    public void Rounding_to_the_nearest_float32_first_would_fail(Dtype dtype)
    {
        double[] values = MidpointCases(dtype);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() =>
            AssertRoundedOnce(dtype, values, values.Select(v => OutputRounding.Narrow(v, roundToOdd: false)).ToArray(), "nearest"));
    }

    /// <summary>Through a merge: linear, not normalized, out = 1·v + w·u with v a code of the output format, u half of v's
    /// step and w = 1 or 1 ± 2^-30, so the float64 sum is exactly a midpoint, or a hair (2^-31 of a step, invisible to
    /// float32) above or below it. Each sum is exact in float64; the output must be it rounded once.</summary>
    [Theory]
    [MemberData(nameof(NarrowOutputs))]
    public void A_linear_merge_rounds_its_float64_sums_once(Dtype dtype)
    {
        FloatReference format = ReferenceOf(dtype);
        var codes = new List<int>();
        for (int code = 1; code < format.MaxFiniteCode - 1; code += 3) codes.Add(code); // every third code: both parities
        foreach (double w in new[] { 1.0, 1 + Hair, 1 - Hair })
        {
            int n = codes.Count * 2;
            var v = new double[n];
            var u = new double[n];
            for (int i = 0; i < codes.Count; i++)
            {
                double lower = format.Magnitude(codes[i]), half = (format.Magnitude(codes[i] + 1) - lower) / 2;
                // half a step must be a code too (not in the subnormal range), and the sum within float32's range
                if (format.Decode(format.Encode(half)) != half || lower + half > float.MaxValue) (lower, half) = (1, 0);
                (v[2 * i], u[2 * i]) = (lower, half);
                (v[2 * i + 1], u[2 * i + 1]) = (-lower, -half);
            }
            var output = new byte[n * 2];
            var inputs = new[] { (v, 1.0), (u, w) }.Select((m, k) => new MergeInput($"m{k}", "t", dtype, [n], Codes(format, m.Item1), false,
                new ParameterBag(new Dictionary<string, object> { ["weight"] = m.Item2 }))).ToList();
            var context = new TensorMergeContext("t", inputs, -1, new ParameterBag(new Dictionary<string, object> { ["normalize"] = false }),
                [n], dtype, output, 0, false, new ExecutionSettings(1));
            new LinearMerge().Merge(context);
            for (int i = 0; i < n; i++)
            {
                double sum = v[i] + w * u[i];
                Assert.Equal(w * u[i], sum - v[i]); // exact in float64
                int expected = format.Encode(sum), actual = output[2 * i] | output[2 * i + 1] << 8;
                Assert.True(expected == actual, $"w = 1 {w - 1:+0.###e0;-0.###e0;+0}: {v[i]:R} + w·{u[i]:R}: expected 0x{expected:X4}, got 0x{actual:X4}");
            }
        }
    }

    private static byte[] Codes(FloatReference format, double[] exactValues)
    {
        var bytes = new byte[exactValues.Length * 2];
        for (int i = 0; i < exactValues.Length; i++)
        {
            int code = format.Encode(exactValues[i]);
            Assert.Equal(exactValues[i], format.Decode(code)); // the inputs are codes, stored exactly
            (bytes[2 * i], bytes[2 * i + 1]) = ((byte)code, (byte)(code >> 8));
        }
        return bytes;
    }
}
