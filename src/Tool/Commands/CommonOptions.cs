using System.CommandLine;
using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary>Options shared by the commands that plan or run a merge.</summary>
public sealed class CommonOptions
{
    public Option<string> OutShardSize { get; } = new("--out-shard-size")
    {
        Description = "Largest output shard: bytes, or with a unit (5B = 5e9 as mergekit, 500MB, 2GiB). Default 5B.",
        DefaultValueFactory = _ => "5B",
    };
    public Option<string?> Dtype { get; } = new("--dtype") { Description = "Override the definition's dtype (bfloat16, float16, float32)." };
    public Option<string?> OutDtype { get; } = new("--out-dtype") { Description = "Override the definition's out_dtype (bfloat16, float16, float32)." };
    public Option<bool> AllowCrimes { get; } = new("--allow-crimes") { Description = "Merge models whose architecture or tokenizer differ (warnings instead of errors)." };
    public Option<bool> NoCopyTokenizer { get; } = new("--no-copy-tokenizer") { Description = "Do not copy tokenizer files into the output." };
    public Option<bool> NoModelCard { get; } = new("--no-write-model-card") { Description = "Write no model card (README.md) and no copy of the definition (mergekit_config.yml)." };
    public Option<bool> Force { get; } = new("--force", "-f") { Description = "Replace a non-empty output directory (only once the new model is complete)." };
    public Option<int?> Threads { get; } = new("--threads", "-j") { Description = "Worker threads for the math (default: all cores)." };
    public Option<ulong?> Seed { get; } = new("--seed") { Description = "Seed of randomised methods (DARE, DELLA); overrides the definition's seed. Default 0." };
    public Option<string?> MaxMemory { get; } = new("--max-memory") { Description = "Bound on tensor buffers in flight, e.g. 4GB (default: twice the largest tensor job, at most a quarter of RAM)." };
    public Option<string> Verbosity { get; } = new("--verbosity", "-v")
    {
        Description = "Output detail: q[uiet], m[inimal], n[ormal], d[etailed], diag[nostic].",
        DefaultValueFactory = _ => "normal",
    };
    public Option<bool> NoProgress { get; } = new("--no-progress") { Description = "No live progress display (plain lines only)." };
    public Option<bool> Offline { get; } = new("--offline")
    {
        Description = "Never use the network: Hugging Face ids resolve from the local hub cache only (as HF_HUB_OFFLINE=1); missing files are named.",
    };
    public Option<string> Device { get; } = DeviceOption.Create();
    public Option<bool> AllowUnknownKeys { get; } = new("--allow-unknown-keys")
    {
        Description = "Run even when a key or parameter name of the definition is a near miss of a real one (e.g. 'desnity'): a warning instead of an error.",
    };

    /// <summary>The mergekit-yaml spellings that are not one of the options above (see <see cref="MergekitFlags"/>).</summary>
    public MergekitFlags.Options Mergekit { get; } = new();

    public CommonOptions()
    {
        Verbosity.AcceptOnlyFromAmong(VerbosityParser.Accepted);
        Seed.Aliases.Add(MergekitFlags.Get("--random-seed").Name);
        Threads.Aliases.Add(MergekitFlags.Get("--num-threads").Name);
        Threads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1 and var n) r.AddError($"--threads {n} is not a positive number of threads");
        });
    }

    public void AddTo(Command command, bool mergeOptions = true)
    {
        if (mergeOptions)
        {
            foreach (var o in new Option[] { OutShardSize, Dtype, OutDtype, AllowCrimes, NoCopyTokenizer, NoModelCard, Force, Threads, Seed, MaxMemory, Device, AllowUnknownKeys, Offline })
                command.Options.Add(o);
            foreach (var o in Mergekit.Each) command.Options.Add(o);
        }
        command.Options.Add(Verbosity);
        command.Options.Add(NoProgress);
    }

    /// <summary>The verbosity: <c>-v</c>, or mergekit's <c>--quiet</c> / <c>--verbose</c> when <c>-v</c> is not given.</summary>
    public Tool.Verbosity GetVerbosity(ParseResult result)
    {
        bool Given(string name) => Mergekit.Given(result, name);
        if (result.GetResult(Verbosity) is { Implicit: false }) return VerbosityParser.Parse(result.GetValue(Verbosity));
        return Given("--quiet") ? Tool.Verbosity.Quiet : Given("--verbose") ? Tool.Verbosity.Detailed : Tool.Verbosity.Normal;
    }

    /// <summary>The merge options of the command line. The device (<c>--device</c>, or mergekit's <c>--cuda</c>) is
    /// resolved here. When <paramref name="console"/> is given, the mergekit flags that are ignored say so (one line
    /// each, normal verbosity), and with <paramref name="reportDevice"/> the device line is printed at the verbosity it is
    /// meant for.</summary>
    public MergeOptions GetMergeOptions(ParseResult result, ToolConsole? console = null, bool reportDevice = true)
    {
        var verbosity = GetVerbosity(result);
        if (Mergekit.Given(result, "--quiet") && Mergekit.Given(result, "--verbose")) throw new ArgumentException("--quiet and --verbose contradict each other");
        if (console is not null && verbosity >= Tool.Verbosity.Normal)
            foreach (var flag in Mergekit.IgnoredGiven(result)) console.Err.WriteLine(flag.Note);
        var backend = DeviceOption.Select(GetDevice(result), (level, line) =>
        {
            if (console is not null && reportDevice && verbosity >= level) console.Out.WriteLine(line);
        });
        var env = DotnetMerge.Hub.HubSettings.FromEnvironment();
        var hub = env with
        {
            CacheDirectory = HubCacheDirectory(result) ?? env.CacheDirectory,
            Offline = env.Offline || (result.GetResult(Offline) is not null && result.GetValue(Offline)),
            Log = console is not null && verbosity >= Tool.Verbosity.Normal ? console.Err.WriteLine : null,
        };
        return GetMergeOptionsCore(result) with { Backend = backend, Hub = hub };
    }

    /// <summary>mergekit's <c>--transformers-cache DIR</c>: the hub cache for this run (<c>~</c> and <c>$VAR</c> expanded,
    /// relative to the current directory), or null when not given.</summary>
    private string? HubCacheDirectory(ParseResult result)
    {
        if (Mergekit.Text(result, "--transformers-cache") is not { } dir) return null;
        if (string.IsNullOrWhiteSpace(dir)) throw new ArgumentException("--transformers-cache needs a folder (the Hugging Face hub cache)");
        var path = Path.GetFullPath(DotnetMerge.Hub.HubSettings.Expand(dir, Environment.GetEnvironmentVariable));
        if (File.Exists(path)) throw new ArgumentException($"--transformers-cache '{dir}' is a file, not a folder for the Hugging Face hub cache");
        return path;
    }

    /// <summary><c>--device</c>, or what mergekit's <c>--cuda</c>, <c>--gpu-rich</c> and <c>--no-cuda</c> ask for; an
    /// explicit <c>--device</c> that says otherwise is an error.</summary>
    private string GetDevice(ParseResult result)
    {
        string device = result.GetValue(Device) ?? DeviceOption.Auto;
        var asked = new[] { ("--cuda", "cuda"), ("--gpu-rich", "cuda"), ("--no-cuda", "cpu") }.Where(p => Mergekit.Given(result, p.Item1)).ToList();
        if (asked.Count == 0) return device;
        if (asked.Select(p => p.Item2).Distinct().Count() > 1)
            throw new ArgumentException($"{string.Join(" and ", asked.Select(p => p.Item1))} contradict each other");
        string mapped = asked[0].Item2;
        if (result.GetResult(Device) is { Implicit: false } && DeviceOption.Parse(device) is var explicitDevice
            && (mapped == "cpu" ? !explicitDevice.Cpu : !explicitDevice.Cuda))
            throw new ArgumentException($"{asked[0].Item1} asks for {mapped} but --device is '{device}'; give one of them");
        return result.GetResult(Device) is { Implicit: false } ? device : mapped;
    }

    /// <summary>A pair of flags that say opposite things (<c>--copy-tokenizer --no-copy-tokenizer</c>) is an error.</summary>
    private bool Flag(ParseResult result, Option<bool> ours, string mergekitOpposite)
    {
        bool value = result.GetValue(ours);
        if (value && Mergekit.Given(result, mergekitOpposite))
            throw new ArgumentException($"{ours.Name} and {mergekitOpposite} contradict each other");
        return value;
    }

    private MergeOptions GetMergeOptionsCore(ParseResult result) => new()
    {
        MaxShardBytes = ShardSize.Parse(result.GetValue(OutShardSize) ?? "5B"),
        Dtype = ParseDtype(result.GetValue(Dtype), "--dtype"),
        OutDtype = ParseDtype(result.GetValue(OutDtype), "--out-dtype"),
        AllowCrimes = Flag(result, AllowCrimes, "--no-allow-crimes"),
        CopyTokenizer = !Flag(result, NoCopyTokenizer, "--copy-tokenizer"),
        WriteModelCard = !Flag(result, NoModelCard, "--write-model-card"),
        Force = result.GetValue(Force),
        Threads = result.GetValue(Threads) ?? Environment.ProcessorCount,
        Seed = result.GetValue(Seed),
        MaxMemoryBytes = result.GetValue(MaxMemory) is { } m ? ShardSize.Parse(m) : null,
        WorkingDirectory = Environment.CurrentDirectory,
    };

    private static Numerics.Dtype? ParseDtype(string? value, string option)
    {
        if (value is null) return null;
        return DtypeInfo.TryFromTorchName(value, out var d) && d.CanDecode() ? d
            : throw new ArgumentException($"{option} '{value}' is not a floating-point dtype; use bfloat16, float16 or float32");
    }
}
