using System.CommandLine;
using DotnetMerge.Cuda;
using DotnetMerge.Engine;
using DotnetMerge.Tool.Commands;

namespace DotnetMerge.Tool.Tests;

/// <summary>mergekit-yaml's command line run unchanged with <c>dotnet merge</c>: every flag of the table in
/// <see cref="MergekitFlags"/> (the one docs/migrating-from-mergekit.md lists) on a tiny model, and the command-line
/// errors a mergekit user meets (unknown option or command, a memory bound too small, a misspelled parameter).</summary>
public sealed class MergekitCommandLineTests : IDisposable
{
    private static readonly Lazy<CudaProbeResult> Probe = new(CudaProbe.Run);
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string> LinearConfigAsync(string extraParameter = "")
    {
        await _ws.BaseAsync(TestWorkspace.SmallSpec, "a");
        await _ws.FineTuneAsync("b", "mlp", 0, TestWorkspace.SmallSpec);
        return _ws.Write("linear.yaml", $"""
            merge_method: linear
            models:
              - model: models/a
                parameters: {"{"}weight: 0.75{extraParameter}{"}"}
              - model: models/b
                parameters: {"{"}weight: 0.25{"}"}
            dtype: bfloat16
            """);
    }

    /// <summary>The options a command line yields, parsed by the tool's own option set (as every merge command does).</summary>
    private static (MergeOptions Merge, Verbosity Verbosity) Parse(params string[] args)
    {
        var options = new CommonOptions();
        var command = new RootCommand();
        options.AddTo(command);
        var result = command.Parse(MergekitFlags.NormalizeVerbosityCount(args));
        Assert.True(result.Errors.Count == 0, string.Join("; ", result.Errors.Select(e => e.Message)));
        return (options.GetMergeOptions(result), options.GetVerbosity(result));
    }

    public static TheoryData<string> Flags => new(MergekitFlags.All.Select(f => f.Name));

    [Theory]
    [MemberData(nameof(Flags))]
    public async Task Every_mergekit_yaml_flag_is_accepted_with_its_meaning_here(string name)
    {
        var flag = MergekitFlags.Get(name);
        string config = await LinearConfigAsync();
        string output = _ws.PathOf("out");
        var args = new List<string> { config, output, "--no-progress", flag.Name };
        if (flag.Example is not null) args.Add(flag.Example);
        var run = await CliRunner.RunAsync(args.ToArray());

        if (name is "--cuda" or "--gpu-rich")
        {
            // = --device cuda: exit code 4 and the probe's message without a working GPU, the GPU otherwise
            var explicitCuda = await CliRunner.RunAsync(config, _ws.PathOf("out-device"), "--no-progress", "--device", "cuda");
            Assert.Equal(explicitCuda.ExitCode, run.ExitCode);
            if (Probe.Value.IsSupported) Assert.Contains("device: cuda:0", run.Out);
            else
            {
                Assert.True(run.ExitCode == ExitCodes.DeviceUnavailable, run.ToString());
                Assert.Equal(explicitCuda.Err, run.Err);
                Assert.Contains("CUDA is not available", run.Err);
            }
            return;
        }

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(Path.Combine(output, "config.json")), "the merge ran");
        var notes = run.Err.Split('\n').Where(l => l.StartsWith(flag.Name + ": ignored; ", StringComparison.Ordinal)).ToList();
        if (flag.Kind == MergekitFlagKind.Ignored)
        {
            Assert.True(notes.Count == 1, run.ToString());
            Assert.True(notes[0].Length > (flag.Name + ": ignored; ").Length + 10, "the note says why");
            // and at quiet verbosity the note is not printed
            var quiet = await CliRunner.RunAsync(args.Concat(new[] { "-v", "q", "--force" }).ToArray());
            Assert.True(quiet.ExitCode == 0 && quiet.Err.Length == 0, quiet.ToString());
            return;
        }
        Assert.Empty(notes);

        var withValue = flag.Example is null ? new[] { flag.Name } : new[] { flag.Name, flag.Example };
        var defaults = Parse();
        var parsed = Parse(withValue);
        bool exists(string file) => File.Exists(Path.Combine(output, file));
        switch (name)
        {
            case "--allow-crimes": Assert.True(parsed.Merge.AllowCrimes); Assert.False(defaults.Merge.AllowCrimes); break;
            case "--no-allow-crimes": Assert.False(parsed.Merge.AllowCrimes); break;
            case "--no-cuda":
            case "--device":
                Assert.Null(parsed.Merge.Backend); // the CPU
                var detailed = await CliRunner.RunAsync([config, _ws.PathOf("out-d"), "--no-progress", "-v", "d", .. withValue]);
                Assert.Contains("device: cpu (--device cpu)", detailed.Out);
                break;
            case "--out-shard-size": Assert.Equal(1_000_000_000, parsed.Merge.MaxShardBytes); Assert.True(exists("model.safetensors")); break;
            case "--copy-tokenizer": Assert.True(parsed.Merge.CopyTokenizer); Assert.True(exists("tokenizer.json")); break;
            case "--no-copy-tokenizer": Assert.False(parsed.Merge.CopyTokenizer); Assert.False(exists("tokenizer.json")); break;
            case "--random-seed":
                Assert.Equal(42UL, parsed.Merge.Seed);
                Assert.Null(defaults.Merge.Seed);
                var plan = await CliRunner.RunAsync("plan", config, "--random-seed", "42");
                Assert.Contains("seed: 42", plan.Out);
                break;
            case "--write-model-card": Assert.True(parsed.Merge.WriteModelCard); Assert.True(exists("README.md")); break;
            case "--no-write-model-card":
                Assert.False(parsed.Merge.WriteModelCard);
                Assert.False(exists("README.md"));
                Assert.False(exists("mergekit_config.yml"));
                Assert.True(exists("model.safetensors"));
                break;
            case "--safe-serialization": Assert.True(exists("model.safetensors")); break;
            case "-v":
            case "--verbose":
                Assert.Equal(Verbosity.Detailed, parsed.Verbosity);
                Assert.Contains("cpu kernels:", run.Out + run.Err);
                break;
            case "--quiet":
                Assert.Equal(Verbosity.Quiet, parsed.Verbosity);
                Assert.Equal("", run.Out + run.Err);
                break;
            case "--no-quiet": Assert.Equal(Verbosity.Normal, parsed.Verbosity); Assert.Contains("merged ", run.Out); break;
            case "--transformers-cache":
                Assert.Equal(Path.GetFullPath("hf-cache"), parsed.Merge.Hub!.CacheDirectory); // the run itself is tested in HubCliTests
                break;
            case "--num-threads":
            case "-j":
                Assert.Equal(2, parsed.Merge.Threads);
                break;
            default: Assert.Fail($"{name}: the test has no check for this flag"); break;
        }
    }

    [Fact]
    public void The_migration_guide_lists_exactly_the_flags_the_tool_accepts()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "dotnet-merge.sln"))) dir = dir.Parent;
        var doc = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "migrating-from-mergekit.md")).Replace("\r\n", "\n");
        int start = doc.IndexOf("| mergekit-yaml | dotnet merge |", StringComparison.Ordinal);
        Assert.True(start >= 0, "the flag table is missing");
        var rows = doc[start..].Split('\n').Skip(2).TakeWhile(l => l.StartsWith('|')).ToList();
        Assert.Equal(MergekitFlags.All.Select(f => f.Name), rows.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\| `(-[^ `]+)").Groups[1].Value));
        foreach (var (flag, row) in MergekitFlags.All.Zip(rows))
            Assert.True(row.Contains("ignored", StringComparison.Ordinal) == (flag.Kind == MergekitFlagKind.Ignored), row);
    }

    [Fact]
    public async Task The_command_line_of_mergekits_readme_runs_unchanged()
    {
        string config = await LinearConfigAsync();
        string[] flags = ["--cuda", "--lazy-unpickle", "--copy-tokenizer", "--allow-crimes", "--out-shard-size", "1B", "--random-seed", "42", "-j", "8"];
        var withCuda = await CliRunner.RunAsync([config, _ws.PathOf("cuda"), .. flags, "--no-progress"]);
        if (!Probe.Value.IsSupported)
        {
            var device = await CliRunner.RunAsync(config, _ws.PathOf("device"), "--device", "cuda", "--no-progress");
            Assert.True(withCuda.ExitCode == ExitCodes.DeviceUnavailable, withCuda.ToString());
            Assert.EndsWith(device.Err, withCuda.Err); // the same device message, after the --lazy-unpickle note
        }
        else Assert.True(withCuda.ExitCode == 0, withCuda.ToString());

        var cpu = await CliRunner.RunAsync([config, _ws.PathOf("mergekit"), .. flags.Skip(1), "--no-progress"]);
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        Assert.Contains("--lazy-unpickle: ignored; ", cpu.Err);
        var plain = await CliRunner.RunAsync(config, _ws.PathOf("plain"), "--no-progress", "--device", "cpu");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        foreach (var tensor in new[] { "model.embed_tokens.weight", "model.layers.1.mlp.up_proj.weight" })
            Assert.Equal(TestWorkspace.ReadRaw(_ws.PathOf("plain"), tensor).Bytes, TestWorkspace.ReadRaw(_ws.PathOf("mergekit"), tensor).Bytes);
        Assert.True(File.Exists(_ws.PathOf("mergekit", "tokenizer.json")));
    }

    [Theory]
    [InlineData(new[] { "-v" }, new[] { "-v", "detailed" })]
    [InlineData(new[] { "c.yml", "-v", "out" }, new[] { "c.yml", "out", "-v", "detailed" })]
    [InlineData(new[] { "-vv", "c.yml" }, new[] { "c.yml", "-v", "diagnostic" })]
    [InlineData(new[] { "-v", "-v", "--cuda" }, new[] { "--cuda", "-v", "diagnostic" })]
    [InlineData(new[] { "-v", "q", "c.yml" }, new[] { "-v", "q", "c.yml" })]
    [InlineData(new[] { "c.yml", "--", "-v" }, new[] { "c.yml", "--", "-v" })]
    public void Mergekits_counted_v_becomes_a_verbosity(string[] args, string[] expected)
        => Assert.Equal(expected, MergekitFlags.NormalizeVerbosityCount(args));

    [Fact]
    public async Task Contradicting_flags_are_a_command_line_error()
    {
        string config = await LinearConfigAsync();
        foreach (var args in new[] { new[] { "--cuda", "--device", "cpu" }, new[] { "--copy-tokenizer", "--no-copy-tokenizer" }, new[] { "--quiet", "--verbose" } })
        {
            var result = await CliRunner.RunAsync([config, _ws.PathOf("out"), .. args]);
            Assert.True(result.ExitCode == ExitCodes.InvalidDefinition, result.ToString());
            Assert.False(Directory.Exists(_ws.PathOf("out")));
        }
    }

    [Theory]
    [InlineData("--num-threads", "0")]
    [InlineData("-j", "-2")]
    [InlineData("--write-threads", "0")]
    [InlineData("--random-seed", "-1")]
    public async Task Numbers_given_to_mergekit_flags_are_validated(string flag, string value)
    {
        string config = await LinearConfigAsync();
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), flag, value);
        Assert.True(result.ExitCode == ExitCodes.InvalidDefinition, result.ToString());
        Assert.Contains(value, Assert.Single(result.Err.TrimEnd().Split('\n')));
        Assert.False(Directory.Exists(_ws.PathOf("out")));
    }

    [Fact]
    public async Task An_unknown_option_is_one_line_with_did_you_mean_and_exit_code_2()
    {
        string config = await LinearConfigAsync();
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--cudaa");
        Assert.True(result.ExitCode == ExitCodes.InvalidDefinition, result.ToString());
        Assert.Equal("", result.Out); // no help
        var line = Assert.Single(result.Err.TrimEnd().Split('\n'));
        Assert.Contains("unknown option '--cudaa'; did you mean '--cuda'?", line);

        var check = await CliRunner.RunAsync("check", config, "--alow-crimes");
        Assert.Contains("did you mean '--allow-crimes'?", Assert.Single(check.Err.TrimEnd().Split('\n')));
        Assert.Equal(ExitCodes.InvalidDefinition, check.ExitCode);
    }

    [Fact]
    public async Task An_unknown_command_is_not_read_as_a_definition_path()
    {
        await LinearConfigAsync();
        var result = await CliRunner.RunAsync("chek", "x.yml");
        Assert.True(result.ExitCode == ExitCodes.InvalidDefinition, result.ToString());
        var line = Assert.Single(result.Err.TrimEnd().Split('\n'));
        Assert.Contains("'chek'", line);
        Assert.Contains("did you mean 'check'?", line);
        Assert.DoesNotContain("cannot read the merge definition", line);
    }

    [Fact]
    public async Task A_command_line_error_exits_with_2_and_one_line_not_the_help()
    {
        var result = await CliRunner.RunAsync("soup", "-o", _ws.PathOf("soup"));
        Assert.True(result.ExitCode == 2, result.ToString()); // 2: invalid command line (1 is reserved for bugs)
        var line = Assert.Single(result.Err.TrimEnd().Split('\n'));
        Assert.Contains("Required argument 'models' missing", line);
        Assert.Contains("dotnet merge soup --help", line);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task Max_memory_below_the_largest_tensor_is_rejected_with_the_figure()
    {
        string config = await LinearConfigAsync();
        // the largest job: the embedding (or the LM head) of both inputs plus the merged output, all bf16
        long embed = TestWorkspace.ReadRaw(_ws.PathOf("models", "a"), "model.embed_tokens.weight").Bytes.Length;
        long needed = 3 * embed;
        var tooSmall = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress", "--max-memory", "1KB");
        Assert.True(tooSmall.ExitCode == ExitCodes.InvalidDefinition, tooSmall.ToString());
        Assert.Contains($"{needed} bytes", tooSmall.Err);
        Assert.Contains("--max-memory", tooSmall.Err);
        Assert.False(Directory.Exists(_ws.PathOf("out")));

        var plan = await CliRunner.RunAsync("plan", config, "--max-memory", (needed - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ExitCodes.InvalidDefinition, plan.ExitCode);
        var enough = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress", "--max-memory", needed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(enough.ExitCode == 0, enough.ToString());
    }

    [Fact]
    public async Task A_misspelled_parameter_stops_the_run_unless_unknown_keys_are_allowed()
    {
        string config = await LinearConfigAsync(", normalise: false");
        var strict = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(strict.ExitCode == ExitCodes.InvalidDefinition, strict.ToString());
        Assert.Contains("linear.yaml(4,", strict.Err);
        Assert.Contains("error DMRG0312", strict.Err);
        Assert.Contains("did you mean 'normalize'?", strict.Err);
        Assert.False(Directory.Exists(_ws.PathOf("out")));

        var allowed = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress", "--allow-unknown-keys");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Contains("warning DMRG0312", allowed.Err);
    }

    [Theory]
    [InlineData("check")]
    [InlineData("plan")]
    public async Task Subcommand_help_lists_only_its_own_arguments(string command)
    {
        var result = await CliRunner.RunAsync(command, "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("<config>", result.Out);
        Assert.DoesNotContain("<output>", result.Out);
        Assert.Contains("mergekit-yaml flags", result.Out);
    }
}
