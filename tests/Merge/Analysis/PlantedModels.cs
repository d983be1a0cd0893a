using System.Globalization;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Analysis;

/// <summary>A base and three fine-tunes (float32, llama tensor names) with planted structure, every value exact in
/// float32 so that x − base is the planted delta exactly:
/// <list type="bullet">
/// <item>A changes every element by ±j/64 (j = 1..32);</item>
/// <item>B reverses A's change on elements i ≡ 0 (mod 4), repeats it on i ≡ 1, 2 and leaves i ≡ 3 alone: among the
/// elements both change, exactly 1/3 have opposite signs;</item>
/// <item>C is A scaled 10×: ten times A's relative norm, cosine 1, no conflict.</item>
/// </list></summary>
internal sealed class PlantedModels : IDisposable
{
    public const int Hidden = 8, Vocab = 12;

    /// <param name="intermediate">MLP width: above 8192 the up projection spans several 65536-element chunks.</param>
    public PlantedModels(int layers = 4, int intermediate = 16)
    {
        Layers = layers;
        Intermediate = intermediate;
        Root = Path.Combine(Path.GetTempPath(), "dotnet-merge-analysis-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        foreach (var (name, _) in Tensors)
        {
            var b = BaseValues(name);
            Base[name] = b;
            var a = DeltaA(name);
            Deltas["a"][name] = a;
            Deltas["b"][name] = a.Select((v, i) => (i % 4) switch { 0 => -v, 3 => 0, _ => v }).ToArray();
            Deltas["c"][name] = a.Select(v => 10 * v).ToArray();
        }
        Write("base", n => Base[n]);
        foreach (var model in Deltas.Keys) Write(model, n => Base[n].Zip(Deltas[model][n], (x, d) => x + d).ToArray());
    }

    public int Layers { get; }
    public int Intermediate { get; }
    public string Root { get; }
    public string PathOf(string name) => Path.Combine(Root, name);

    public Dictionary<string, double[]> Base { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, Dictionary<string, double[]>> Deltas { get; } = new(StringComparer.Ordinal)
    {
        ["a"] = new(StringComparer.Ordinal), ["b"] = new(StringComparer.Ordinal), ["c"] = new(StringComparer.Ordinal),
    };

    public IEnumerable<(string Name, long[] Shape)> Tensors
    {
        get
        {
            yield return ("model.embed_tokens.weight", [Vocab, Hidden]);
            for (int l = 0; l < Layers; l++)
            {
                string p = "model.layers." + l.ToString(CultureInfo.InvariantCulture) + ".";
                yield return (p + "input_layernorm.weight", [Hidden]);
                yield return (p + "self_attn.q_proj.weight", [Hidden, Hidden]);
                yield return (p + "mlp.up_proj.weight", [Intermediate, Hidden]);
            }
            yield return ("model.norm.weight", [Hidden]);
            yield return ("lm_head.weight", [Vocab, Hidden]);
        }
    }

    /// <summary>The layer of a tensor name (-1 outside the layers), parsed here independently of the product.</summary>
    public static int LayerOf(string name)
        => name.StartsWith("model.layers.", StringComparison.Ordinal) ? int.Parse(name.Split('.')[2], CultureInfo.InvariantCulture) : -1;

    private double[] BaseValues(string name)
    {
        var rng = new Random(Seed(name));
        int n = Count(name);
        return Enumerable.Range(0, n).Select(_ => rng.Next(-512, 513) / 1024.0).ToArray();
    }

    private double[] DeltaA(string name)
    {
        var rng = new Random(Seed(name) ^ 0x5A5A);
        return Enumerable.Range(0, Count(name)).Select(_ => (rng.Next(2) == 0 ? -1 : 1) * rng.Next(1, 33) / 64.0).ToArray();
    }

    private int Count(string name) => name.Contains("up_proj") ? Intermediate * Hidden : name.Contains("norm") ? Hidden
        : name.Contains("embed") || name.Contains("lm_head") ? Vocab * Hidden : Hidden * Hidden;

    private static int Seed(string name) => name.Aggregate(17, (h, c) => h * 31 + c);

    private void Write(string model, Func<string, double[]> values)
    {
        var dir = PathOf(model);
        Directory.CreateDirectory(dir);
        var declared = Tensors.Select(t => new OutputTensor(t.Name, Dtype.F32, t.Shape)).ToList();
        var writer = new ShardedModelWriter(dir, declared, 0);
        try
        {
            foreach (var t in Tensors)
                writer.WriteTensorAsync(t.Name, Encode(values(t.Name))).AsTask().GetAwaiter().GetResult();
            writer.CompleteAsync().AsTask().GetAwaiter().GetResult();
        }
        finally
        {
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), string.Create(CultureInfo.InvariantCulture,
            $$"""{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": {{Hidden}}, "intermediate_size": {{Intermediate}}, "num_hidden_layers": {{Layers}}, "num_attention_heads": 2, "vocab_size": {{Vocab}}}"""));
    }

    /// <summary>float32 little-endian by BitConverter (every planted value is exact in float32).</summary>
    private static byte[] Encode(double[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            float f = (float)values[i];
            Assert.Equal(values[i], f); // the fixture's promise: exact
            BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), f);
        }
        return bytes;
    }

    /// <summary>Reads a tensor of a model directory as float64 (float32 by BitConverter).</summary>
    public static double[] Read(string dir, string name)
    {
        using var checkpoint = ModelCheckpoint.Open(dir);
        Assert.True(checkpoint.TryGetTensor(name, out var info, out var file));
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        Assert.Equal(Dtype.F32, info.Dtype);
        return Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, 4 * i)).ToArray();
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
