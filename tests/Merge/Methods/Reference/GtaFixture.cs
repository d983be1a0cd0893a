using System.Buffers.Binary;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tests.Methods.Reference;

/// <summary>One merge case built from float64 values: the inputs are stored in <see cref="Dtype"/> (rounded to
/// nearest-even by this file's own code), <see cref="Values"/> are the stored values read back exactly.</summary>
public sealed record GtaCase(TensorMergeContext Context, double[][] Values, byte[] Output, Dtype Dtype)
{
    public double[] Result() => GtaFixture.Read(Dtype, Output);
}

/// <summary>Builds <see cref="TensorMergeContext"/>s from double arrays and checks outputs against float64
/// references, independently of the product's dtype conversion code.</summary>
public static class GtaFixture
{
    public const string TensorName = "model.layers.0.mlp.down_proj.weight";

    /// <summary>A merge case; <paramref name="models"/>[i] are the values of input i (rounded to <paramref name="dtype"/>).</summary>
    public static GtaCase Build(long[] shape, Dtype dtype, double[][] models, int baseIndex,
        IDictionary<string, object> global, IReadOnlyList<IDictionary<string, object>> perModel,
        ulong seed = 42, ExecutionSettings? settings = null, string name = TensorName)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var inputs = new List<MergeInput>();
        var stored = new double[models.Length][];
        for (int i = 0; i < models.Length; i++)
        {
            if (models[i].Length != n) throw new ArgumentException("values do not match the shape");
            var bytes = Write(dtype, models[i]);
            stored[i] = Read(dtype, bytes);
            inputs.Add(new MergeInput($"model{i}", name, dtype, shape, bytes, i == baseIndex, new ParameterBag(perModel[i])));
        }
        var output = new byte[n * Size(dtype)];
        var ctx = new TensorMergeContext(name, inputs, baseIndex, new ParameterBag(global), shape, dtype, output, seed,
            isEmbedding: false, settings ?? new ExecutionSettings(2, 1024));
        return new GtaCase(ctx, stored, output, dtype);
    }

    public static int Size(Dtype dtype) => dtype switch { Dtype.F32 => 4, Dtype.BF16 => 2, _ => throw new NotSupportedException() };

    public static byte[] Write(Dtype dtype, double[] values)
    {
        var bytes = new byte[values.Length * Size(dtype)];
        for (int i = 0; i < values.Length; i++)
        {
            if (dtype == Dtype.F32) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), (float)values[i]);
            else BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), Bf16Bits(values[i]));
        }
        return bytes;
    }

    public static double[] Read(Dtype dtype, byte[] bytes)
    {
        int size = Size(dtype);
        var values = new double[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
            values[i] = dtype == Dtype.F32 ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i))
                : BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i)) << 16);
        return values;
    }

    /// <summary>The two bf16 values around |x| (x finite, within bf16 range) as doubles: lower, upper.</summary>
    private static (double Lower, double Upper) Bf16Bracket(double x)
    {
        double a = Math.Abs(x);
        int exponent = a == 0 ? -126 : Math.Max(Math.ILogB(a), -126);
        double ulp = Math.ScaleB(1.0, exponent - 7);
        double lower = Math.Floor(a / ulp) * ulp;
        return (lower, lower + ulp);
    }

    /// <summary>x rounded once to bf16 (nearest, ties to even), straight from float64.</summary>
    public static double RoundBf16(double x)
    {
        var (lower, upper) = Bf16Bracket(x);
        double a = Math.Abs(x), pick;
        if (a - lower < upper - a) pick = lower;
        else if (a - lower > upper - a) pick = upper;
        else pick = (BitConverter.SingleToInt32Bits((float)lower) >> 16 & 1) == 0 ? lower : upper;
        return Math.CopySign(pick, x);
    }

    private static ushort Bf16Bits(double x) => (ushort)(BitConverter.SingleToInt32Bits((float)RoundBf16(x)) >> 16);

    /// <summary>True when x is within 2^-40 (relative) of a bf16 rounding midpoint: where the reference's float64 sums,
    /// taken in another order than the product's, may fall on the other side of it. Double rounding through float32
    /// shows up to 2^-25 away from a midpoint, so this window leaves it visible (the product rounds once: exact).</summary>
    public static bool NearBf16Midpoint(double x)
    {
        var (lower, upper) = Bf16Bracket(x);
        return Math.Abs(Math.Abs(x) - (lower + upper) / 2) <= Math.ScaleB(Math.Abs(x), -40);
    }

    /// <summary>F32: within relative 1e-5 / absolute 1e-6. BF16: equal to the reference rounded once, except
    /// near-midpoint elements, which may be one ulp off (and must be rare).</summary>
    public static void AssertMatches(Dtype dtype, double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        int nearMidpoint = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (dtype == Dtype.F32)
            {
                double tolerance = 1e-5 * Math.Abs(expected[i]) + 1e-6;
                if (!(Math.Abs(expected[i] - actual[i]) <= tolerance))
                    Assert.Fail($"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
                continue;
            }
            double rounded = RoundBf16(expected[i]);
            if (rounded == actual[i]) continue;
            var (lower, upper) = Bf16Bracket(expected[i]);
            bool neighbour = Math.Sign(actual[i]) == Math.Sign(expected[i]) && (Math.Abs(actual[i]) == lower || Math.Abs(actual[i]) == upper);
            if (NearBf16Midpoint(expected[i]) && neighbour)
            {
                nearMidpoint++;
                continue;
            }
            Assert.Fail($"element {i}: expected {expected[i]:R} (bf16 {rounded:R}), got {actual[i]:R}");
        }
        Assert.True(nearMidpoint <= 2 + expected.Length / 1000, $"{nearMidpoint} near-midpoint differences in {expected.Length} elements");
    }

    public static void AssertMatches(GtaCase c, double[] expected) => AssertMatches(c.Dtype, expected, c.Result());

    /// <summary>Llama-like fixtures: a base ~ N(0, 0.02²) and fine-tunes = base + N(0, 0.004²) (seeded).</summary>
    public static double[][] LlamaLike(int seed, long n, int fineTunes, bool withBase = true)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var b = new double[n];
        for (long i = 0; i < n; i++) b[i] = 0.02 * Normal();
        var models = new List<double[]>();
        if (withBase) models.Add(b);
        for (int m = 0; m < fineTunes; m++)
        {
            var x = new double[n];
            for (long i = 0; i < n; i++) x[i] = b[i] + 0.004 * Normal();
            models.Add(x);
        }
        return models.ToArray();
    }

    public static Dictionary<string, object> Params(params (string Name, object Value)[] values)
        => values.ToDictionary(v => v.Name, v => v.Value);

    public static readonly long[][] Shapes = [[64, 48], [4096], [37, 129], [1, 1]];
}
