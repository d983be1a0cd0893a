using DotnetMerge.Adapters;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Adapters;

/// <summary>The LoRA delta kernel (<see cref="DeltaFactors.DeltaRows"/>) against a scalar float64 reference written
/// here: Σₖ L[i, k]·R[k, j] with k ascending, each product rounded before it is added, so equality is exact (the factors
/// are float32 values, as every adapter's are, so the kernel's fused multiply-adds round the same sums). The shapes
/// exercise the register tile (blocks of eight rows), the one-row path (a short block, a block with a zero factor, which
/// skips that term: an infinite R entry times zero adds nothing), column tails inside a padded tile, and panels that
/// start past column 0. <see cref="AdaptedTensor.Apply"/> is checked whole against W + s·L·R rounded to bf16 here.</summary>
public sealed class DeltaKernelTests
{
    /// <summary>float32 values with exponents over a wide range (so a fused multiply-add that rounded differently from
    /// a multiply then an add would show), both signs.</summary>
    private static double[] Random(int count, int seed, int exponents = 40)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => (double)(float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-exponents, exponents + 1))))
            .ToArray();
    }

    private static double Reference(double[] left, double[] right, int rank, int cols, int row, int col)
    {
        double sum = 0;
        for (int k = 0; k < rank; k++)
        {
            double l = left[row * rank + k];
            if (l == 0) continue;
            double product = right[k * cols + col] * l; // rounded to float64 before the add
            sum += product;
        }
        return sum;
    }

    [Theory]
    [InlineData(9, 37, 5)]
    [InlineData(16, 64, 16)]
    [InlineData(8, 3, 1)]
    [InlineData(27, 129, 8)]
    [InlineData(19, 700, 16)]
    public void EveryRowEqualsTheScalarReference_InAnyBlockAndPanel(int rows, int cols, int rank)
    {
        var left = Random(rows * rank, 1);
        var right = Random(rank * cols, 2);
        left[Math.Min(rows - 1, 9) * rank] = 0; // the block holding row 9 (or the last) has a zero factor: one-row path
        var factors = new DeltaFactors(left, right, rows, rank, cols);
        int tile = DeltaFactors.TileColumns;
        int panel = Math.Max(tile, 256 / tile * tile / 2); // panels narrower than the row, each starting on a tile
        var delta = new double[DeltaFactors.RowBlock * panel];
        for (int first = 0; first < rows; first += DeltaFactors.RowBlock)
        {
            int count = Math.Min(DeltaFactors.RowBlock, rows - first);
            for (int c0 = 0; c0 < cols; c0 += panel)
            {
                int n = Math.Min(panel, cols - c0);
                Array.Fill(delta, double.NaN);
                factors.DeltaRows(first, count, c0, n, delta, panel);
                for (int i = 0; i < count; i++)
                    for (int j = 0; j < n; j++)
                        Assert.Equal(Reference(left, right, rank, cols, first + i, c0 + j), delta[i * panel + j]);
            }
        }
        // A row computed alone equals the same row computed in its block.
        int padded = DeltaFactors.PaddedColumns(cols);
        var single = new double[padded];
        factors.DeltaRows(rows - 1, 1, 0, cols, single, padded);
        for (int j = 0; j < cols; j++) Assert.Equal(Reference(left, right, rank, cols, rows - 1, j), single[j]);
    }

    [Fact]
    public void AZeroFactorSkipsItsTerm_SoAnInfiniteEntryTimesZeroIsNotNaN()
    {
        const int rows = 8, cols = 16, rank = 2;
        var left = Enumerable.Repeat(0.5, rows * rank).ToArray();
        var right = Enumerable.Repeat(1.0, rank * cols).ToArray();
        right[cols + 3] = double.PositiveInfinity; // R[1, 3]
        left[2 * rank + 1] = 0;                    // L[2, 1]: row 2 never uses R[1, :]
        var factors = new DeltaFactors(left, right, rows, rank, cols);
        int padded = DeltaFactors.PaddedColumns(cols);
        var delta = new double[rows * padded];
        factors.DeltaRows(0, rows, 0, cols, delta, padded);
        Assert.Equal(0.5, delta[2 * padded + 3]);
        Assert.Equal(double.PositiveInfinity, delta[3]);
        Assert.Equal(1.0, delta[4]);
        Assert.Equal(double.PositiveInfinity, delta[7 * padded + 3]);
    }

    [Fact]
    public void AFactorThatIsNotAFloat32Value_IsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new DeltaFactors([0.1], [1.0], 1, 1, 1));
        Assert.Contains("not a float32 value", e.Message);
    }

    /// <summary>A whole bf16 tensor adapted: 21 rows (two register blocks and a short one) by 300 columns (a column
    /// tail past the last whole vector), or 9 rows by 4130 columns (two panels), against W + s·B·A in float64, rounded
    /// here to float32 and then to bf16 (nearest-even), bit for bit.</summary>
    [Theory]
    [InlineData(21, 300)]
    [InlineData(9, AdaptedTensor.PanelColumns + 34)]
    public async Task AnAdaptedBf16Tensor_EqualsTheReferenceRoundedHere_InEveryElement(int rows, int cols)
    {
        const int rank = 16;
        const double scale = 2;
        using var fx = new AdapterFixture();
        var w = Random(rows * cols, 3, exponents: 3).Select(v => Bf16(v)).ToArray();
        var a = Random(rank * cols, 4, exponents: 3).Select(v => Bf16(v) / 64).ToArray();
        var b = Random(rows * rank, 5, exponents: 3).Select(v => Bf16(v) / 64).ToArray();
        var basePath = fx.PathOf("w.safetensors");
        var adapterPath = fx.PathOf("ab.safetensors");
        await AdapterFixture.WriteAsync(basePath, [("w", [rows, cols], w)], Dtype.BF16);
        await AdapterFixture.WriteAsync(adapterPath, [("a", [rank, cols], a), ("b", [rows, rank], b)], Dtype.BF16);
        using var baseFile = SafetensorsFile.Open(basePath);
        using var adapterFile = SafetensorsFile.Open(adapterPath);
        var adapted = new AdaptedTensor("w", LoraOrientation.Linear, baseFile, baseFile.Header.Find("w")!, adapterFile,
            adapterFile.Header.Find("a")!, adapterFile.Header.Find("b")!, scale, magnitude: null);
        var output = new byte[2 * rows * cols];
        adapted.Apply(output, new ExecutionSettings(2), CancellationToken.None);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                double d = 0;
                for (int k = 0; k < rank; k++) d += b[i * rank + k] * a[k * cols + j];
                uint expected = Bf16Bits((float)(w[i * cols + j] + scale * d));
                int at = 2 * (i * cols + j);
                Assert.True(expected == (uint)(output[at] | output[at + 1] << 8), $"element [{i}, {j}]");
            }
    }

    /// <summary>DoRA on whole float32 tensors of 21 rows (two register blocks and a short one): row-wise for nn.Linear
    /// (m[o] / ‖V[o, :]‖ · V[o, :]) and column-wise for fan_in_fan_out (m[o] / ‖V[:, o]‖ · V[:, o], W stored [in, out]),
    /// V = W + s·ΔW, against float64 written here, within half an ulp of float32 (the norms' summation order differs).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DoraOnWholeTensors_EqualsTheReference_WithinFloat32Rounding(bool fanInFanOut)
    {
        const int stored0 = 21, stored1 = 40, rank = 4;
        const double scale = 0.5;
        int outDim = fanInFanOut ? stored1 : stored0, inDim = fanInFanOut ? stored0 : stored1;
        using var fx = new AdapterFixture();
        var w = Random(stored0 * stored1, 6, exponents: 2);
        var a = Random(rank * inDim, 7, exponents: 2);
        var b = Random(outDim * rank, 8, exponents: 2);
        var m = Random(outDim, 9, exponents: 1).Select(x => (double)(float)(Math.Abs(x) + 1)).ToArray(); // float32 values, as stored
        await AdapterFixture.WriteAsync(fx.PathOf("w.safetensors"), [("w", [stored0, stored1], w)], Dtype.F32);
        await AdapterFixture.WriteAsync(fx.PathOf("ab.safetensors"), [("a", [rank, inDim], a), ("b", [outDim, rank], b), ("m", [outDim], m)], Dtype.F32);
        using var baseFile = SafetensorsFile.Open(fx.PathOf("w.safetensors"));
        using var adapterFile = SafetensorsFile.Open(fx.PathOf("ab.safetensors"));
        var adapted = new AdaptedTensor("w", fanInFanOut ? LoraOrientation.FanInFanOut : LoraOrientation.Linear, baseFile, baseFile.Header.Find("w")!,
            adapterFile, adapterFile.Header.Find("a")!, adapterFile.Header.Find("b")!, scale, adapterFile.Header.Find("m")!);
        var output = new byte[4 * stored0 * stored1];
        adapted.Apply(output, new ExecutionSettings(2), CancellationToken.None);

        // V in the stored layout: V[x, y] = W[x, y] + s·Σₖ B[o, k]·A[k, i], (o, i) = (x, y) or (y, x).
        var v = new double[stored0 * stored1];
        for (int x = 0; x < stored0; x++)
            for (int y = 0; y < stored1; y++)
            {
                int o = fanInFanOut ? y : x, i = fanInFanOut ? x : y;
                double d = 0;
                for (int k = 0; k < rank; k++) d += b[o * rank + k] * a[k * inDim + i];
                v[x * stored1 + y] = w[x * stored1 + y] + scale * d;
            }
        for (int o = 0; o < outDim; o++)
        {
            double norm = 0;
            for (int i = 0; i < inDim; i++) { double e = v[fanInFanOut ? i * stored1 + o : o * stored1 + i]; norm += e * e; }
            for (int i = 0; i < inDim; i++)
            {
                int at = fanInFanOut ? i * stored1 + o : o * stored1 + i;
                double expected = m[o] / Math.Sqrt(norm) * v[at];
                double actual = BitConverter.ToSingle(output, 4 * at);
                double ulp = Math.Pow(2, Math.Floor(Math.Log2(Math.Abs(expected))) - 23);
                Assert.True(Math.Abs(actual - expected) <= 0.5 * ulp * (1 + 1e-6), $"[{at / stored1}, {at % stored1}]: {actual:R} vs {expected:R}");
            }
        }
    }

    private static uint Bf16Bits(float value)
    {
        uint bits = (uint)BitConverter.SingleToInt32Bits(value);
        return (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
    }

    private static double Bf16(double value) => BitConverter.Int32BitsToSingle((int)(Bf16Bits((float)value) << 16));
}
