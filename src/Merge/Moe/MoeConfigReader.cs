using System.Globalization;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using YamlDotNet.RepresentationModel;

namespace DotnetMerge.Moe;

/// <summary>Reads a mergekit-moe YAML config into a <see cref="MoeConfig"/>, every problem located at file(line,col) as
/// a definition diagnostic (ids DMRG0940-0949, the shared YAML ones DMRG0001-0023, DMRG0107 for a malformed model
/// reference, DMRG0501 for an unknown dtype). Model references (base_model, source_model) are read by the merge
/// definition's rules (<see cref="DefinitionParser.ReadModelReference"/>: <c>path+lora</c> or <c>{model, lora}</c>).
/// Reads text only: the models are opened by <see cref="MoeBuilder"/>.</summary>
public sealed class MoeConfigReader
{
    private static readonly string[] RootKeys = ["base_model", "experts", "gate_mode", "dtype", "experts_per_token", "shared_experts", "architecture"];
    private static readonly string[] ExpertKeys = ["source_model", "positive_prompts", "negative_prompts", "noise_scale", "residual_scale"];

    /// <summary>The gate mode names, as mergekit spells them (<c>hidden_avg</c> and <c>hidden_last</c> are variants of hidden).</summary>
    public static readonly IReadOnlyList<string> GateModeNames = ["hidden", "cheap_embed", "random", "uniform_random", "hidden_avg", "hidden_last"];

    /// <summary>The gate modes this build computes.</summary>
    public const string SupportedGateModes = "hidden (hidden_last), hidden_avg, cheap_embed, random, uniform_random";

    private readonly string _path;
    private readonly List<DefinitionDiagnostic> _diagnostics = [];

    private MoeConfigReader(string path) => _path = path;

    /// <summary>Reads <paramref name="text"/> (the contents of <paramref name="path"/>). Errors and warnings are in
    /// <paramref name="diagnostics"/>; the config is null when there is an error. <paramref name="allowIdenticalExperts"/>
    /// is mergekit's <c>--i-understand-this-is-not-useful-without-training</c>.</summary>
    public static MoeConfig? Read(string text, string path, bool allowIdenticalExperts, out IReadOnlyList<DefinitionDiagnostic> diagnostics,
        CancellationToken ct = default)
    {
        var reader = new MoeConfigReader(path);
        var config = reader.ReadCore(text, allowIdenticalExperts, ct);
        diagnostics = reader._diagnostics;
        return reader._diagnostics.Any(d => d.IsError) ? null : config;
    }

    /// <summary>Reads the config file; throws <see cref="DefinitionErrorsException"/> with every error, and returns the
    /// warnings with the config.</summary>
    public static (MoeConfig Config, IReadOnlyList<DefinitionDiagnostic> Warnings) Load(string path, bool allowIdenticalExperts, CancellationToken ct = default)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Definition, ErrorIds.DefinitionUnreadable, $"cannot read the moe config '{path}': {e.Message}", e);
        }
        var config = Read(text, path, allowIdenticalExperts, out var diagnostics, ct);
        if (config is null) throw new DefinitionErrorsException(diagnostics);
        return (config, diagnostics);
    }

    private MoeConfig? ReadCore(string text, bool allowIdenticalExperts, CancellationToken ct)
    {
        var stream = DefinitionParser.LoadYaml(text, _path, out var yamlDiagnostics, ct);
        _diagnostics.AddRange(yamlDiagnostics);
        if (stream is null) return null;
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            Error(ErrorIds.MoeConfigMissing, new SourceLocation(_path, 1, 1), "the moe config is empty", "it needs base_model and experts (docs/moe.md)");
            return null;
        }
        if (stream.Documents.Count > 1)
            Error(ErrorIds.MoeConfigValue, Loc(stream.Documents[1].RootNode), "a moe config is one YAML document; this file has several", "remove the '---' lines");
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            Error(ErrorIds.MoeConfigValue, Loc(stream.Documents[0].RootNode), "the moe config is not a mapping", "write 'base_model: ...' and 'experts: [...]' at the top level");
            return null;
        }

        ModelReference? baseModel = null;
        List<MoeExpert>? experts = null;
        var shared = new List<MoeExpert>();
        MoeGateMode gateMode = MoeGateMode.Hidden;
        SourceLocation gateLoc = Loc(root), archLoc = default, expertsLoc = Loc(root), topKLoc = default;
        Dtype? dtype = null;
        int topK = 2;
        MoeArchitecture? architecture = null;
        bool gateGiven = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, keyNode, value) in Entries(root))
        {
            seen.Add(key);
            switch (key)
            {
                case "base_model":
                    baseModel = ReadReference(value, "base_model");
                    break;
                case "experts":
                    expertsLoc = Loc(keyNode);
                    experts = ReadExperts(value, "experts");
                    if (value is YamlSequenceNode { Children.Count: 0 })
                        Error(ErrorIds.MoeConfigMissing, expertsLoc, "experts is empty", "list at least one '- source_model: ...'");
                    break;
                case "shared_experts":
                    shared = ReadExperts(value, "shared_experts") ?? [];
                    if (shared.Count > 1)
                        Error(ErrorIds.MoeArchitecture, Loc(value), $"{shared.Count} shared experts: the architectures written have at most one", "keep one entry under shared_experts");
                    break;
                case "gate_mode":
                    gateGiven = true;
                    gateLoc = Loc(value);
                    if (ReadString(value, key) is { } mode) gateMode = ParseGateMode(mode, gateLoc);
                    break;
                case "dtype":
                    if (ReadString(value, key) is { } d)
                    {
                        if (DtypeInfo.TryFromTorchName(DefinitionParser.NormalizeDtype(d), out var parsed) && parsed is Dtype.BF16 or Dtype.F16 or Dtype.F32) dtype = parsed;
                        else Error(ErrorIds.UnknownDtype, Loc(value), $"dtype '{d}' is not one the output can be written in", "use bfloat16, float16 or float32");
                    }
                    break;
                case "experts_per_token":
                    topKLoc = Loc(value);
                    if (ReadNumber(value, key) is { } k)
                    {
                        if (k != Math.Floor(k) || k < 1 || k > 1024)
                            Error(ErrorIds.MoeConfigNumber, topKLoc, $"experts_per_token {Text(k)} is not a whole number of experts from 1", "mergekit's default is 2");
                        else topK = (int)k;
                    }
                    break;
                case "architecture":
                    archLoc = Loc(value);
                    if (ReadString(value, key) is { } a) architecture = ParseArchitecture(a, archLoc);
                    break;
                default:
                    Unknown(key, keyNode, RootKeys, "moe config");
                    break;
            }
        }

        if (baseModel is null && !seen.Contains("base_model"))
            Error(ErrorIds.MoeConfigMissing, Loc(root), "the moe config has no base_model", "add 'base_model: PATH-OR-HUB-ID' (attention, norms, embeddings and head come from it)");
        if (experts is null && !seen.Contains("experts"))
            Error(ErrorIds.MoeConfigMissing, Loc(root), "the moe config has no experts", "add 'experts:' with one '- source_model: ...' per expert");
        if (experts is null || baseModel is null) return null;

        if (topKLoc.IsEmpty) topK = Math.Max(1, Math.Min(topK, experts.Count)); // mergekit's default 2, or 1 for a single expert
        if (experts.Count > 0 && topK > experts.Count)
            Error(ErrorIds.MoeConfigNumber, topKLoc.IsEmpty ? expertsLoc : topKLoc,
                $"experts_per_token {topK.ToString(CultureInfo.InvariantCulture)} is more than the {experts.Count.ToString(CultureInfo.InvariantCulture)} expert(s)",
                "each token is routed to at most every expert");
        if (architecture == MoeArchitecture.Mixtral && shared.Count > 0)
            Error(ErrorIds.MoeArchitecture, archLoc, "Mixtral has no shared expert, and the config has one", "remove shared_experts, or use architecture: qwen");
        if (architecture == MoeArchitecture.Qwen3Moe && shared.Count > 0)
            Error(ErrorIds.MoeArchitecture, archLoc, "Qwen3-MoE has no shared expert, and the config has one", "remove shared_experts, or use architecture: qwen (Qwen2-MoE)");
        if (architecture == MoeArchitecture.Qwen2Moe && shared.Count != 1)
            Error(ErrorIds.MoeArchitecture, archLoc, $"Qwen2-MoE has exactly one shared expert, and the config has {shared.Count.ToString(CultureInfo.InvariantCulture)}", "add 'shared_experts: [{source_model: ...}]'");

        if (gateMode is MoeGateMode.CheapEmbed or MoeGateMode.Hidden or MoeGateMode.HiddenAverage)
        {
            // DeepSeek-MoE's shared expert is always on: it has no router row, so it needs no prompts.
            foreach (var e in experts.Concat(architecture == MoeArchitecture.DeepseekMoe ? [] : shared).Where(e => e.PositivePrompts.Count == 0))
                Error(ErrorIds.MoePrompts, e.Location, $"gate_mode {(gateGiven ? GateModeName(gateMode) : "hidden (the default)")} needs positive_prompts for '{e.Model}'",
                    "list the prompts this expert should take, or use gate_mode: random");
            if (experts.Count > 1 && experts.All(e => e.PositivePrompts.Count > 0) && experts.Skip(1).All(e => SamePrompts(e, experts[0])))
                Error(ErrorIds.MoePrompts, expertsLoc, "every expert has the same prompts, so every router row would be the same",
                    "give each expert prompts of its own specialty");
        }
        if (experts.Count > 1 && experts.Concat(shared).Select(e => e.Model).Distinct().Count() == 1 && !allowIdenticalExperts)
            Error(ErrorIds.MoeIdenticalExperts, expertsLoc, $"every expert is '{experts[0].Model}': the MoE computes what that model computes until it is trained",
                "list different fine-tunes, or pass --i-understand-this-is-not-useful-without-training");

        return new MoeConfig(_path, text, baseModel, experts, shared, gateMode, gateLoc, dtype, topK, architecture, archLoc) { ExpertsLocation = expertsLoc };
    }

    private static bool SamePrompts(MoeExpert a, MoeExpert b)
        => a.PositivePrompts.SequenceEqual(b.PositivePrompts, StringComparer.Ordinal) && a.NegativePrompts.SequenceEqual(b.NegativePrompts, StringComparer.Ordinal);

    /// <summary>The name of a gate mode as the config spells it.</summary>
    public static string GateModeName(MoeGateMode mode) => mode switch
    {
        MoeGateMode.CheapEmbed => "cheap_embed",
        MoeGateMode.UniformRandom => "uniform_random",
        MoeGateMode.Random => "random",
        MoeGateMode.HiddenAverage => "hidden_avg",
        _ => "hidden",
    };

    private MoeGateMode ParseGateMode(string mode, SourceLocation at)
    {
        switch (mode)
        {
            case "cheap_embed": return MoeGateMode.CheapEmbed;
            case "random": return MoeGateMode.Random;
            case "uniform_random": return MoeGateMode.UniformRandom;
            case "hidden" or "hidden_last": return MoeGateMode.Hidden;
            case "hidden_avg": return MoeGateMode.HiddenAverage;
            default:
                var hint = NameSuggester.Hint(NameSuggester.Suggest(mode, GateModeNames));
                Error(ErrorIds.MoeGateMode, at, $"unknown gate_mode '{mode}'", (hint is null ? "" : hint + "; ") + $"this build computes {SupportedGateModes}");
                return MoeGateMode.Hidden;
        }
    }

    private MoeArchitecture? ParseArchitecture(string name, SourceLocation at)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n.StartsWith("mixtral", StringComparison.Ordinal)) return MoeArchitecture.Mixtral;
        if (n.StartsWith("deepseek", StringComparison.Ordinal)) return MoeArchitecture.DeepseekMoe;
        if (n.StartsWith("qwen3", StringComparison.Ordinal)) return MoeArchitecture.Qwen3Moe;
        if (n.StartsWith("qwen", StringComparison.Ordinal)) return MoeArchitecture.Qwen2Moe;
        Error(ErrorIds.MoeArchitecture, at, $"unknown architecture '{name}'", "use mixtral, qwen (Qwen2-MoE), qwen3 (Qwen3-MoE) or deepseek, or leave it out to have Mixtral (Qwen3-MoE for a qwen3 base) where it fits");
        return null;
    }

    private List<MoeExpert>? ReadExperts(YamlNode value, string key)
    {
        if (value is not YamlSequenceNode list)
        {
            Error(ErrorIds.MoeConfigValue, Loc(value), $"{key} must be a list of experts", "write one '- source_model: ...' line per expert");
            return null;
        }
        var experts = new List<MoeExpert>();
        foreach (var item in list.Children)
        {
            if (item is not YamlMappingNode map)
            {
                Error(ErrorIds.MoeConfigValue, Loc(item), $"an entry of {key} must be a mapping", "write '- source_model: PATH' with its prompts under it");
                continue;
            }
            ModelReference? model = null;
            IReadOnlyList<string> positive = [], negative = [];
            double? noise = null, residual = null;
            bool hasSource = false;
            foreach (var (k, keyNode, v) in Entries(map))
            {
                hasSource |= k == "source_model";
                switch (k)
                {
                    case "source_model": model = ReadReference(v, k); break;
                    case "positive_prompts": positive = ReadPrompts(v, k); break;
                    case "negative_prompts": negative = ReadPrompts(v, k); break;
                    case "noise_scale":
                        if (ReadNumber(v, k) is { } n)
                        {
                            if (n < 0) Error(ErrorIds.MoeConfigNumber, Loc(v), $"noise_scale {Text(n)} is negative", "it is the standard deviation of the noise added to the expert's MLP weights (0 or more)");
                            else noise = n;
                        }
                        break;
                    case "residual_scale":
                        if (ReadNumber(v, k) is { } r) residual = r;
                        break;
                    default: Unknown(k, keyNode, ExpertKeys, "an expert"); break;
                }
            }
            if (model is null)
            {
                if (!hasSource)
                    Error(ErrorIds.MoeConfigMissing, Loc(map), $"an entry of {key} has no source_model", "add 'source_model: PATH-OR-HUB-ID'");
                continue;
            }
            experts.Add(new MoeExpert(model, positive, negative, noise, residual, Loc(map)));
        }
        return experts;
    }

    private IReadOnlyList<string> ReadPrompts(YamlNode value, string key)
    {
        if (value is YamlScalarNode { Value: null or "" } && IsPlainNull(value)) return [];
        if (value is not YamlSequenceNode list)
        {
            Error(ErrorIds.MoeConfigValue, Loc(value), $"{key} must be a list of prompts", $"write '{key}: [\"...\", \"...\"]'");
            return [];
        }
        var prompts = new List<string>();
        foreach (var item in list.Children)
        {
            if (item is YamlScalarNode { Value: { Length: > 0 } text }) prompts.Add(text);
            else Error(ErrorIds.MoeConfigValue, Loc(item), $"a prompt of {key} is not a non-empty string", "quote each prompt");
        }
        return prompts;
    }

    private static bool IsPlainNull(YamlNode node) => node is YamlScalarNode s && s.Style is YamlDotNet.Core.ScalarStyle.Plain or YamlDotNet.Core.ScalarStyle.Any;

    /// <summary>A model reference as a merge definition reads one (string or <c>{model: ..., lora: ...}</c>), with its diagnostics.</summary>
    private ModelReference? ReadReference(YamlNode value, string key)
    {
        var reference = DefinitionParser.ReadModelReference(value, key, _path, out var diagnostics);
        _diagnostics.AddRange(diagnostics);
        return reference;
    }

    private string? ReadString(YamlNode value, string key)
    {
        if (value is YamlScalarNode { Value: { Length: > 0 } s }) return s;
        Error(ErrorIds.MoeConfigValue, Loc(value), $"{key} must be a non-empty string", null);
        return null;
    }

    private double? ReadNumber(YamlNode value, string key)
    {
        if (value is YamlScalarNode { Value: { } s } scalar && scalar.Style is YamlDotNet.Core.ScalarStyle.Plain or YamlDotNet.Core.ScalarStyle.Any
            && double.TryParse(s.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            if (double.IsFinite(d)) return d;
            Error(ErrorIds.MoeConfigNumber, Loc(value), $"{key} {s} is not a finite number", null);
            return null;
        }
        if (value is YamlScalarNode { Value: ".inf" or "-.inf" or ".nan" or "+.inf" or ".Inf" or "-.Inf" or ".NaN" or ".NAN" or ".INF" or "-.INF" } bad)
        {
            Error(ErrorIds.MoeConfigNumber, Loc(value), $"{key} {bad.Value} is not a finite number", null);
            return null;
        }
        Error(ErrorIds.MoeConfigValue, Loc(value), $"{key} must be a number", null);
        return null;
    }

    private void Unknown(string key, YamlNode keyNode, IReadOnlyList<string> known, string where)
    {
        var hint = NameSuggester.Hint(NameSuggester.Suggest(key, known));
        _diagnostics.Add(new DefinitionDiagnostic(ErrorIds.MoeConfigUnknownKey, DiagnosticSeverity.Warning,
            $"'{key}' is not a key of {where}; it is ignored", Loc(keyNode), hint ?? "keys: " + string.Join(", ", known)));
    }

    private IEnumerable<(string Key, YamlNode KeyNode, YamlNode Value)> Entries(YamlMappingNode map)
    {
        foreach (var pair in map.Children)
        {
            if (pair.Key is YamlScalarNode { Value: { } k }) yield return (k, pair.Key, pair.Value);
            else Error(ErrorIds.MoeConfigValue, Loc(pair.Key), "a key that is not a plain name", null);
        }
    }

    private void Error(string id, SourceLocation at, string message, string? hint)
        => _diagnostics.Add(new DefinitionDiagnostic(id, DiagnosticSeverity.Error, message, at.IsEmpty ? new SourceLocation(_path, 1, 1) : at, hint));

    private SourceLocation Loc(YamlNode node) => new(_path, (int)Math.Max(1, node.Start.Line), (int)Math.Max(1, node.Start.Column));

    private static string Text(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
