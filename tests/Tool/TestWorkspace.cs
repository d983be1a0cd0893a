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
    /// <summary>The float64 value rounded once to bf16 (nearest, ties to even), with no float32 step: |value| over its bf16
    /// step (a power of two, so the division is exact) rounded to an integer by Math.Round, which is exact.</summary>
    public static ushort Round(double value)
    {
        if (double.IsNaN(value)) return 0x7FC0;
        double a = Math.Abs(value);
        double rounded = a;
        if (a != 0 && !double.IsInfinity(a))
        {
            double step = Math.ScaleB(1.0, Math.Max(Math.ILogB(a), -126) - 7);
            rounded = Math.Round(a / step, MidpointRounding.ToEven) * step;
        }
        uint bits = rounded > 3.3895313892515355e38 ? 0x7F80_0000u : BitConverter.SingleToUInt32Bits((float)rounded); // exact: a bf16 value
        return (ushort)((bits >> 16) | (value < 0 || (value == 0 && double.IsNegative(value)) ? 0x8000u : 0u));
    }

    /// <summary>True when <paramref name="value"/> lies within 2^-40 (relative) of a bf16 rounding midpoint, where a
    /// reference summed in another order than the product may fall on the other side of it (double rounding through
    /// float32 would show up to 2^-25 away, so it stays visible).</summary>
    public static bool NearMidpoint(double value)
    {
        if (value == 0 || !double.IsFinite(value)) return false;
        double a = Math.Abs(value), step = Math.ScaleB(1.0, Math.Max(Math.ILogB(a), -126) - 7);
        double midpoint = (Math.Floor(a / step) + 0.5) * step;
        return Math.Abs(a - midpoint) <= Math.ScaleB(a, -40);
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
