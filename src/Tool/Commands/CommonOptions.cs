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
    public Option<string> Device { get; } = DeviceOption.Create();

    public CommonOptions()
    {
        Verbosity.AcceptOnlyFromAmong(VerbosityParser.Accepted);
    }

    public void AddTo(Command command, bool mergeOptions = true)
    {
        if (mergeOptions)
        {
            foreach (var o in new Option[] { OutShardSize, Dtype, OutDtype, AllowCrimes, NoCopyTokenizer, Force, Threads, Seed, MaxMemory, Device })
                command.Options.Add(o);
        }
        command.Options.Add(Verbosity);
        command.Options.Add(NoProgress);
    }

    public Tool.Verbosity GetVerbosity(ParseResult result) => VerbosityParser.Parse(result.GetValue(Verbosity));

    /// <summary>The merge options of the command line. The device (<c>--device</c>) is resolved here: when
    /// <paramref name="console"/> is given, the device line is printed at the verbosity it is meant for.</summary>
    public MergeOptions GetMergeOptions(ParseResult result, ToolConsole? console = null)
    {
        var verbosity = GetVerbosity(result);
        var backend = DeviceOption.Select(result.GetValue(Device), (level, line) =>
        {
            if (console is not null && verbosity >= level) console.Out.WriteLine(line);
        });
        return GetMergeOptionsCore(result) with { Backend = backend };
    }

    private MergeOptions GetMergeOptionsCore(ParseResult result) => new()
    {
        MaxShardBytes = ShardSize.Parse(result.GetValue(OutShardSize) ?? "5B"),
        Dtype = ParseDtype(result.GetValue(Dtype), "--dtype"),
        OutDtype = ParseDtype(result.GetValue(OutDtype), "--out-dtype"),
        AllowCrimes = result.GetValue(AllowCrimes),
        CopyTokenizer = !result.GetValue(NoCopyTokenizer),
        Force = result.GetValue(Force),
        Threads = result.GetValue(Threads) is { } t and > 0 ? t : Environment.ProcessorCount,
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
