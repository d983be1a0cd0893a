using DotnetMerge.Deltas;
using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Soups;

public sealed class TaskVectorTests : IDisposable
{
    private readonly SoupFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private static readonly string[] Names = { SoupFixture.Embed, SoupFixture.Up, SoupFixture.Norm };

    /// <summary>A bf16 base and a fine-tune that changes the embedding and the MLP, not the norm.</summary>
    private (string Base, string FineTune) Pair(string prefix = "", int seed = 1, Dtype dtype = Dtype.BF16)
    {
        var embed = SoupFixture.Random(24, seed, 0.5);
        var up = SoupFixture.Random(12, seed + 1, 0.5);
        var norm = SoupFixture.Constant(4, 1.0);
        var b = _fx.Write(prefix + "base", dtype, (SoupFixture.Embed, new long[] { 6, 4 }, embed), (SoupFixture.Up, new long[] { 3, 4 }, up), (SoupFixture.Norm, new long[] { 4 }, norm));
        var dEmbed = SoupFixture.Random(24, seed + 2, 0.01);
        var dUp = SoupFixture.Random(12, seed + 3, 0.01);
        var f = _fx.Write(prefix + "ft", dtype, (SoupFixture.Embed, new long[] { 6, 4 }, embed.Zip(dEmbed, (x, d) => x + d).ToArray()),
            (SoupFixture.Up, new long[] { 3, 4 }, up.Zip(dUp, (x, d) => x + d).ToArray()), (SoupFixture.Norm, new long[] { 4 }, norm));
        return (b, f);
    }

    [Fact]
    public async Task ExtractThenApplyWithLambdaOne_ReproducesTheFineTune()
    {
        var (b, f) = Pair();
        var tv = _fx.PathOf("tv");
        var extracted = await TaskVector.ExtractAsync(b, f, tv, new ExtractOptions());
        foreach (var name in Names)
        {
            var delta = SoupFixture.Read(tv, name, out var dtype);
            Assert.Equal(Dtype.F32, dtype);
            var expected = SoupFixture.Read(f, name).Zip(SoupFixture.Read(b, name), (x, y) => x - y).ToArray();
            Assert.Equal(expected, delta); // bf16 differences are exact in float32
        }
        var info = TaskVectorInfo.Read(tv);
        Assert.Equal(Path.GetFullPath(b), info.BasePath);
        Assert.Equal(ModelFingerprint.Compute(b), info.BaseFingerprint);
        Assert.Equal(extracted.BaseFingerprint, info.BaseFingerprint);
        Assert.True(File.Exists(Path.Combine(tv, "config.json")));
        Assert.Contains("task vector", File.ReadAllText(Path.Combine(tv, "README.md")));

        var applied = _fx.PathOf("applied");
        await TaskVector.ApplyAsync(b, new[] { new ScaledTaskVector(tv, 1.0) }, applied, new ApplyOptions());
        foreach (var name in Names) Assert.Equal(SoupFixture.Read(f, name), SoupFixture.Read(applied, name));
        Assert.True(File.Exists(Path.Combine(applied, "config.json")));
    }

    [Fact]
    public async Task Bf16TaskVector_ReproducesTheFineTuneToBf16Rounding()
    {
        var (b, f) = Pair();
        var tv = _fx.PathOf("tv");
        await TaskVector.ExtractAsync(b, f, tv, new ExtractOptions { Dtype = Dtype.BF16 });
        var applied = _fx.PathOf("applied");
        await TaskVector.ApplyAsync(b, new[] { new ScaledTaskVector(tv, 1.0) }, applied, new ApplyOptions());
        foreach (var name in Names)
        {
            var want = SoupFixture.Read(f, name);
            var got = SoupFixture.Read(applied, name);
            var delta = want.Zip(SoupFixture.Read(b, name), (x, y) => x - y).ToArray();
            for (int i = 0; i < want.Length; i++) // error of the bf16 delta (2^-9 relative) plus the final rounding (2^-9 relative)
                Assert.True(Math.Abs(got[i] - want[i]) <= Math.Abs(delta[i]) * Math.Pow(2, -8) + Math.Abs(want[i]) * Math.Pow(2, -8), $"{name}[{i}]");
        }
    }

    [Fact]
    public async Task NegateThenReAdd_ReturnsTheBase()
    {
        var (b, f) = Pair();
        var tv = _fx.PathOf("tv");
        await TaskVector.ExtractAsync(b, f, tv, new ExtractOptions());
        var both = _fx.PathOf("both");
        await TaskVector.ApplyAsync(b, new[] { new ScaledTaskVector(tv, -1), new ScaledTaskVector(tv, 1) }, both, new ApplyOptions());
        foreach (var name in Names) Assert.Equal(SoupFixture.Read(b, name), SoupFixture.Read(both, name));

        var negated = _fx.PathOf("negated");
        await TaskVector.ApplyAsync(b, new[] { ScaledTaskVector.Parse(tv + ":-1") }, negated, new ApplyOptions());
        var expected = SoupFixture.Read(b, SoupFixture.Up).Zip(SoupFixture.Read(f, SoupFixture.Up), (x, y) => 2 * x - y).ToArray();
        var got = SoupFixture.Read(negated, SoupFixture.Up);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expected[i]) <= Math.Abs(expected[i]) * Math.Pow(2, -8), $"negated[{i}]");

        // the negated model is another base for the fingerprint; re-adding needs --force-base and returns the base to bf16 rounding
        var back = _fx.PathOf("back");
        var result = await TaskVector.ApplyAsync(negated, new[] { ScaledTaskVector.Parse(tv + ":1") }, back, new ApplyOptions { ForceBase = true });
        Assert.Single(result.Warnings);
        var baseUp = SoupFixture.Read(b, SoupFixture.Up);
        var backUp = SoupFixture.Read(back, SoupFixture.Up);
        for (int i = 0; i < baseUp.Length; i++) Assert.True(Math.Abs(backUp[i] - baseUp[i]) <= Math.Abs(baseUp[i]) * Math.Pow(2, -7), $"back[{i}]");
        Assert.Equal(SoupFixture.Read(b, SoupFixture.Norm), SoupFixture.Read(back, SoupFixture.Norm));
    }

    [Fact]
    public async Task FingerprintMismatch_IsRefusedUnlessForced_AndNothingIsWritten()
    {
        var (b, f) = Pair();
        var (other, _) = Pair("other-", seed: 9); // same names, dtypes and shapes; other bytes
        var tv = _fx.PathOf("tv");
        await TaskVector.ExtractAsync(b, f, tv, new ExtractOptions());
        var output = _fx.PathOf("out");
        var e = await Assert.ThrowsAsync<MergeException>(() => TaskVector.ApplyAsync(other, new[] { new ScaledTaskVector(tv, 1) }, output, new ApplyOptions()));
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains("another base", e.Message);
        Assert.Contains("--force-base", e.Message);
        Assert.False(Directory.Exists(output));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_fx.Root), p => Path.GetFileName(p).StartsWith(".out", StringComparison.Ordinal));

        var forced = await TaskVector.ApplyAsync(other, new[] { new ScaledTaskVector(tv, 1) }, output, new ApplyOptions { ForceBase = true });
        Assert.Single(forced.Warnings);
        var expected = SoupFixture.Read(other, SoupFixture.Norm); // untouched by the delta (zero there)
        Assert.Equal(expected, SoupFixture.Read(output, SoupFixture.Norm));
    }

    [Fact]
    public async Task StructureMismatch_IsRefusedBeforeReadingTensors()
    {
        var (b, f) = Pair();
        var tv = _fx.PathOf("tv");
        await TaskVector.ExtractAsync(b, f, tv, new ExtractOptions());
        var small = _fx.Write("small", Dtype.BF16, (SoupFixture.Up, new long[] { 3, 4 }, SoupFixture.Random(12, 3)), (SoupFixture.Norm, new long[] { 4 }, SoupFixture.Constant(4, 1)));
        var e = await Assert.ThrowsAsync<MergeException>(() => TaskVector.ApplyAsync(small, new[] { new ScaledTaskVector(tv, 1) }, _fx.PathOf("out"), new ApplyOptions()));
        Assert.Contains("tensor names, dtypes or shapes", e.Message);
        // forced, the task vector still cannot add a tensor the base does not have
        var forced = await Assert.ThrowsAsync<MergeException>(() => TaskVector.ApplyAsync(small, new[] { new ScaledTaskVector(tv, 1) }, _fx.PathOf("out"), new ApplyOptions { ForceBase = true }));
        Assert.Contains(SoupFixture.Embed, forced.Message);
    }

    [Fact]
    public async Task NonFloatTensors_AreSkipped()
    {
        var b = _fx.PathOf("base");
        var f = _fx.PathOf("ft");
        foreach (var (dir, v) in new[] { (b, 1.0), (f, 1.5) })
        {
            Directory.CreateDirectory(dir);
            var tensors = new List<OutputTensor> { new(SoupFixture.Norm, Dtype.F32, new long[] { 4 }), new("model.position_ids", Dtype.I64, new long[] { 4 }) };
            await using var writer = new ShardedModelWriter(dir, tensors, 0);
            await writer.WriteTensorAsync(SoupFixture.Norm, SoupFixture.Encode(Dtype.F32, SoupFixture.Constant(4, v)));
            await writer.WriteTensorAsync("model.position_ids", new byte[32]);
            await writer.CompleteAsync();
        }
        var result = await TaskVector.ExtractAsync(b, f, _fx.PathOf("tv"), new ExtractOptions());
        Assert.Equal(new[] { "model.position_ids" }, result.Skipped);
        using var tv = ModelCheckpoint.Open(_fx.PathOf("tv"));
        Assert.Equal(new[] { SoupFixture.Norm }, tv.TensorNames);
    }
}
