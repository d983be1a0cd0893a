using System.CommandLine;
using System.Text;

namespace DotnetMerge.Tool.Commands;

/// <summary>How a mergekit-yaml flag is taken here.</summary>
public enum MergekitFlagKind
{
    /// <summary>dotnet-merge has the same option under the same name.</summary>
    Same,

    /// <summary>Another name of one of dotnet-merge's options (<see cref="MergekitFlag.Meaning"/> names it).</summary>
    Alias,

    /// <summary>Translated into dotnet-merge's options (<see cref="MergekitFlag.Meaning"/> says into what).</summary>
    Mapped,

    /// <summary>Accepted and ignored, with one line at normal verbosity saying why (<see cref="MergekitFlag.Meaning"/>).</summary>
    Ignored,
}

/// <summary>One flag of mergekit-yaml's command line. <paramref name="Value"/> is the value's placeholder (null for a
/// flag), <paramref name="Example"/> a value that the flag accepts.</summary>
public sealed record MergekitFlag(string Name, MergekitFlagKind Kind, string Meaning, string? Value = null, string? Example = null)
{
    /// <summary>The note printed at normal verbosity when an ignored flag is given.</summary>
    public string Note => Name + ": ignored; " + Meaning;
}

/// <summary>mergekit-yaml's command line, accepted as is (mergekit's options.py, newest version): every flag, what it
/// means here, and the hidden options that accept the ones dotnet-merge does not spell the same way. The one place
/// that knows the mergekit spellings; docs/migrating-from-mergekit.md lists the same table.</summary>
public static class MergekitFlags
{
    private const string NoLora = "a 'model+lora' adapter is applied per tensor while reading, in the base tensor's dtype, so no merged copy (and no cache) is written";
    private const string OneDevice = "one device runs the math (--device cuda:N picks it), and the CUDA backend moves the tensors it needs to it itself";

    public static IReadOnlyList<MergekitFlag> All { get; } =
    [
        new("--allow-crimes", MergekitFlagKind.Same, "merge models whose architecture or tokenizer differ"),
        new("--no-allow-crimes", MergekitFlagKind.Mapped, "the default: differing architectures are errors"),
        new("--transformers-cache", MergekitFlagKind.Mapped, "the Hugging Face hub cache folder for this run, as HF_HUB_CACHE (models--org--name/ inside, the layout of huggingface_hub's cache_dir, which mergekit passes it as)", "PATH", "hf-cache"),
        new("--lora-merge-cache", MergekitFlagKind.Ignored, NoLora, "PATH", "lora-cache"),
        new("--lora-merge-dtype", MergekitFlagKind.Ignored, NoLora, "DTYPE", "bfloat16"),
        new("--cuda", MergekitFlagKind.Mapped, "--device cuda (exit code 4 when no CUDA device works)"),
        new("--no-cuda", MergekitFlagKind.Mapped, "--device cpu"),
        new("--device", MergekitFlagKind.Same, "auto, cpu, cuda or cuda:N (mergekit's default is cpu, ours auto)", "DEVICE", "cpu"),
        new("--low-cpu-memory", MergekitFlagKind.Ignored, "results are never held in memory: each output tensor is written as soon as it is computed (--max-memory bounds the buffers)"),
        new("--no-low-cpu-memory", MergekitFlagKind.Ignored, "results are never held in memory either way"),
        new("--out-shard-size", MergekitFlagKind.Same, "largest output shard in bytes (5B = 5e9, as mergekit)", "SIZE", "1B"),
        new("--copy-tokenizer", MergekitFlagKind.Mapped, "the default: copy the donor's tokenizer files"),
        new("--no-copy-tokenizer", MergekitFlagKind.Same, "do not copy tokenizer files"),
        new("--clone-tensors", MergekitFlagKind.Ignored, "every output tensor is written from its own buffer; repeated layers need no cloning"),
        new("--no-clone-tensors", MergekitFlagKind.Ignored, "repeated layers need no cloning"),
        new("--trust-remote-code", MergekitFlagKind.Ignored, "dotnet-merge never runs a model's code"),
        new("--no-trust-remote-code", MergekitFlagKind.Ignored, "dotnet-merge never runs a model's code"),
        new("--random-seed", MergekitFlagKind.Alias, "--seed", "N", "42"),
        new("--lazy-unpickle", MergekitFlagKind.Ignored, "dotnet-merge always streams tensors, and reads .bin checkpoints without unpickling code (a weights-only allowlist)"),
        new("--no-lazy-unpickle", MergekitFlagKind.Ignored, "dotnet-merge always streams tensors, and reads .bin checkpoints without unpickling code (a weights-only allowlist)"),
        new("--write-model-card", MergekitFlagKind.Mapped, "the default: write README.md and mergekit_config.yml"),
        new("--no-write-model-card", MergekitFlagKind.Same, "write neither README.md nor mergekit_config.yml"),
        new("--safe-serialization", MergekitFlagKind.Mapped, "the default: write safetensors"),
        new("--no-safe-serialization", MergekitFlagKind.Ignored, "dotnet-merge writes only safetensors (transformers loads them; pickled .bin shards are not written)"),
        new("-v", MergekitFlagKind.Mapped, "-v detailed; -vv (or -v -v) is -v diag; -v with a value (q, m, n, d, diag) is dotnet-merge's --verbosity"),
        new("--verbose", MergekitFlagKind.Mapped, "-v detailed"),
        new("--quiet", MergekitFlagKind.Mapped, "-v quiet"),
        new("--no-quiet", MergekitFlagKind.Mapped, "the default: -v normal"),
        new("--read-to-gpu", MergekitFlagKind.Ignored, OneDevice),
        new("--no-read-to-gpu", MergekitFlagKind.Ignored, OneDevice),
        new("--multi-gpu", MergekitFlagKind.Ignored, OneDevice),
        new("--no-multi-gpu", MergekitFlagKind.Ignored, OneDevice),
        new("--num-threads", MergekitFlagKind.Alias, "--threads", "N", "2"),
        new("-j", MergekitFlagKind.Same, "worker threads (--threads)", "N", "2"),
        new("--gpu-rich", MergekitFlagKind.Mapped, "--device cuda (mergekit's --cuda --low-cpu-memory --read-to-gpu --multi-gpu)"),
        new("--async-write", MergekitFlagKind.Ignored, "output shards are always written by their own pipeline stage, while the next tensors are computed"),
        new("--no-async-write", MergekitFlagKind.Ignored, "output shards are always written by their own pipeline stage"),
        new("--write-threads", MergekitFlagKind.Ignored, "one writer streams each shard to disk in order (the math uses --threads)", "N", "4"),
    ];

    public static MergekitFlag Get(string name) => All.First(f => f.Name == name);

    /// <summary>The hidden options that accept the <see cref="MergekitFlagKind.Mapped"/> and
    /// <see cref="MergekitFlagKind.Ignored"/> flags (<c>-v</c> is handled by <see cref="NormalizeVerbosityCount"/>), keyed by name.</summary>
    public sealed class Options
    {
        private readonly Dictionary<string, Option> _byName = new(StringComparer.Ordinal);

        public Options()
        {
            foreach (var flag in All.Where(f => f.Kind is MergekitFlagKind.Mapped or MergekitFlagKind.Ignored && f.Name != "-v"))
            {
                Option option = flag.Value is null ? new Option<bool>(flag.Name)
                    : flag.Value == "N" ? PositiveInt(flag.Name)
                    : new Option<string>(flag.Name);
                option.Hidden = true;
                option.Description = flag.Meaning;
                _byName.Add(flag.Name, option);
            }
        }

        public IEnumerable<Option> Each => _byName.Values;

        /// <summary>True when the flag <paramref name="name"/> was given.</summary>
        public bool Given(ParseResult result, string name) => result.GetResult(_byName[name]) is { Implicit: false };

        /// <summary>The value given to the flag <paramref name="name"/> (one that takes a PATH or other text), or null.</summary>
        public string? Text(ParseResult result, string name) => Given(result, name) ? result.GetValue((Option<string>)_byName[name]) : null;

        /// <summary>The ignored flags that were given, in table order.</summary>
        public IEnumerable<MergekitFlag> IgnoredGiven(ParseResult result)
            => All.Where(f => f.Kind == MergekitFlagKind.Ignored && Given(result, f.Name));

        private static Option<int> PositiveInt(string name)
        {
            var option = new Option<int>(name);
            option.Validators.Add(r =>
            {
                if (r.Tokens.Count == 1 && (!int.TryParse(r.Tokens[0].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1))
                    r.AddError($"{name} '{r.Tokens[0].Value}' is not a positive whole number");
            });
            return option;
        }
    }

    /// <summary>mergekit's <c>-v</c> is a counted flag (<c>-v</c> INFO, <c>-vv</c> DEBUG); dotnet-merge's <c>-v</c> takes a
    /// value. A bare <c>-v</c> (not followed by one of the verbosity values) and <c>-vv...</c> are rewritten to one
    /// <c>-v detailed</c> or <c>-v diagnostic</c>; everything after <c>--</c> is left alone.</summary>
    public static string[] NormalizeVerbosityCount(string[] args)
    {
        var result = new List<string>(args.Length + 1);
        int count = 0, end = args.Length;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--") { end = i; break; }
            if (a == "-v" && (i + 1 == args.Length || !VerbosityParser.Accepted.Contains(args[i + 1], StringComparer.OrdinalIgnoreCase))) { count++; continue; }
            if (a.Length > 2 && a[0] == '-' && a.Skip(1).All(c => c == 'v')) { count += a.Length - 1; continue; }
            result.Add(a);
        }
        if (count == 0) return args;
        result.Add("-v");
        result.Add(count == 1 ? "detailed" : "diagnostic");
        result.AddRange(args.Skip(end));
        return result.ToArray();
    }

    /// <summary>The "mergekit-yaml flags" section of --help: every flag of the table, compactly.</summary>
    public static string HelpSection()
    {
        var sb = new StringBuilder("mergekit-yaml flags (also accepted; docs/migrating-from-mergekit.md):\n");
        var mapped = All.Where(f => f.Kind == MergekitFlagKind.Alias).Concat(All.Where(f => f.Kind == MergekitFlagKind.Mapped))
            .Select(f => (Flag: f.Name + (f.Value is null ? "" : " " + f.Value), f.Meaning)).ToList();
        int width = mapped.Max(f => f.Flag.Length);
        foreach (var (flag, meaning) in mapped) sb.Append("  ").Append(flag.PadRight(width)).Append("  = ").Append(meaning).Append('\n');
        sb.Append("  ignored, with a note saying why: ")
            .Append(string.Join(", ", All.Where(f => f.Kind == MergekitFlagKind.Ignored).Select(f => f.Name + (f.Value is null ? "" : " " + f.Value))))
            .Append('\n');
        return sb.ToString();
    }
}
