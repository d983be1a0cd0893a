using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Soups;

/// <summary>A temporary directory of tiny llama-named models whose tensors the test chooses.</summary>
internal sealed class SoupFixture : IDisposable
{
    public SoupFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dotnet-merge-soup-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public const string Norm = "model.norm.weight";
    public const string Up = "model.layers.0.mlp.up_proj.weight";
    public const string Embed = "model.embed_tokens.weight";

    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>Writes a model with the given tensors (values row-major) and a llama config.json.</summary>
    public string Write(string name, Dtype dtype, params (string Name, long[] Shape, double[] Values)[] tensors)
    {
        var dir = PathOf(name);
        Directory.CreateDirectory(dir);
        var declared = tensors.Select(t => new OutputTensor(t.Name, dtype, t.Shape)).ToList();
        var writer = new ShardedModelWriter(dir, declared, 0);
        try
        {
            foreach (var t in tensors)
                writer.WriteTensorAsync(t.Name, Encode(dtype, t.Values)).AsTask().GetAwaiter().GetResult();
            writer.CompleteAsync().AsTask().GetAwaiter().GetResult();
        }
        finally
        {
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        File.WriteAllText(Path.Combine(dir, "config.json"),
            """{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4, "num_hidden_layers": 1, "vocab_size": 6}""");
        return dir;
    }

    /// <summary>Encodes independently of the product: F32 by BitConverter, BF16 by round-to-nearest-even on the float bits.</summary>
    public static byte[] Encode(Dtype dtype, double[] values)
    {
        var bytes = new byte[values.Length * (dtype == Dtype.F32 ? 4 : 2)];
        for (int i = 0; i < values.Length; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits((float)values[i]);
            if (dtype == Dtype.F32) BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), bits);
            else
            {
                uint rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
                BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (ushort)rounded);
            }
        }
        return bytes;
    }

    /// <summary>Reads a tensor as float64, decoding independently of the product.</summary>
    public static double[] Read(string dir, string name, out Dtype dtype)
    {
        using var checkpoint = ModelCheckpoint.Open(dir);
        Assert.True(checkpoint.TryGetTensor(name, out var info, out var file), $"{name} missing from {dir}");
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        dtype = info.Dtype;
        int size = info.Dtype == Dtype.F32 ? 4 : 2;
        var values = new double[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
            values[i] = size == 4 ? BitConverter.ToSingle(bytes, 4 * i) : BitConverter.Int32BitsToSingle((bytes[2 * i] | bytes[2 * i + 1] << 8) << 16);
        return values;
    }

    public static double[] Read(string dir, string name) => Read(dir, name, out _);

    public static double[] Constant(int count, double value) => Enumerable.Repeat(value, count).ToArray();

    /// <summary>Deterministic pseudo-random values in [-scale, scale).</summary>
    public static double[] Random(int count, int seed, double scale = 1)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, count).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
