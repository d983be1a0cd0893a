using DotnetMerge.Demo;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Tests;

/// <summary>A temporary directory with generated llama-shaped models, removed after the test.</summary>
public sealed class TestWorkspace : IDisposable
{
    public TestWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), "dotnet-merge-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string PathOf(params string[] parts) => Path.Combine(new[] { Root }.Concat(parts).ToArray());

    public static readonly LlamaSpec SmallSpec = new(Layers: 4, Hidden: 32, Intermediate: 48, Vocab: 96, Heads: 4, KvHeads: 2);

    public async Task<string> BaseAsync(LlamaSpec? spec = null, string name = "base")
    {
        var dir = PathOf("models", name);
        await SyntheticModels.WriteBaseAsync(dir, spec ?? SmallSpec);
        return dir;
    }

    public async Task<string> FineTuneAsync(string name, string filter, int fromLayer, LlamaSpec? spec = null, double density = 1.0)
    {
        var dir = PathOf("models", name);
        await SyntheticModels.WriteFineTuneAsync(dir, spec ?? SmallSpec, new FineTune(name, filter, fromLayer, 0.05, density, StableSeed(name)));
        return dir;
    }

    /// <summary>A seed derived from the name that is the same in every process (string.GetHashCode is randomised).</summary>
    private static ulong StableSeed(string name) => name.Aggregate(1469598103UL, (h, c) => (h ^ c) * 1099511628211UL) & 0xFFFF;

    public string Write(string relative, string text)
    {
        var path = PathOf(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Reads a tensor of a model directory as float64 (through the reader, which has its own tests).</summary>
    public static double[] ReadTensor(string modelDirectory, string name)
    {
        using var checkpoint = ModelCheckpoint.Open(modelDirectory);
        Assert.True(checkpoint.TryGetTensor(name, out var info, out var file), $"tensor {name} missing from {modelDirectory}");
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        return DecodeIndependently(info.Dtype, bytes);
    }

    public static (Dtype Dtype, long[] Shape, byte[] Bytes) ReadRaw(string modelDirectory, string name)
    {
        using var checkpoint = ModelCheckpoint.Open(modelDirectory);
        Assert.True(checkpoint.TryGetTensor(name, out var info, out var file), $"tensor {name} missing from {modelDirectory}");
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        return (info.Dtype, info.Shape, bytes);
    }

    /// <summary>Decoding written in the test, independent of the product's conversions.</summary>
    public static double[] DecodeIndependently(Dtype dtype, byte[] bytes)
    {
        switch (dtype)
        {
            case Dtype.BF16:
            {
                var r = new double[bytes.Length / 2];
                for (int i = 0; i < r.Length; i++) r[i] = BitConverter.Int32BitsToSingle((bytes[2 * i] | bytes[2 * i + 1] << 8) << 16);
                return r;
            }
            case Dtype.F32:
            {
                var r = new double[bytes.Length / 4];
                for (int i = 0; i < r.Length; i++) r[i] = BitConverter.ToSingle(bytes, 4 * i);
                return r;
            }
            default: throw new NotSupportedException(dtype.ToString());
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Rounding a float64 reference to bf16, written independently of the product.</summary>
public static class Bf16Reference
{
    public static ushort Round(double value)
    {
        float f = (float)value; // exact enough: the double->float step only matters near bf16 midpoints, which are excluded below
        uint bits = BitConverter.SingleToUInt32Bits(f);
        uint lower = bits & 0xFFFF;
        uint upper = bits >> 16;
        if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1)) upper++;
        return (ushort)upper;
    }

    /// <summary>True when <paramref name="value"/> lies so close to a bf16 rounding midpoint that float32 arithmetic may
    /// legitimately round it the other way.</summary>
    public static bool NearMidpoint(double value)
    {
        if (value == 0) return false;
        double ulp = Math.Pow(2, Math.Floor(Math.Log2(Math.Abs(value))) - 7);
        double scaled = Math.Abs(value) / ulp;
        double frac = scaled - Math.Floor(scaled);
        return Math.Abs(frac - 0.5) < 1.0 / 4096;
    }

    /// <summary>Asserts bf16 output bits equal the reference rounded once (near-midpoint elements may differ by one ulp).</summary>
    public static void AssertEqual(double[] reference, byte[] actual, string what)
    {
        Assert.Equal(reference.Length * 2, actual.Length);
        int nearMidpoint = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            ushort expected = Round(reference[i]);
            ushort got = (ushort)(actual[2 * i] | actual[2 * i + 1] << 8);
            if (expected == got) continue;
            if (NearMidpoint(reference[i]) && Math.Abs(expected - got) == 1) { nearMidpoint++; continue; }
            Assert.Fail($"{what}[{i}]: expected bf16 0x{expected:X4} ({reference[i]}), got 0x{got:X4}");
        }
        Assert.True(nearMidpoint <= Math.Max(2, reference.Length / 1000), $"{what}: {nearMidpoint} near-midpoint differences");
    }
}
