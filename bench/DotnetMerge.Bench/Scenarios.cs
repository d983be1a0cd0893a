using System.Globalization;
using System.Text;

namespace DotnetMerge.Bench;

/// <summary>A named merge run through the CLI: its definition and how many of the generated models it reads.</summary>
internal sealed record Scenario(string Name, string Description, int ModelsRead, string Yaml);

internal static class Scenarios
{
    public static readonly string[] All = ["copy", "linear", "task_arithmetic", "ties", "dare_ties", "slerp", "model_stock", "lora", "union"];

    /// <summary>The definition of <paramref name="name"/> over the models <paramref name="names"/> (names[0] is the base).</summary>
    public static Scenario Create(string name, string[] names, int layers)
    {
        string Dir(string n) => "models/" + n;
        var fineTunes = names.Skip(1).ToArray();
        string ModelList(Func<int, string?> parameters)
        {
            var sb = new StringBuilder("models:\n");
            for (int i = 0; i < fineTunes.Length; i++)
            {
                sb.Append("  - model: ").Append(Dir(fineTunes[i])).Append('\n');
                if (parameters(i) is { } p) sb.Append("    parameters: ").Append(p).Append('\n');
            }
            return sb.ToString();
        }
        string Num(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        double share = 1.0 / Math.Max(1, fineTunes.Length);
        return name switch
        {
            "copy" => new(name, "passthrough of the base: the tool's own read-one/write-one floor", 1,
                $"merge_method: passthrough\nslices:\n  - sources:\n      - model: {Dir(names[0])}\n        layer_range: [0, {layers}]\ndtype: bfloat16\n"),
            "linear" => new(name, "weighted mean of all models", names.Length,
                $"merge_method: linear\nmodels:\n  - model: {Dir(names[0])}\n    parameters: {{weight: 1.0}}\n" +
                ModelList(_ => "{weight: 0.5}")[8..] + "dtype: bfloat16\n"),
            "task_arithmetic" => new(name, "base + Σ w·δ", names.Length,
                $"merge_method: task_arithmetic\nbase_model: {Dir(names[0])}\n" + ModelList(_ => $"{{weight: {Num(share)}}}") + "dtype: bfloat16\n"),
            "ties" => new(name, "TIES, density 0.5", names.Length,
                $"merge_method: ties\nbase_model: {Dir(names[0])}\n" + ModelList(_ => $"{{weight: {Num(share)}, density: 0.5}}") + "parameters: {normalize: true}\ndtype: bfloat16\n"),
            "dare_ties" => new(name, "DARE + TIES, density 0.5, seed 7", names.Length,
                $"merge_method: dare_ties\nbase_model: {Dir(names[0])}\n" + ModelList(_ => $"{{weight: {Num(share)}, density: 0.5}}") + "parameters: {normalize: true}\ndtype: bfloat16\nseed: 7\n"),
            "slerp" => new(name, "slerp of base and ft1, t = 0.4", 2,
                $"merge_method: slerp\nbase_model: {Dir(names[0])}\nmodels:\n  - model: {Dir(names[0])}\n  - model: {Dir(names[1])}\nparameters: {{t: 0.4}}\ndtype: bfloat16\n"),
            "model_stock" => new(name, "model stock over all fine-tunes", names.Length,
                $"merge_method: model_stock\nbase_model: {Dir(names[0])}\nmodels:\n  - model: {Dir(names[0])}\n" + ModelList(_ => null)[8..] + "dtype: bfloat16\n"),
            // The same merge as "linear", with each fine-tune replaced by the base plus a rank-16 LoRA adapter applied in
            // the read stage: against "linear", the cost of the adapter math (it should hide behind the I/O).
            "lora" => new(name, "linear over base + LoRA-adapted bases (rank 16, every projection), vs linear", names.Length,
                $"merge_method: linear\nmodels:\n  - model: {Dir(names[0])}\n    parameters: {{weight: 1.0}}\n" +
                string.Concat(Enumerable.Range(1, fineTunes.Length).Select(i =>
                    $"  - model: {Dir(names[0])}+{Dir("lora" + i.ToString(CultureInfo.InvariantCulture))}\n    parameters: {{weight: 0.5}}\n")) +
                "dtype: bfloat16\n"),
            // The same merge as "linear", with each fine-tune's vocabulary permuted and given five added tokens of its
            // own (ModelGenerator.EnsureVocabularies): against "linear", the cost of aligning every embedding and LM-head
            // row to the union vocabulary in the read stage.
            "union" => new(name, "linear with tokenizer_source: union over permuted vocabularies (+5 tokens each), vs linear", names.Length,
                $"merge_method: linear\nbase_model: {Dir(names[0])}\ntokenizer_source: union\nmodels:\n  - model: {Dir(names[0])}\n    parameters: {{weight: 1.0}}\n" +
                string.Concat(Enumerable.Range(1, fineTunes.Length).Select(i =>
                    $"  - model: {Dir("vocab" + i.ToString(CultureInfo.InvariantCulture))}\n    parameters: {{weight: 0.5}}\n")) +
                "dtype: bfloat16\n"),
            _ => throw new ArgumentException($"unknown scenario '{name}' (known: {string.Join(", ", All)})"),
        };
    }
}
