using DotnetMerge.Numerics;
using DotnetMerge.Tests.Adapters;

namespace DotnetMerge.Tests.Planning;

/// <summary>Generated models with several numbered stacks (a vision-language model's language layers and vision blocks),
/// float32, whose every element the test can compute from the tensor's name and the model's seed.</summary>
internal static class StackedModelFixture
{
    /// <summary>Element i of tensor <paramref name="name"/> in the model of <paramref name="seed"/>.</summary>
    public static double[] Values(string name, long count, int seed)
        => Enumerable.Range(0, (int)count).Select(i => Math.Round(Math.Sin(seed * 7.1 + name.Length * 0.37 + i * 1.3) * 4, 3)).ToArray();

    /// <summary>Writes <c>config.json</c> (a qwen2_vl architecture) and <c>model.safetensors</c> with these tensors.</summary>
    public static async Task<string> WriteAsync(string directory, IEnumerable<(string Name, long[] Shape)> tensors, int seed, string extraConfig = "")
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"),
            "{\"architectures\": [\"Qwen2VLForConditionalGeneration\"], \"model_type\": \"qwen2_vl\"" + extraConfig + "}");
        await AdapterFixture.WriteAsync(Path.Combine(directory, "model.safetensors"),
            tensors.Select(t => (t.Name, t.Shape, Values(t.Name, t.Shape.Aggregate(1L, (a, b) => a * b), seed))).ToList(), Dtype.F32);
        return directory;
    }
}
