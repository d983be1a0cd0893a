using System.Diagnostics;
using System.Text.RegularExpressions;
using DotnetMerge.Demo;

namespace DotnetMerge.Tool.Tests.Partitioning;

/// <summary>Issue 19: a merge split into parts (<c>run --part i/N</c>), joined (<c>join</c>), prepared (<c>prepare</c>)
/// and resumed (<c>run --resume</c>) gives the bytes of the one-process merge, file for file.</summary>
public sealed class PartitionedRunTests : IDisposable
{
    private readonly TestWorkspace _ws = new();
    public void Dispose() => _ws.Dispose();

    private const string Shard = "8KB"; // the small model (about 70 KB) in about ten shards

    private static readonly Dictionary<string, string> Methods = new()
    {
        ["linear"] = "merge_method: linear\nmodels:\n  - model: models/base\n    parameters: {weight: 0.3}\n  - model: models/a\n    parameters: {weight: 0.7}\n  - model: models/b\n    parameters: {weight: 0.5}\ndtype: bfloat16\n",
        ["ties"] = "merge_method: ties\nbase_model: models/base\nmodels:\n  - model: models/a\n    parameters: {weight: 1, density: 0.4}\n  - model: models/b\n    parameters: {weight: 0.6, density: 0.7}\ndtype: bfloat16\n",
        ["dare_ties"] = "merge_method: dare_ties\nbase_model: models/base\nmodels:\n  - model: models/a\n    parameters: {weight: 1, density: 0.5}\n  - model: models/b\n    parameters: {weight: 0.6, density: 0.5}\nseed: 7\ndtype: bfloat16\n",
        ["slerp"] = "merge_method: slerp\nbase_model: models/base\nmodels:\n  - model: models/base\n  - model: models/a\nparameters:\n  t: [0, 0.5, 1]\ndtype: bfloat16\n",
        ["ties_model_scope"] = "merge_method: ties\nbase_model: models/base\nmodels:\n  - model: models/a\n    parameters: {weight: 1, density: 0.3}\n  - model: models/b\n    parameters: {weight: 1, density: 0.5}\nparameters:\n  trim_scope: model\ndtype: bfloat16\n",
    };

    private async Task ModelsAsync()
    {
        await _ws.BaseAsync();
        await _ws.FineTuneAsync("a", "", 0);
        await _ws.FineTuneAsync("b", "mlp", 1);
    }

    private static async Task Ok(params string[] args)
    {
        var r = await CliRunner.RunAsync(args);
        Assert.True(r.ExitCode == 0, string.Join(' ', args) + "\n" + r);
    }

    /// <summary>Every file of <paramref name="expected"/> is in <paramref name="actual"/> with the same bytes, and nothing else is.</summary>
    internal static void AssertSameFiles(string expected, string actual)
    {
        static List<string> Files(string d) => Directory.EnumerateFileSystemEntries(d, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(d, f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Files(expected), Files(actual));
        foreach (var f in Files(expected))
            Assert.True(File.ReadAllBytes(Path.Combine(expected, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, f))), $"{f} differs");
    }

    [Theory]
    [InlineData("linear", 1)] [InlineData("linear", 2)] [InlineData("linear", 3)] [InlineData("linear", 7)]
    [InlineData("ties", 1)] [InlineData("ties", 2)] [InlineData("ties", 3)] [InlineData("ties", 7)]
    [InlineData("dare_ties", 1)] [InlineData("dare_ties", 3)] [InlineData("dare_ties", 7)]
    [InlineData("slerp", 2)] [InlineData("slerp", 7)]
    [InlineData("ties_model_scope", 1)] [InlineData("ties_model_scope", 3)] [InlineData("ties_model_scope", 7)]
    public async Task PartsThenJoin_AreByteIdenticalToTheOneProcessMerge(string method, int parts)
    {
        await ModelsAsync();
        var config = _ws.Write("m.yaml", Methods[method]);
        var one = _ws.PathOf("one", "out");
        var split = _ws.PathOf("split", "out");
        await Ok(config, one, "--out-shard-size", Shard, "--no-progress");
        Assert.True(Directory.GetFiles(one, "model-*.safetensors").Length >= 5, "the fixture should give several shards");
        if (method == "ties_model_scope") await Ok("prepare", config, split, "--out-shard-size", Shard, "--no-progress");
        // The parts in reverse order: no part depends on another.
        for (int i = parts - 1; i >= 0; i--)
        {
            await Ok("run", config, split, "--out-shard-size", Shard, "--part", $"{i}/{parts}", "--no-progress");
            // Until join, nothing in OUT looks like a model: only the hidden bookkeeping directory.
            Assert.Equal([".dotnet-merge-parts"], Directory.EnumerateFileSystemEntries(split).Select(Path.GetFileName));
        }
        await Ok("join", split, "--no-progress");
        AssertSameFiles(one, split);
    }

    [Fact]
    public async Task ModelScopeStatistics_PartsRefuseWithoutPrepareOrWithAStaleOne()
    {
        await ModelsAsync();
        var config = _ws.Write("m.yaml", Methods["ties_model_scope"]);
        var output = _ws.PathOf("out");
        var r = await CliRunner.RunAsync("run", config, output, "--out-shard-size", Shard, "--part", "0/2", "--no-progress");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("DMRG0972", r.Err);
        Assert.Contains("dotnet merge prepare", r.Err);

        // Statistics of another plan (density changed): refused, not used.
        var other = _ws.Write("other.yaml", Methods["ties_model_scope"].Replace("density: 0.5", "density: 0.6", StringComparison.Ordinal));
        var otherOut = _ws.PathOf("other");
        await Ok("prepare", other, otherOut, "--out-shard-size", Shard, "--no-progress");
        Directory.CreateDirectory(Path.Combine(output, ".dotnet-merge-parts"));
        File.Copy(Path.Combine(otherOut, ".dotnet-merge-parts", "stats.json"), Path.Combine(output, ".dotnet-merge-parts", "stats.json"));
        r = await CliRunner.RunAsync("run", config, output, "--out-shard-size", Shard, "--part", "0/2", "--no-progress");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("DMRG0973", r.Err);

        // Methods without whole-model statistics have nothing to prepare.
        var linear = _ws.Write("linear.yaml", Methods["linear"]);
        var p = await CliRunner.RunAsync("prepare", linear, _ws.PathOf("lin"), "--no-progress");
        Assert.True(p.ExitCode == 0, p.ToString());
        Assert.Contains("nothing to prepare", p.Out);
        Assert.False(Directory.Exists(Path.Combine(_ws.PathOf("lin"), ".dotnet-merge-parts", "stats.json")));
    }

    [Fact]
    public async Task Join_NamesTheMissingPartAndTheCorruptShard_WithTheCommandThatRerunsIt()
    {
        await ModelsAsync();
        var config = _ws.Write("m.yaml", Methods["linear"]);
        var output = _ws.PathOf("out");
        await Ok("run", config, output, "--out-shard-size", Shard, "--part", "0/3", "--no-progress");
        await Ok("run", config, output, "--out-shard-size", Shard, "--part", "2/3", "--no-progress");
        var r = await CliRunner.RunAsync("join", output, "--no-progress");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("DMRG0975", r.Err);
        Assert.Matches(@"part 1/3: shard model-\d{5}-of-\d{5}\.safetensors has no record", r.Err);
        Assert.Contains("--part 1/3", r.Err);
        Assert.DoesNotContain("part 0/3", r.Err);
        Assert.Equal([".dotnet-merge-parts"], Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName));

        await Ok("run", config, output, "--out-shard-size", Shard, "--part", "1/3", "--no-progress");
        // Truncate one shard of part 2 (its record says the full size).
        var plan = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, ".dotnet-merge-parts", "plan.json")))!;
        var victim = plan["shards"]!.AsArray().First(s => (int)s!["part"]! == 2)!["file"]!.GetValue<string>();
        var path = Path.Combine(output, ".dotnet-merge-parts", "shards", victim);
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length - 10);
        r = await CliRunner.RunAsync("join", output, "--no-progress");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("DMRG0976", r.Err);
        Assert.Contains($"part 2/3: shard {victim} has", r.Err);
        Assert.Contains("--part 2/3", r.Err);

        // The rerun of that part recomputes the truncated shard (its size is not the recorded one), then join succeeds.
        var rerun = await CliRunner.RunAsync("run", config, output, "--out-shard-size", Shard, "--part", "2/3", "--no-progress");
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Contains($"shard {victim} is recomputed", rerun.Err);

        // A corrupt shard of the right size: join reads it back against the XxHash128 its part computed while writing it.
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        r = await CliRunner.RunAsync("join", output, "--no-progress");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("DMRG0976", r.Err);
        Assert.Contains($"part 2/3: shard {victim} does not have the XxHash128 its part recorded (corrupt)", r.Err);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        // --verify also recomputes the sha256: a record whose sha256 is not the file's is found (the default check does
        // not read it).
        var recordPath = Path.Combine(output, ".dotnet-merge-parts", "records", victim + ".json");
        var record = File.ReadAllText(recordPath);
        var sha = System.Text.Json.Nodes.JsonNode.Parse(record)!["sha256"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{64}$", sha);
        File.WriteAllText(recordPath, record.Replace(sha, new string('0', 64), StringComparison.Ordinal));
        r = await CliRunner.RunAsync("join", output, "--verify", "--no-progress");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains($"part 2/3: shard {victim} does not have the sha256 its part recorded (corrupt)", r.Err);
        // A record of an earlier dotnet-merge (no XxHash128) counts as none: its part has not finished.
        var old = System.Text.Json.Nodes.JsonNode.Parse(record)!.AsObject();
        old.Remove("xxh128");
        File.WriteAllText(recordPath, old.ToJsonString());
        r = await CliRunner.RunAsync("join", output, "--no-progress");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("DMRG0975", r.Err);
        Assert.Contains($"part 2/3: shard {victim} has no record (its part has not finished)", r.Err);
        File.WriteAllText(recordPath, record);
        await Ok("join", output, "--verify", "--no-progress");
        var one = _ws.PathOf("one", "out");
        await Ok(config, one, "--out-shard-size", Shard, "--no-progress");
        AssertSameFiles(one, output);
    }

    [Fact]
    public async Task Join_KilledBetweenItsRenames_IsFinishedByTheNextJoin()
    {
        await ModelsAsync();
        var config = _ws.Write("m.yaml", Methods["linear"]);
        var output = _ws.PathOf("split", "out");
        for (int i = 0; i < 2; i++) await Ok("run", config, output, "--out-shard-size", Shard, "--part", $"{i}/2", "--no-progress");
        var manifest = File.ReadAllText(Path.Combine(output, ".dotnet-merge-parts", "plan.json"));
        await Ok("join", output, "--no-progress");
        // The state a kill after join's first rename leaves: the model beside OUT, the bookkeeping still in OUT.
        var aside = _ws.PathOf("split", ".out.joining-" + Guid.NewGuid().ToString("N"));
        Directory.Move(output, aside);
        Directory.CreateDirectory(Path.Combine(output, ".dotnet-merge-parts"));
        File.WriteAllText(Path.Combine(output, ".dotnet-merge-parts", "plan.json"), manifest);
        var r = await CliRunner.RunAsync("join", output, "--no-progress");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("finishing an interrupted join", r.Err);
        Assert.False(Directory.Exists(aside));
        var one = _ws.PathOf("one", "out");
        await Ok(config, one, "--out-shard-size", Shard, "--no-progress");
        AssertSameFiles(one, output);
    }

    [Fact]
    public async Task TwoWorkersOnOnePart_LeaveAValidResult()
    {
        await ModelsAsync();
        var config = _ws.Write("m.yaml", Methods["ties"]);
        var output = _ws.PathOf("out");
        var runs = Enumerable.Range(0, 2).Select(_ => CliRunner.RunAsync("run", config, output, "--out-shard-size", Shard, "--part", "0/1", "--no-progress")).ToList();
        var results = await Task.WhenAll(runs);
        foreach (var r in results) Assert.True(r.ExitCode == 0, r.ToString());
        await Ok("join", output, "--no-progress");
        var one = _ws.PathOf("one", "out");
        await Ok(config, one, "--out-shard-size", Shard, "--no-progress");
        AssertSameFiles(one, output);
    }

    /// <summary>A larger model in many small shards (40KB), merged with one thread: a run takes long enough to be killed in
    /// the middle. Returns the definition.</summary>
    private async Task<string> SlowMergeAsync()
    {
        var spec = new LlamaSpec(Layers: 6, Hidden: 128, Intermediate: 256, Vocab: 512, Heads: 4, KvHeads: 2);
        await _ws.BaseAsync(spec);
        await _ws.FineTuneAsync("a", "", 0, spec);
        await _ws.FineTuneAsync("b", "mlp", 1, spec);
        return _ws.Write("m.yaml", Methods["ties"]);
    }

    /// <summary>Runs the tool and kills it (SIGKILL) once <paramref name="records"/> gives a directory with at least three
    /// shard records.</summary>
    private void KillAfterThreeRecords(string[] args, Func<string?> records)
    {
        using var process = Process.Start(ToolProcess.StartInfo(_ws.Root, "0", args))!;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(1) && !process.HasExited
               && !(records() is { } dir && Directory.Exists(dir) && Directory.GetFiles(dir, "model-*.json").Length >= 3))
            Thread.Sleep(2);
        Assert.False(process.HasExited, "the run ended before it could be killed");
        process.Kill(); // SIGKILL
        process.WaitForExit();
    }

    /// <summary>The counts of <c>run --resume</c>'s summary line, checked against the <paramref name="finished"/> shards
    /// the killed run had recorded: those are kept, only the others computed.</summary>
    private static void AssertOnlyTheUnfinishedWereComputed(CliRunner.Result resumed, int finished)
    {
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var m = Regex.Match(resumed.Out, @"\((\d+) shards\): (\d+) shards computed, (\d+) kept");
        Assert.True(m.Success, resumed.Out);
        int total = int.Parse(m.Groups[1].Value), computed = int.Parse(m.Groups[2].Value), kept = int.Parse(m.Groups[3].Value);
        Assert.Equal(finished, kept);
        Assert.Equal(total - finished, computed);
        Assert.True(computed > 0 && kept >= 3, resumed.Out);
    }

    [Fact]
    public async Task Resume_AfterKill9_RecomputesOnlyTheUnfinishedShards()
    {
        var config = await SlowMergeAsync();
        var output = _ws.PathOf("out");
        string[] args = ["run", config, output, "--out-shard-size", "40KB", "--threads", "1", "--resume", "--no-progress"];

        var records = Path.Combine(output, ".dotnet-merge-parts", "records");
        KillAfterThreeRecords(args, () => records);
        int finished = Directory.GetFiles(records, "model-*.json").Length;
        // The shards with a record must survive untouched (same file, same time).
        var recorded = Directory.GetFiles(records, "model-*.json").Select(r => Path.Combine(output, ".dotnet-merge-parts", "shards", Path.GetFileNameWithoutExtension(r)))
            .ToDictionary(f => f, File.GetLastWriteTimeUtc);

        AssertOnlyTheUnfinishedWereComputed(await CliRunner.RunAsync(args), finished);
        foreach (var (file, time) in recorded) Assert.Equal(time, File.GetLastWriteTimeUtc(Path.Combine(output, Path.GetFileName(file))));

        var one = _ws.PathOf("one", "out");
        await Ok(config, one, "--out-shard-size", "40KB", "--no-progress");
        AssertSameFiles(one, output);
    }

    [Fact]
    public async Task PlainRunKilled_ResumeTakesOverItsFinishedShards_AndRecomputesOnlyTheRest()
    {
        var config = await SlowMergeAsync();
        var output = _ws.PathOf("out");
        string[] plain = ["run", config, output, "--out-shard-size", "40KB", "--threads", "1", "--no-progress"];

        // A plain run (no --resume) writes into its staging directory beside OUT; its records are in there.
        string? records = null;
        KillAfterThreeRecords(plain, () => records ??= Directory.GetDirectories(_ws.Root, ".out.partial-*")
            .Select(d => Path.Combine(d, ".dotnet-merge-parts", "records")).FirstOrDefault(Directory.Exists));
        Assert.False(Directory.Exists(output));
        var staging = Path.GetDirectoryName(Path.GetDirectoryName(records))!;
        var finished = Directory.GetFiles(records!, "model-*.json").Select(Path.GetFileNameWithoutExtension).ToList();
        Assert.All(finished, f => Assert.True(File.Exists(Path.Combine(staging, f!)), f));
        // The shards it finished are taken over as they are (the same files: same modification times).
        var times = finished.ToDictionary(f => f!, f => File.GetLastWriteTimeUtc(Path.Combine(staging, f!)));

        var resumed = await CliRunner.RunAsync([.. plain, "--resume"]);
        AssertOnlyTheUnfinishedWereComputed(resumed, finished.Count);
        Assert.Contains($"took over {finished.Count} finished shards of the interrupted run", resumed.Err);
        foreach (var (file, time) in times) Assert.Equal(time, File.GetLastWriteTimeUtc(Path.Combine(output, file)));
        Assert.False(Directory.Exists(staging));
        Assert.Empty(Directory.GetDirectories(_ws.Root, ".out.*"));

        // Byte-identical to an uninterrupted plain run, which leaves no bookkeeping in its output (AssertSameFiles
        // compares every file, hidden ones too).
        var one = _ws.PathOf("one", "out");
        await Ok(config, one, "--out-shard-size", "40KB", "--no-progress");
        Assert.False(Directory.Exists(Path.Combine(one, ".dotnet-merge-parts")));
        AssertSameFiles(one, output);
    }

    [Fact]
    public async Task Resume_AChangedDefinitionInvalidatesTheOldShards_AndSaysWhich()
    {
        await ModelsAsync();
        var config = _ws.Write("m.yaml", Methods["linear"]);
        var output = _ws.PathOf("out");
        await Ok("run", config, output, "--out-shard-size", Shard, "--part", "0/2", "--no-progress");
        _ws.Write("m.yaml", Methods["linear"].Replace("weight: 0.7", "weight: 0.6", StringComparison.Ordinal));
        // Without --resume the other plan's parts are refused; with it they are replaced.
        var refused = await CliRunner.RunAsync("run", config, output, "--out-shard-size", Shard, "--part", "1/2", "--no-progress");
        Assert.Equal(5, refused.ExitCode);
        Assert.Contains("DMRG0971", refused.Err);
        Assert.Contains("the definition", refused.Err);
        var r = await CliRunner.RunAsync("run", config, output, "--out-shard-size", Shard, "--resume", "--no-progress");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("is recomputed: the definition (or its options) changed", r.Err);
        Assert.Contains(" 0 kept", r.Out);
        var one = _ws.PathOf("one", "out");
        await Ok(config, one, "--out-shard-size", Shard, "--no-progress");
        AssertSameFiles(one, output);
    }

    [Fact]
    public async Task BadPartValues_AreCommandLineErrors()
    {
        await ModelsAsync();
        var config = _ws.Write("m.yaml", Methods["linear"]);
        foreach (var bad in new[] { "3/3", "-1/3", "1/0", "x", "1" })
        {
            var r = await CliRunner.RunAsync("run", config, _ws.PathOf("out"), "--part", bad, "--no-progress");
            Assert.True(r.ExitCode == 2, bad + "\n" + r);
            Assert.Contains("DMRG0970", r.Err);
        }
        var force = await CliRunner.RunAsync("run", config, _ws.PathOf("out"), "--part", "0/2", "--force", "--no-progress");
        Assert.True(force.ExitCode == 2, force.ToString());
        Assert.Contains("--force cannot be combined with --part", force.Err);
        Assert.False(Directory.Exists(_ws.PathOf("out")));
    }
}

public sealed class PlanPartsTests : IDisposable
{
    private readonly TestWorkspace _ws = new();
    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task PlanParts_SplitsTheWholePlansBytes_AndTimesThemAtTheBandwidth()
    {
        await _ws.BaseAsync();
        await _ws.FineTuneAsync("a", "", 0);
        var config = _ws.Write("m.yaml", "merge_method: linear\nmodels:\n  - model: models/base\n    parameters: {weight: 0.5}\n  - model: models/a\n    parameters: {weight: 0.5}\ndtype: bfloat16\n");
        var whole = await CliRunner.RunAsync("plan", config, "--json", "--out-shard-size", "8KB");
        Assert.True(whole.ExitCode == 0, whole.ToString());
        var plan = System.Text.Json.Nodes.JsonNode.Parse(whole.Out)!;
        var r = await CliRunner.RunAsync("plan", config, "--json", "--out-shard-size", "8KB", "--parts", "3", "--bandwidth", "1MB/s");
        Assert.True(r.ExitCode == 0, r.ToString());
        var parts = System.Text.Json.Nodes.JsonNode.Parse(r.Out)!["per_part"]!.AsArray();
        Assert.Equal(3, parts.Count);
        // Independent totals: the two input models' tensor bytes are read once each; the output is one model's bytes.
        long modelBytes = Directory.GetFiles(_ws.PathOf("models", "base"), "*.safetensors").Sum(f => TensorBytes(f));
        Assert.Equal(2 * modelBytes, parts.Sum(p => (long)p!["bytes_to_read"]!));
        Assert.Equal(modelBytes, parts.Sum(p => (long)p!["bytes_to_write"]!));
        Assert.Equal((long)plan["bytes_to_read"]!, parts.Sum(p => (long)p!["bytes_to_read"]!));
        foreach (var p in parts)
        {
            double expected = ((long)p!["bytes_to_read"]! + (long)p["bytes_to_write"]!) / 1e6;
            Assert.Equal(expected, (double)p["estimated_seconds"]!, 9);
            Assert.True((long)p["shards"]! >= 1 && (long)p["peak_memory_bytes"]! > 0);
        }
        // Balanced: no part more than one largest shard above the mean.
        var costs = parts.Select(p => (long)p!["bytes_to_read"]! + (long)p["bytes_to_write"]!).ToList();
        Assert.True(costs.Max() - costs.Min() <= costs.Max() / 2, string.Join(", ", costs));

        var bad = await CliRunner.RunAsync("plan", config, "--parts", "2", "--bandwidth", "fast");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--bandwidth 'fast'", bad.Err);
    }

    /// <summary>The data bytes of a safetensors file: its length less the 8-byte length and the header.</summary>
    private static long TensorBytes(string file)
    {
        var bytes = File.ReadAllBytes(file);
        return bytes.Length - 8 - (long)BitConverter.ToUInt64(bytes, 0);
    }
}
