using System.Buffers.Binary;
using System.Numerics;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

/// <summary>The one-pass bf16 driver: element indices reach the kernel lanes (both halves of a bf16 vector, the tail,
/// unaligned chunks), SumTerms adds in LaneSum's order (checked against the rule written out here), and the pruned
/// task-arithmetic mixes give the same bytes on the one-pass path as on the chunk path.</summary>
public class Bf16LanesTests
{
    private static byte[] Bf16(float[] values)
    {
        var bytes = new byte[2 * values.Length];
        // Test values are exact in bf16 (the low 16 bits are zero): the bytes are the high halves.
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16));
        return bytes;
    }

    private static float ToBf16(double x) => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits((float)x) & 0xFFFF_0000u);

    private static TensorMergeContext Context(float[][] inputs, byte[] output, ExecutionSettings settings)
    {
        long n = inputs[0].Length;
        var models = inputs.Select((v, i) => new MergeInput("m" + i, "t", Dtype.BF16, [n], Bf16(v), i == 0, new ParameterBag(new Dictionary<string, object>()))).ToList();
        return new TensorMergeContext("t", models, 0, new ParameterBag(new Dictionary<string, object>()), [n], Dtype.BF16, output, 1, false, settings);
    }

    /// <summary>Output = input 0 + (index % 128): small integers, exact in bf16.</summary>
    private readonly struct IndexKernel : IIndexedElementwiseKernel
    {
        public Vector<float> Lanes(Span<Vector<float>> inputs, long index)
        {
            Span<float> offsets = stackalloc float[Vector<float>.Count];
            for (int l = 0; l < offsets.Length; l++) offsets[l] = (index + l) % 128;
            return inputs[0] + new Vector<float>(offsets);
        }

        public float Scalar(Span<float> inputs, long index) => inputs[0] + index % 128;
    }

    [Theory]
    [InlineData(1, 1 << 16)]
    [InlineData(2, 1000)]
    [InlineData(3, 77)]
    public void Kernels_see_the_element_index_of_their_lanes(int threads, int chunk)
    {
        const int n = 4099;
        var random = new Random(3);
        var x = Enumerable.Range(0, n).Select(_ => (float)random.Next(0, 8)).ToArray();
        var output = new byte[2 * n];
        var ctx = Context([x], output, new ExecutionSettings(threads, chunk));
        Assert.True(Bf16Lanes.Applies(ctx, ctx.Inputs));
        Bf16Lanes.MapIndexed(ctx, ctx.Inputs, new IndexKernel());
        for (int i = 0; i < n; i++)
        {
            float actual = BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(output.AsSpan(2 * i)) << 16);
            Assert.True(actual == x[i] + i % 128, $"element {i}: {actual}, expected {x[i] + i % 128}");
        }
    }

    /// <summary>Term 0: input 0; term 1: |input 1 − input 0|.</summary>
    private readonly struct TwoTerms : IElementwiseTerms
    {
        public int Count => 2;

        public void Lanes(Span<Vector<float>> inputs, long index, Span<Vector<float>> terms)
        {
            terms[0] = inputs[0];
            terms[1] = Vector.Abs(inputs[1] - inputs[0]);
        }

        public void Scalar(Span<float> inputs, long index, Span<float> terms)
        {
            terms[0] = inputs[0];
            terms[1] = MathF.Abs(inputs[1] - inputs[0]);
        }
    }

    /// <summary>The canonical order written out: spans of 65536, element j of a span into accumulator j % 16,
    /// the fixed tree, span totals added in order from +0.0.</summary>
    private static double Canonical(Func<int, double> term, int n, Func<int, int>? lane = null)
    {
        lane ??= j => j % 16;
        double total = 0;
        for (int start = 0; start < n; start += 1 << 16)
        {
            var s = new double[16];
            for (int j = 0; start + j < n && j < 1 << 16; j++) s[lane(j)] += term(start + j);
            var t = new double[8];
            for (int l = 0; l < 8; l++) t[l] = s[l] + s[l + 8];
            for (int l = 0; l < 4; l++) t[l] += t[l + 4];
            for (int l = 0; l < 2; l++) t[l] += t[l + 2];
            total += t[0] + t[1];
        }
        return total;
    }

    [Theory]
    [InlineData(5)]
    [InlineData(1000)]
    [InlineData((2 << 16) + 37)]
    public void Sum_terms_follow_the_canonical_lane_order(int n)
    {
        var random = new Random(n);
        float[] Values() => Enumerable.Range(0, n).Select(_ => ToBf16((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-30, 30)))).ToArray();
        var a = Values();
        var b = Values();
        if (n > 12)
        {
            // ±2^60 in accumulators 4 and 12: they cancel exactly in the tree's first level (s[4] + s[12]) and keep the
            // small values there; any other pairing adds the small values to 2^60 first and loses them.
            a[4] = MathF.ScaleB(1, 60);
            a[12] = -MathF.ScaleB(1, 60);
        }
        var ctx = Context([a, b], new byte[2 * n], new ExecutionSettings(2, 999));
        var sums = Bf16Lanes.SumTerms(ctx, ctx.Inputs, new TwoTerms());
        double expected0 = Canonical(j => a[j], n);
        double expected1 = Canonical(j => Math.Abs((double)(b[j] - a[j])), n);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected0), BitConverter.DoubleToInt64Bits(sums[0]));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected1), BitConverter.DoubleToInt64Bits(sums[1]));
        if (n > 1000)
        {
            // The data tells orders apart: a running sum, or accumulators 4-7 and 8-11 swapped, give other bits.
            double running = 0;
            foreach (float v in a) running += v;
            Assert.NotEqual(BitConverter.DoubleToInt64Bits(expected0), BitConverter.DoubleToInt64Bits(running));
            static int Swapped(int j) => (j % 16) switch { >= 4 and < 8 and var l => l + 4, >= 8 and < 12 and var l => l - 4, var l => l };
            Assert.NotEqual(BitConverter.DoubleToInt64Bits(expected0), BitConverter.DoubleToInt64Bits(Canonical(j => a[j], n, Swapped)));
        }
    }

    public static TheoryData<string, object> PrunedMethods => new()
    {
        { "ties", false }, { "dare_ties", true }, { "dare_ties", "inverse" }, { "dare_linear", "l1" },
        { "breadcrumbs_ties", false }, { "breadcrumbs", true }, { "task_arithmetic", false },
    };

    /// <summary>The same merge on bf16 inputs stored uncropped (one pass over the raw words) and stored with extra
    /// columns and cropped to the same values (the chunk path: decode to float32, prune, mix, encode): same bytes.</summary>
    [Theory]
    [MemberData(nameof(PrunedMethods))]
    public void One_pass_and_chunk_path_give_the_same_bytes(string method, object rescale)
    {
        const int rows = 61, cols = 257, storedCols = 260;
        var models = GtaFixture.LlamaLike(11, rows * storedCols, 3);
        // Many equal task-vector entries (on top of bf16's own repeats): ties at the selection thresholds.
        for (int i = 0; i < models[1].Length; i += 7) models[1][i] = models[0][i] + 0.00390625;
        var perModel = new List<IDictionary<string, object>> { GtaFixture.Params() };
        perModel.AddRange(new[] { 0.5, 0.3, 0.7 }.Select(w => (IDictionary<string, object>)GtaFixture.Params(
            ("weight", w), ("density", 0.4), ("gamma", 0.05), ("epsilon", 0.1))));
        var global = GtaFixture.Params(("normalize", true), ("rescale", rescale), ("lambda", 0.9));
        byte[] Merge(bool cropped)
        {
            var inputs = new List<MergeInput>();
            for (int m = 0; m < models.Length; m++)
            {
                var values = cropped ? models[m]
                    : Enumerable.Range(0, rows * cols).Select(i => models[m][i / cols * storedCols + i % cols]).ToArray();
                var input = new MergeInput("m" + m, GtaFixture.TensorName, Dtype.BF16, [rows, cropped ? storedCols : cols],
                    GtaFixture.Write(Dtype.BF16, values), m == 0, new ParameterBag(perModel[m]));
                inputs.Add(cropped ? input.CropTo([rows, cols]) : input);
            }
            var output = new byte[2 * rows * cols];
            var ctx = new TensorMergeContext(GtaFixture.TensorName, inputs, 0, new ParameterBag(global), [rows, cols], Dtype.BF16,
                output, 77, false, new ExecutionSettings(2, 1000));
            Assert.Equal(!cropped, Bf16Lanes.Applies(ctx, ctx.Inputs));
            MethodRegistry.Find(method)!.Merge(ctx);
            return output;
        }
        var onePass = Merge(cropped: false);
        Assert.Equal(Merge(cropped: true), onePass);
        Assert.Contains(onePass, b => b != 0);
    }
}
