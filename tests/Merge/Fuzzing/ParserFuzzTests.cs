using System.Buffers.Binary;
using System.Text;
using DotnetMerge.Definitions;
using DotnetMerge.Safetensors;
using static DotnetMerge.Tests.Safetensors.SafetensorsBytes;

namespace DotnetMerge.Tests.Fuzzing;

/// <summary>The two parsers that read untrusted input, fuzzed with <see cref="FuzzHarness"/> (issue 14, "make it stay
/// fixed"): the YAML definition loader may only report diagnostics, each located in the file, and the safetensors
/// header parser may only throw <see cref="SafetensorsFormatException"/>.</summary>
public class ParserFuzzTests
{
    private const string DefinitionPath = "fuzz.merge.yaml";

    private static readonly string[] Definitions =
    [
        "merge_method: ties\nbase_model: org/base\nmodels:\n  - model: org/a\n    parameters: {density: [1, 0.7, 0.1], weight: 1.0}\n" +
        "  - model: org/b\n    parameters:\n      density: 0.5\n      weight:\n        - filter: mlp\n          value: 0.8\n        - value: 0.4\n" +
        "parameters: {normalize: true, int8_mask: true}\ndtype: bfloat16\n",
        "slices:\n  - sources:\n      - {model: org/a, layer_range: [0, 40]}\n      - {model: org/b, layer_range: [0, 40]}\nmerge_method: slerp\n" +
        "base_model: org/a\nparameters:\n  t:\n    - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}\n    - value: 0.5\ndtype: float16\n",
        "merge_method: linear\nx: &w {weight: 0.5}\nmodels:\n  - model: ./a\n    parameters: *w\n  - model: {model: {path: ./b, revision: main}}\n" +
        "    parameters: {weight: [0.1, 0.2]}\ntokenizer_source: union\nchat_template: chatml\nseed: 42\n",
        "merge_method: dare_ties\nbase_model: org/base\nmodels:\n  - model: org/a\n    parameters: {weight: 0.5, density: 0.3}\nparameters: {lambda: 1.2, rescale: true}\n---\nmerge_method: linear\n",
    ];

    private static readonly string[] YamlTokens =
    [
        "{", "}", "[", "]", "- ", ": ", ", ", "\n", "\n  ", "\t", "&a ", "*a", "&b [", "*b, ", "!custom ", "!!python/name:os.system ",
        "!!str ", "!!map ", "? ", "|\n", ">-\n", "'", "\"", "\"\\ud800\"", "\\x", "#", "---\n", "...\n", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n",
        "1e400", "-1e400", ".inf", ".nan", "0x", "18446744073709551616", "-0", "_", "null", "~", "true", "merge_method", "models",
        "slices", "parameters", "weight", "density", "filter", "value", "layer_range", "base_model", "model", "<<: *a\n",
    ];

    private static readonly string[] JsonTokens =
    [
        "{", "}", "[", "]", ",", ":", "\"", "\\ud800", "\\udc00", "\\u0000", "\"dtype\":", "\"F32\"", "\"BF16\"", "\"F4\"", "\"shape\":",
        "\"data_offsets\":", "[0,4]", "18446744073709551615", "9223372036854775807", "-1", "1e308", "1.5", "\"__metadata__\":", "null",
        "true", " ", "\u00e9", "\"w\":", "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
    ];

    [Fact]
    public void Definition_loader_reports_located_diagnostics_for_every_mutated_definition()
    {
        var corpus = Definitions.Select(Encoding.UTF8.GetBytes).ToList();
        var mutator = new Mutator(FuzzHarness.Seed, YamlTokens);
        var pool = new List<byte[]>(corpus);
        FuzzHarness.Run("definition", FuzzHarness.Iterations, i =>
        {
            var input = mutator.Mutate(pool[mutator.Next(pool.Count)], corpus, maxLength: 1 << 20);
            if (pool.Count < 256) pool.Add(input); else pool[mutator.Next(pool.Count)] = input; // mutations of mutations
            return input;
        }, input =>
        {
            var result = DefinitionLoader.Load(Encoding.UTF8.GetString(input), DefinitionPath);
            if (!result.HasErrors && result.Definition is null)
                throw new InvalidDataException("no definition and no error");
            foreach (var d in result.Diagnostics)
            {
                if (d.Location.Path != DefinitionPath || d.Location.Line < 1 || d.Location.Column < 1)
                    throw new InvalidDataException($"diagnostic without a location in the file: {d}");
            }
        }, _ => false);
    }

    [Fact]
    public void Safetensors_header_parser_throws_only_its_typed_error_for_every_mutated_header()
    {
        var seeds = new[]
        {
            (Header(Entry("w", "F32", "[2, 2]", 0, 16), Entry("b", "BF16", "[3]", 16, 22)), 22),
            ("{\"__metadata__\":{\"format\":\"pt\"}," + Entry("lm_head.weight", "F16", "[4]", 0, 8) + "}", 8),
            (Header(Entry("e", "U8", "[0]", 0, 0), Entry("s", "F64", "[]", 0, 8)), 8),
        };
        var corpus = seeds.Select(s => Encoding.UTF8.GetBytes(s.Item1)).ToList();
        var mutator = new Mutator(FuzzHarness.Seed + 1, JsonTokens);
        FuzzHarness.Run("safetensors-header", FuzzHarness.Iterations, i =>
        {
            int which = mutator.Next(seeds.Length);
            var json = mutator.Mutate(corpus[which], corpus, maxLength: 1 << 20);
            var file = Build(json, new byte[seeds[which].Item2]);
            if (mutator.Next(5) == 0) // sometimes break the frame too: the length prefix and the data's length
            {
                BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)mutator.Next(int.MaxValue) << mutator.Next(33));
                Array.Resize(ref file, Math.Max(0, file.Length + mutator.Next(17) - 8));
            }
            return file;
        }, input => SafetensorsHeader.Parse(input, input.Length, "fuzz.safetensors"),
        e => e is SafetensorsFormatException);
    }
}
