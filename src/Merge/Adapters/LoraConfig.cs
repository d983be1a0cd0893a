using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DotnetMerge.Engine;

namespace DotnetMerge.Adapters;

/// <summary>The parts of a PEFT <c>adapter_config.json</c> (LoRA) that change the merged weight, read and checked.
/// Keys that would change the weight in a way this reader cannot apply exactly are refused (<see cref="Read"/>),
/// never ignored; keys that only matter for training (dropout, init of a plain LoRA) are ignored.</summary>
public sealed class LoraConfig
{
    public const string FileName = "adapter_config.json";

    /// <summary>Init methods that rewrite the base weights when the adapter is created (PiSSA, OLoRA, CorDA, LoftQ):
    /// a tensor-only merge of such an adapter onto the original base is wrong unless PEFT converted it on save.</summary>
    private static readonly string[] BaseRewritingInits = ["pissa", "olora", "corda", "loftq"];

    /// <summary>Keys that select a PEFT variant this reader does not apply: refused when set to anything but
    /// null, false, an empty list or an empty object.</summary>
    private static readonly string[] UnsupportedWhenSet =
    [
        "layer_replication", "trainable_token_indices", "target_parameters", "use_qalora", "alora_invocation_tokens",
        "arrow_config", "kasa_config", "velora_config", "monteclora_config", "use_bdlora", "megatron_config",
    ];

    private LoraConfig(string path) => Path = path;

    /// <summary>The adapter_config.json file (named in every error).</summary>
    public string Path { get; }
    public int Rank { get; private init; } = 8;
    public double Alpha { get; private init; } = 8;
    public bool UseRslora { get; private init; }
    public bool UseDora { get; private init; }
    public bool FanInFanOut { get; private init; }
    public bool LoraBias { get; private init; }
    /// <summary><c>bias</c>: none, all or lora_only (full trained biases saved, applied as replacements).</summary>
    public string Bias { get; private init; } = "none";
    public string? BaseModelNameOrPath { get; private init; }
    public IReadOnlyList<string> ModulesToSave { get; private init; } = [];
    /// <summary><c>target_modules</c> as a list (null when a regex string or absent).</summary>
    public IReadOnlyList<string>? TargetModuleList { get; private init; }
    /// <summary><c>target_modules</c> as a regex string (PEFT full-matches it against the module path).</summary>
    public string? TargetModuleRegex { get; private init; }
    /// <summary><c>rank_pattern</c> and <c>alpha_pattern</c> in file order (PEFT takes the first key that matches).</summary>
    public IReadOnlyList<KeyValuePair<string, double>> RankPattern { get; private init; } = [];
    public IReadOnlyList<KeyValuePair<string, double>> AlphaPattern { get; private init; } = [];

    /// <summary>The rank PEFT builds the module with: the first matching <c>rank_pattern</c> key, else <c>r</c>.</summary>
    public int RankFor(string module) => (int)(Match(RankPattern, module) ?? Rank);

    /// <summary>The alpha of the module: the first matching <c>alpha_pattern</c> key, else <c>lora_alpha</c>.</summary>
    public double AlphaFor(string module) => Match(AlphaPattern, module) ?? Alpha;

    /// <summary>The LoRA scale of the module: alpha / r, or alpha / sqrt(r) with use_rslora.</summary>
    public double ScaleFor(string module)
    {
        double r = RankFor(module);
        return AlphaFor(module) / (UseRslora ? Math.Sqrt(r) : r);
    }

    /// <summary>Whether PEFT would wrap this module path (<c>target_modules</c>: exact or <c>.name</c> suffix for a list,
    /// full regex match for a string; "all-linear" matches every module).</summary>
    public bool Targets(string module)
    {
        if (TargetModuleRegex is { } regex)
            return regex == "all-linear" || Regex.IsMatch(module, "^(?:" + regex + ")$", RegexOptions.CultureInvariant);
        if (TargetModuleList is null) return true;
        foreach (var t in TargetModuleList)
            if (module == t || module.EndsWith("." + t, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>PEFT's <c>get_pattern_key</c>: the first key (a regex) with <c>(.*\.)?(KEY)$</c> matching from the start.</summary>
    private static double? Match(IReadOnlyList<KeyValuePair<string, double>> pattern, string module)
    {
        foreach (var (key, value) in pattern)
            if (Regex.IsMatch(module, @"^(.*\.)?(" + key + ")$", RegexOptions.CultureInvariant)) return value;
        return null;
    }

    /// <summary>Reads and checks <c>adapter_config.json</c> in <paramref name="directory"/>. Errors name the file.</summary>
    public static LoraConfig Read(string directory)
    {
        var path = System.IO.Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw Error(path, $"no {FileName}: a PEFT LoRA adapter directory holds {FileName} and adapter_model.safetensors");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw Error(path, "the file is not a JSON object");
        }
        catch (JsonException e) { throw Error(path, "invalid JSON: " + e.Message); }
        catch (IOException e) { throw Error(path, e.Message); }

        var peftType = String(root, path, "peft_type");
        if (peftType is not null && peftType != "LORA")
            throw Error(path, $"peft_type is '{peftType}'; only LoRA adapters (\"LORA\") can be applied");
        foreach (var key in UnsupportedWhenSet)
            if (root.TryGetPropertyValue(key, out var v) && IsSet(v))
                throw Error(path, $"'{key}' is set; this PEFT variant is not supported (the adapter cannot be applied exactly)");
        if (root.TryGetPropertyValue("init_lora_weights", out var init) && init is JsonValue iv && iv.TryGetValue<string>(out var initName)
            && BaseRewritingInits.Any(b => initName.StartsWith(b, StringComparison.OrdinalIgnoreCase)))
            throw Error(path, $"init_lora_weights is '{initName}', which rewrites the base weights; convert the adapter to a plain LoRA with PEFT (path_initial_model_for_weight_conversion) first");

        var bias = String(root, path, "bias") ?? "none";
        if (bias is not ("none" or "all" or "lora_only"))
            throw Error(path, $"bias is '{bias}'; expected none, all or lora_only");

        string? regex = null;
        IReadOnlyList<string>? list = null;
        if (root.TryGetPropertyValue("target_modules", out var targets) && targets is not null)
        {
            if (targets is JsonValue tv && tv.TryGetValue<string>(out var s)) regex = s;
            else list = StringList(targets, path, "target_modules");
        }

        var config = new LoraConfig(path)
        {
            Rank = (int)Positive(root, path, "r", 8, integer: true),
            Alpha = Finite(root, path, "lora_alpha", 8),
            UseRslora = Bool(root, path, "use_rslora"),
            UseDora = Bool(root, path, "use_dora"),
            FanInFanOut = Bool(root, path, "fan_in_fan_out"),
            LoraBias = Bool(root, path, "lora_bias"),
            Bias = bias,
            BaseModelNameOrPath = String(root, path, "base_model_name_or_path"),
            ModulesToSave = root.TryGetPropertyValue("modules_to_save", out var mts) && mts is not null ? StringList(mts, path, "modules_to_save") : [],
            TargetModuleList = list,
            TargetModuleRegex = regex,
            RankPattern = Pattern(root, path, "rank_pattern", integer: true),
            AlphaPattern = Pattern(root, path, "alpha_pattern", integer: false),
        };
        return config;
    }

    private static bool IsSet(JsonNode? v) => v switch
    {
        null => false,
        JsonValue b when b.TryGetValue<bool>(out var flag) => flag,
        JsonArray a => a.Count > 0,
        JsonObject o => o.Count > 0,
        _ => true,
    };

    private static MergeException Error(string path, string message) => new(MergeErrorKind.Input, ErrorIds.AdapterInvalid, $"{path}: {message}");

    private static string? String(JsonObject root, string path, string key)
    {
        if (!root.TryGetPropertyValue(key, out var v) || v is null) return null;
        return v is JsonValue s && s.TryGetValue<string>(out var text) ? text : throw Error(path, $"'{key}' must be a string");
    }

    private static bool Bool(JsonObject root, string path, string key)
    {
        if (!root.TryGetPropertyValue(key, out var v) || v is null) return false;
        return v is JsonValue b && b.TryGetValue<bool>(out var flag) ? flag : throw Error(path, $"'{key}' must be true or false");
    }

    private static double Number(JsonNode? v, string path, string key)
        => v is JsonValue n && n.TryGetValue<double>(out var d) ? d : throw Error(path, $"'{key}' must be a number");

    private static double Finite(JsonObject root, string path, string key, double fallback)
    {
        if (!root.TryGetPropertyValue(key, out var v) || v is null) return fallback;
        var d = Number(v, path, key);
        return double.IsFinite(d) ? d : throw Error(path, $"'{key}' must be finite");
    }

    private static double Positive(JsonObject root, string path, string key, double fallback, bool integer)
    {
        if (!root.TryGetPropertyValue(key, out var v) || v is null) return fallback;
        return CheckRank(Number(v, path, key), path, key, integer);
    }

    private static double CheckRank(double d, string path, string key, bool integer)
    {
        if (!double.IsFinite(d) || (integer && (d < 1 || d != Math.Floor(d) || d > int.MaxValue)))
            throw Error(path, string.Create(CultureInfo.InvariantCulture, $"'{key}' is {d}; it must be a whole number of at least 1"));
        return d;
    }

    private static IReadOnlyList<string> StringList(JsonNode node, string path, string key)
    {
        if (node is not JsonArray a) throw Error(path, $"'{key}' must be a list of module names");
        return a.Select(x => x is JsonValue s && s.TryGetValue<string>(out var t) ? t : throw Error(path, $"'{key}' must be a list of module names")).ToList();
    }

    private static IReadOnlyList<KeyValuePair<string, double>> Pattern(JsonObject root, string path, string key, bool integer)
    {
        if (!root.TryGetPropertyValue(key, out var v) || v is null) return [];
        if (v is not JsonObject o) throw Error(path, $"'{key}' must be an object of module pattern -> number");
        var list = new List<KeyValuePair<string, double>>();
        foreach (var (k, n) in o)
        {
            try { _ = new Regex(k, RegexOptions.CultureInvariant); }
            catch (ArgumentException e) { throw Error(path, $"'{key}' key '{k}' is not a valid regex: {e.Message}"); }
            var d = Number(n, path, key + "." + k);
            list.Add(new(k, integer ? CheckRank(d, path, key + "." + k, true) : double.IsFinite(d) ? d : throw Error(path, $"'{key}.{k}' must be finite")));
        }
        return list;
    }
}
