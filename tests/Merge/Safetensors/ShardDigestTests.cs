using System.Diagnostics;
using System.IO.Hashing;
using System.Security.Cryptography;
using DotnetMerge.Numerics;
using DotnetMerge.Output;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Safetensors;

/// <summary>Issue 19: a shard is digested while it is written (header, padding and data), and the digest is that of the
/// finished file: sha256 as sha256sum computes it from the file, XxHash128 as a one-shot hash of the file's bytes.</summary>
public class ShardDigestTests
{
    /// <summary>Small tensors (gathered in the pipe), one over the direct-write threshold (256 KiB, written straight from
    /// the caller's buffer) and names whose header needs padding to a multiple of 8.</summary>
    private static (OutputTensor[] Tensors, byte[][] Data) Fixture()
    {
        var rng = new Random(19);
        OutputTensor[] tensors =
        [
            new("model.embed_tokens.weight", Dtype.BF16, [3, 5]), new("a.norm", Dtype.F32, [7]),
            new("big", Dtype.BF16, [400, 512]), new("b", Dtype.U8, [13]), new("c.bias", Dtype.F16, [9]),
        ];
        var data = tensors.Select(t => { var b = new byte[t.ByteLength]; rng.NextBytes(b); return b; }).ToArray();
        return (tensors, data);
    }

    private static string Sha256Sum(string path)
    {
        var info = new ProcessStartInfo("sha256sum", [path]) { RedirectStandardOutput = true };
        using var p = Process.Start(info)!;
        string line = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return line.Split(' ')[0];
    }

    [Theory]
    [InlineData(ShardDigests.WithSha256, 0L)]      // one model.safetensors
    [InlineData(ShardDigests.WithSha256, 1000L)]   // several shards, the big tensor alone in one
    [InlineData(ShardDigests.Fast, 1000L)]
    public async Task EachShardsDigest_IsThatOfTheFinishedFile(ShardDigests digests, long maxShardBytes)
    {
        using var dir = new TempDirectory();
        var (tensors, data) = Fixture();
        var seen = new List<(string File, FileDigest Digest)>();
        await using (var writer = new ShardedModelWriter(dir.Path, tensors, maxShardBytes, new Dictionary<string, string> { ["note"] = "x" })
        {
            Digests = digests, ShardCompleted = (file, d) => seen.Add((file, d)),
        })
        {
            for (int i = 0; i < tensors.Length; i++) await writer.WriteTensorAsync(tensors[i].Name, data[i]);
            await writer.CompleteAsync();
        }
        var shards = Directory.GetFiles(dir.Path, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(shards, seen.Select(s => s.File));
        Assert.Equal(maxShardBytes == 0 ? 1 : 3, shards.Count);
        foreach (var (file, digest) in seen)
        {
            var path = Path.Combine(dir.Path, file);
            var bytes = File.ReadAllBytes(path);
            Assert.Equal(bytes.Length, digest.Size);
            Assert.Equal(Convert.ToHexStringLower(XxHash128.Hash(bytes)), digest.Xxh128);
            if (digests == ShardDigests.WithSha256)
            {
                Assert.Equal(Sha256Sum(path), digest.Sha256);
                Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), digest.Sha256);
            }
            else Assert.Null(digest.Sha256);
            // Read back, the file gives the same digest.
            Assert.Equal(digest with { Sha256 = digest.Sha256 is null ? null : Sha256Sum(path) },
                await FileDigest.OfFileAsync(path, digest.Sha256 is not null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task WithoutDigests_NoShardIsReported()
    {
        using var dir = new TempDirectory();
        var (tensors, data) = Fixture();
        int calls = 0;
        await using (var writer = new ShardedModelWriter(dir.Path, tensors, 1000) { ShardCompleted = (_, _) => calls++ })
        {
            for (int i = 0; i < tensors.Length; i++) await writer.WriteTensorAsync(tensors[i].Name, data[i]);
            await writer.CompleteAsync();
        }
        Assert.Equal(0, calls);
    }
}
