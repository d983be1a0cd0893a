using System.Buffers.Binary;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tests.Methods.Reference;

/// <summary>One merge of a single tensor as the geometric-method tests describe it: input values (already representable
/// in <see cref="Dtype"/>), which one is the base, per-model weights and method-wide parameters.</summary>
internal sealed record GeometricCase(long[] Shape, Dtype Dtype, double[][] Inputs, int BaseIndex, double[]? Weights,
    IDictionary<string, object> Global, Dtype? OutputDtype = null)
{
    public Dtype Output => OutputDtype ?? Dtype;
}

/// <summary>Builds <see cref="TensorMergeContext"/>s for the geometric-method tests, runs a method with 1 and 4 threads,
/// and compares with a float64 reference.</summary>
internal static class GeometricTestContext
{
    public static readonly long[][] Shapes = [[64, 48], [4096], [37, 129], [1, 1]];

    /// <summary>Every test shape in F32 and BF16: (index into <see cref="Shapes"/>, dtype).</summary>
    public static TheoryData<int, Dtype> ShapeCases()
    {
        var data = new TheoryData<int, Dtype>();
        for (int s = 0; s < Shapes.Length; s++)
        {
            data.Add(s, Dtype.F32);
            data.Add(s, Dtype.BF16);
        }
        return data;
    }

    /// <summary>Small chunks so that every test tensor spans several chunks (and rows straddle plain chunk edges).</summary>
    public const int ChunkElements = 1000;

    /// <summary>Gaussian values (Box-Muller) with standard deviation <paramref name="sigma"/>, rounded to <paramref name="dtype"/>.</summary>
    public static double[] Gaussian(int seed, long[] shape, double sigma, Dtype dtype, double[]? around = null)
    {
        var random = new Random(seed);
        var values = new double[TensorShape.ElementCount(shape)];
        for (int i = 0; i < values.Length; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double g = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            values[i] = (around is null ? 0 : around[i]) + sigma * g;
        }
        return Representable(values, dtype);
    }

    /// <summary>A llama-like family: a base N(0, 0.02) and fine-tunes that add N(0, 0.004) deltas to it.</summary>
    public static double[][] Family(int seed, long[] shape, Dtype dtype, int models)
    {
        var result = new double[models][];
        result[0] = Gaussian(seed, shape, 0.02, dtype);
        for (int m = 1; m < models; m++) result[m] = Gaussian(seed * 31 + m, shape, 0.004, dtype, result[0]);
        return result;
    }

    public static double[] Representable(double[] values, Dtype dtype)
        => values.Select(v => dtype == Dtype.BF16 ? RoundToBf16(v) : (double)(float)v).ToArray();

    public static byte[] Encode(double[] values, Dtype dtype)
    {
        var floats = values.Select(v => (float)v).ToArray();
        var bytes = new byte[floats.Length * (dtype == Dtype.BF16 ? 2 : 4)];
        DtypeConversion.Encode(dtype, floats, bytes, 0);
        return bytes;
    }

    public static double[] Decode(byte[] bytes, Dtype dtype, long count)
    {
        var floats = new float[count];
        DtypeConversion.Decode(dtype, bytes, 0, floats);
        return floats.Select(f => (double)f).ToArray();
    }

    /// <summary>Runs <paramref name="method"/> on <paramref name="c"/> and returns the raw output bytes.</summary>
    public static byte[] Run(IMergeMethod method, GeometricCase c, int threads, int chunkElements = ChunkElements)
    {
        var inputs = new MergeInput[c.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var parameters = c.Weights is null ? ParameterBag.Empty
                : new ParameterBag(new Dictionary<string, object> { ["weight"] = c.Weights[i] });
            inputs[i] = new MergeInput($"model{i}", "model.layers.0.mlp.down_proj.weight", c.Dtype, c.Shape,
                Encode(c.Inputs[i], c.Dtype), i == c.BaseIndex, parameters);
        }
        var output = new byte[TensorShape.ElementCount(c.Shape) * (c.Output == Dtype.BF16 ? 2 : 4)];
        var context = new TensorMergeContext("model.layers.0.mlp.down_proj.weight", inputs, c.BaseIndex,
            new ParameterBag(c.Global), c.Shape, c.Output, output, seed: 42, isEmbedding: false,
            new ExecutionSettings(threads, chunkElements));
        method.Merge(context);
        return output;
    }

    /// <summary>Runs with 1 and 4 threads (outputs must be byte-identical) and compares with <paramref name="expected"/>.
    /// Returns the output values.</summary>
    public static double[] RunAndCompare(IMergeMethod method, GeometricCase c, double[] expected)
    {
        var single = Run(method, c, threads: 1);
        var parallel = Run(method, c, threads: 4);
        Assert.Equal(single, parallel);
        AssertMatches(expected, single, c.Output);
        return Decode(single, c.Output, expected.Length);
    }

    /// <summary>F32: within float32 rounding (relative 1e-5, absolute 1e-6 of the tensor's magnitude).
    /// BF16: equal to the reference rounded once to bf16, except that elements within 2^-36 (relative) of a bf16
    /// rounding midpoint may differ by one unit in the last place (the reference's float64 trigonometry and sums differ
    /// from the product's in the last bits); such differences must be rare. Double rounding through float32 shows up
    /// to 2^-25 away from a midpoint, so the window leaves it visible.</summary>
    public static void AssertMatches(double[] expected, byte[] actualBytes, Dtype dtype)
    {
        var actual = Decode(actualBytes, dtype, expected.Length);
        double magnitude = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        if (dtype == Dtype.F32)
        {
            for (int i = 0; i < expected.Length; i++)
            {
                double tolerance = 1e-5 * Math.Abs(expected[i]) + 1e-6 * magnitude;
                Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance,
                    $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
            }
            return;
        }

        int nearMidpoint = 0;
        var actualBits = new ushort[expected.Length];
        for (int i = 0; i < expected.Length; i++) actualBits[i] = BinaryPrimitives.ReadUInt16LittleEndian(actualBytes.AsSpan(i * 2));
        for (int i = 0; i < expected.Length; i++)
        {
            ushort want = Bf16Bits(RoundToBf16(expected[i]));
            if (actualBits[i] == want || (want & 0x7FFF) == 0 && (actualBits[i] & 0x7FFF) == 0 && expected[i] == 0) continue;
            Assert.True(IsNearBf16Midpoint(expected[i]) && Math.Abs(actualBits[i] - want) == 1,
                $"element {i}: expected bf16 0x{want:X4} ({expected[i]:R}), got 0x{actualBits[i]:X4} ({actual[i]:R})");
            nearMidpoint++;
        }
        Assert.True(nearMidpoint <= 2 + expected.Length / 500, $"{nearMidpoint} near-midpoint differences of {expected.Length}");
    }

    /// <summary>Rounds a double directly to the nearest bf16 value (ties to even), for normal-range values.</summary>
    public static double RoundToBf16(double v)
    {
        if (v == 0 || double.IsNaN(v) || double.IsInfinity(v)) return v;
        double ulp = Math.ScaleB(1.0, Math.ILogB(v) - 7);
        return Math.Round(v / ulp, MidpointRounding.ToEven) * ulp;
    }

    public static bool IsNearBf16Midpoint(double v)
    {
        if (v == 0) return false;
        double ulp = Math.ScaleB(1.0, Math.ILogB(v) - 7);
        double midpoint = (Math.Floor(v / ulp) + 0.5) * ulp;
        return Math.Abs(v - midpoint) <= Math.ScaleB(Math.Abs(v), -36);
    }

    private static ushort Bf16Bits(double bf16Value) => (ushort)(BitConverter.SingleToUInt32Bits((float)bf16Value) >> 16);

    public static Dictionary<string, object> Parameters(params (string Name, object Value)[] values)
        => values.ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
}
