using System.Text.Json;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Adapters;

/// <summary>A temporary directory with a tiny llama-named base model and PEFT adapters whose factors the test chooses.
/// Values are encoded in the test (float32 bits, bf16 by its own rounding), written with the repo's safetensors writer.
/// Shared by the Merge and Tool tests (linked into the Tool test project).</summary>
public sealed class AdapterFixture : IDisposable
{
    public const int Vocab = 10, Hidden = 4, Inter = 6;

    public AdapterFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dotnet-merge-tests", "lora-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>The base's tensors and shapes (one layer; q_proj has a bias for the lora_bias case).</summary>
    public static readonly (string Name, long[] Shape)[] BaseTensors =
    [
        ("model.embed_tokens.weight", [Vocab, Hidden]),
        ("model.layers.0.self_attn.q_proj.weight", [Hidden, Hidden]),
        ("model.layers.0.self_attn.q_proj.bias", [Hidden]),
        ("model.layers.0.mlp.up_proj.weight", [Inter, Hidden]),
        ("model.layers.0.mlp.down_proj.weight", [Hidden, Inter]),
        ("model.norm.weight", [Hidden]),
        ("lm_head.weight", [Vocab, Hidden]),
    ];

    /// <summary>Deterministic values, exact in bf16 (8 significant bits), different per tensor.</summary>
    public static double[] Values(long count, int seed, double scale = 1)
    {
        var v = new double[count];
        for (long i = 0; i < count; i++) v[i] = scale * (((i * 37 + seed * 11) % 29) - 14) / 16.0;
        return v;
    }

    /// <summary>The base model <paramref name="name"/>: tensors from <see cref="Values"/>, a llama config.</summary>
    public async Task<string> BaseAsync(string name = "base", Dtype dtype = Dtype.F32, string? nameOrPath = "org/tiny-base")
    {
        var dir = PathOf(name);
        Directory.CreateDirectory(dir);
        int seed = 1;
        await WriteAsync(Path.Combine(dir, "model.safetensors"), BaseTensors.Select(t => (t.Name, t.Shape, Values(t.Shape.Aggregate(1L, (a, b) => a * b), seed++))).ToList(), dtype);
        var config = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama", ["vocab_size"] = Vocab, ["hidden_size"] = Hidden,
            ["num_hidden_layers"] = 1, ["torch_dtype"] = dtype == Dtype.BF16 ? "bfloat16" : "float32", ["_name_or_path"] = nameOrPath,
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        return dir;
    }

    /// <summary>Writes a PEFT adapter: <paramref name="config"/> as adapter_config.json, <paramref name="tensors"/>
    /// (names without the <c>base_model.model.</c> prefix) as adapter_model.safetensors.</summary>
    public async Task<string> AdapterAsync(string name, object config, IReadOnlyList<(string Name, long[] Shape, double[] Values)> tensors, Dtype dtype = Dtype.F32)
    {
        var dir = PathOf(name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), JsonSerializer.Serialize(config));
        await WriteAsync(Path.Combine(dir, "adapter_model.safetensors"), tensors.Select(t => ("base_model.model." + t.Name, t.Shape, t.Values)).ToList(), dtype);
        return dir;
    }

    public static async Task WriteAsync(string path, IReadOnlyList<(string Name, long[] Shape, double[] Values)> tensors, Dtype dtype)
    {
        await using var writer = SafetensorsWriter.Create(path, tensors.Select(t => new OutputTensor(t.Name, dtype, t.Shape)).ToList());
        foreach (var t in tensors) await writer.WriteTensorAsync(t.Name, Encode(t.Values, dtype));
        await writer.CompleteAsync();
    }

    /// <summary>Encoding written here, independent of the product's conversions.</summary>
    public static byte[] Encode(double[] values, Dtype dtype)
    {
        if (dtype == Dtype.F32) return values.SelectMany(v => BitConverter.GetBytes((float)v)).ToArray();
        if (dtype != Dtype.BF16) throw new ArgumentOutOfRangeException(nameof(dtype));
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            uint bits = (uint)BitConverter.SingleToInt32Bits((float)values[i]);
            uint rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
            bytes[2 * i] = (byte)rounded;
            bytes[2 * i + 1] = (byte)(rounded >> 8);
        }
        return bytes;
    }

    /// <summary>The base tensor's values as written (the base is exact in both dtypes).</summary>
    public static double[] BaseValues(string tensor)
    {
        int index = Array.FindIndex(BaseTensors, t => t.Name == tensor);
        var shape = BaseTensors[index].Shape;
        return Values(shape.Aggregate(1L, (a, b) => a * b), index + 1);
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}
