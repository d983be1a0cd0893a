using DotnetMerge.Deltas;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Soups;

public sealed class LowRankTests : IDisposable
{
    private readonly SoupFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private static double RelativeError(double[] d, double[] b, double[] a, int m, int n, int r)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double rec = 0;
                for (int k = 0; k < r; k++) rec += b[i * r + k] * a[k * n + j];
                err += (d[i * n + j] - rec) * (d[i * n + j] - rec);
                norm += d[i * n + j] * d[i * n + j];
            }
        return Math.Sqrt(err / norm);
    }

    [Theory]
    [InlineData(12, 30)]
    [InlineData(30, 12)]
    public void FullRank_ReconstructsExactly(int m, int n)
    {
        var d = SoupFixture.Random(m * n, 42);
        var (b, a, r) = LowRank.Factorize(d, m, n, Math.Min(m, n), 7);
        Assert.Equal(Math.Min(m, n), r);
        Assert.True(RelativeError(d, b, a, m, n, r) < 1e-12);
    }

    [Fact]
    public void TruncatedRank_HasTheEckartYoungError()
    {
        // D = Σ s_i e_{p(i)} e_{q(i)}ᵀ: singular values s_i, known without any SVD.
        int m = 20, n = 16;
        double[] s = { 9, 7, 5, 3, 2, 1 };
        int[] rows = { 3, 17, 0, 8, 11, 5 }, cols = { 10, 2, 15, 7, 0, 4 };
        var d = new double[m * n];
        for (int i = 0; i < s.Length; i++) d[rows[i] * n + cols[i]] = s[i];
        for (int rank = 1; rank <= 4; rank++)
        {
            var (b, a, r) = LowRank.Factorize(d, m, n, rank, 3);
            double expected = Math.Sqrt(s.Skip(rank).Sum(x => x * x) / s.Sum(x => x * x));
            Assert.Equal(expected, RelativeError(d, b, a, m, n, r), 9);
        }
    }

    [Fact]
    public void SymmetricEigen_DiagonalisesAKnownMatrix()
    {
        var a = new double[,] { { 2, 1, 0 }, { 1, 2, 0 }, { 0, 0, 5 } }; // eigenvalues 1, 3, 5
        var (values, vectors) = DotnetMerge.Numerics.SymmetricEigen.Decompose(a);
        Assert.Equal(new[] { 1.0, 3.0, 5.0 }, values.Order(), (x, y) => Math.Abs(x - y) < 1e-12);
        for (int e = 0; e < 3; e++)
            for (int i = 0; i < 3; i++)
            {
                double av = 0;
                for (int j = 0; j < 3; j++) av += a[i, j] * vectors[j, e];
                Assert.Equal(values[e] * vectors[i, e], av, 12);
            }
    }

    [Fact]
    public async Task Extract_Rank1Delta_ReconstructsExactly_AndApplyRestoresTheFineTune()
    {
        int m = 24, n = 16;
        // small dyadic numbers: base + u·vᵀ is exact in float32, so the stored delta is exactly rank 1
        var rng = new Random(5);
        var baseValues = Enumerable.Range(0, m * n).Select(_ => rng.Next(-64, 64) / 32.0).ToArray();
        var u = Enumerable.Range(0, m).Select(_ => rng.Next(1, 16) / 4.0).ToArray();
        var v = Enumerable.Range(0, n).Select(_ => rng.Next(-16, 16) / 256.0).ToArray();
        var ftValues = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) ftValues[i * n + j] = baseValues[i * n + j] + u[i] * v[j];
        var b = _fx.Write("base", Dtype.F32, (SoupFixture.Up, new long[] { m, n }, baseValues), (SoupFixture.Norm, new long[] { n }, SoupFixture.Constant(n, 1)));
        var f = _fx.Write("ft", Dtype.F32, (SoupFixture.Up, new long[] { m, n }, ftValues), (SoupFixture.Norm, new long[] { n }, SoupFixture.Constant(n, 1.25)));
        var tv = _fx.PathOf("tv");
        var result = await TaskVector.ExtractAsync(b, f, tv, new ExtractOptions { Rank = 1 });
        Assert.Equal(1, result.FactoredCount);
        var up = result.Errors.Single(e => e.Name == SoupFixture.Up);
        Assert.Equal(1, up.Rank);
        Assert.True(up.RelativeError < 1e-6, up.RelativeError.ToString());
        using (var checkpoint = ModelCheckpoint.Open(tv))
        {
            Assert.True(checkpoint.TryGetTensor(SoupFixture.Up + ".lora_A", out var aInfo, out _));
            Assert.True(checkpoint.TryGetTensor(SoupFixture.Up + ".lora_B", out var bInfo, out _));
            Assert.Equal(new long[] { 1, n }, aInfo.Shape);
            Assert.Equal(new long[] { m, 1 }, bInfo.Shape);
            Assert.False(checkpoint.TryGetTensor(SoupFixture.Up, out _, out _));
        }
        Assert.Equal(1, TaskVectorInfo.Read(tv).Rank);

        var applied = _fx.PathOf("applied");
        await TaskVector.ApplyAsync(b, new[] { new ScaledTaskVector(tv, 1) }, applied, new ApplyOptions());
        var got = SoupFixture.Read(applied, SoupFixture.Up);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - ftValues[i]) <= 1e-6 * Math.Abs(ftValues[i]) + 1e-9, $"[{i}] {got[i]} vs {ftValues[i]}");
        Assert.Equal(SoupFixture.Constant(n, 1.25), SoupFixture.Read(applied, SoupFixture.Norm));
    }

    [Fact]
    public async Task Extract_ReportedErrors_MatchAnIndependentComputationFromTheStoredFactors()
    {
        int m = 20, n = 18, rank = 3;
        var baseValues = SoupFixture.Random(m * n, 10);
        var ftValues = baseValues.Zip(SoupFixture.Random(m * n, 11, 0.05), (x, d) => (double)(float)(x + d)).ToArray();
        var b = _fx.Write("base", Dtype.F32, (SoupFixture.Up, new long[] { m, n }, baseValues), (SoupFixture.Norm, new long[] { n }, SoupFixture.Constant(n, 1)));
        var f = _fx.Write("ft", Dtype.F32, (SoupFixture.Up, new long[] { m, n }, ftValues), (SoupFixture.Norm, new long[] { n }, SoupFixture.Constant(n, 1.5)));
        var tv = _fx.PathOf("tv");
        var result = await TaskVector.ExtractAsync(b, f, tv, new ExtractOptions { Rank = rank, Dtype = Dtype.BF16 });

        var delta = ftValues.Zip(baseValues, (x, y) => x - (double)(float)y).ToArray();
        var aStored = SoupFixture.Read(tv, SoupFixture.Up + ".lora_A");
        var bStored = SoupFixture.Read(tv, SoupFixture.Up + ".lora_B");
        double upError = RelativeError(delta, bStored, aStored, m, n, rank);
        Assert.Equal(upError, result.Errors.Single(e => e.Name == SoupFixture.Up).RelativeError, 9);
        Assert.True(upError is > 0.3 and < 1, upError.ToString()); // random noise: rank 3 of 18 keeps little of it

        // the norm is stored whole in bf16: its error is the bf16 rounding of 0.5
        Assert.Equal(0, result.Errors.Single(e => e.Name == SoupFixture.Norm).RelativeError);
        double deltaNorm = delta.Sum(x => x * x), normNorm = n * 0.25;
        Assert.Equal(Math.Sqrt(upError * upError * deltaNorm / (deltaNorm + normNorm)), result.OverallRelativeError!.Value, 9);
    }
}
