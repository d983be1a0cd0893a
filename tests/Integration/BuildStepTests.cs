using System.Diagnostics;
using System.Text.RegularExpressions;
using DotnetMerge.Demo;

namespace DotnetMerge.Integration.Tests;

/// <summary>The build step's inputs (the CLI's dependency file), its one line per merge, parallel merges and the copy of
/// a merged model into publish output; real builds of the Consumer fixture.</summary>
public partial class PackageIntegrationTests
{
    private static readonly Regex SummaryLine = new(@"DotnetMerge: merged merges/step\.merge\.yaml -> out/step \([0-9.]+ [A-Za-z]+ in [0-9.]+ s\)", RegexOptions.CultureInvariant);

    private static string[] Verbosity(string level) => ["build", "-nologo", "-v", level, "-nodeReuse:false", "-p:UseSharedCompilation=false"];

    private static int CountLines(string output, string text) => output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>A fine-tune sharded in 3+ files whose last shard is named only through the index (no *.safetensors glob
    /// finds it), next to files the merge does not read.</summary>
    private static async Task<string> ShardedModelAsync(string project)
    {
        var dir = Path.Combine(project, "models", "sharded");
        var spec = new LlamaSpec(Layers: 2, Hidden: 16, Intermediate: 32, Vocab: 64, Heads: 2, KvHeads: 1, MaxShardBytes: 6_000);
        await SyntheticModels.WriteFineTuneAsync(dir, spec, new FineTune("sharded", "mlp", 0, 0.5, 1.0, 7));
        var shards = Directory.GetFiles(dir, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.True(shards.Length >= 2, "the fixture model should be sharded");
        File.Move(Path.Combine(dir, shards[^1]!), Path.Combine(dir, "last-shard"));
        var index = Path.Combine(dir, "model.safetensors.index.json");
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"" + shards[^1] + "\"", "\"last-shard\"", StringComparison.Ordinal));
        return dir;
    }

    [Fact]
    public async Task Build_step_inputs_come_from_the_cli_dependency_file_and_each_merge_is_one_line()
    {
        var project = fixture.CopyFixture("Consumer");
        var sharded = await ShardedModelAsync(project);
        var step = Path.Combine(project, "merges", "step.merge.yaml");
        File.WriteAllText(step, File.ReadAllText(step).Replace("../models/tuned", "../models/sharded", StringComparison.Ordinal));

        // Normal verbosity: one line for the merge, with size and time; the CLI's progress is not shown.
        var first = fixture.Dotnet(project, Verbosity("n"));
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Matches(SummaryLine, first.Output);
        Assert.Equal(1, CountLines(first.Output, "DotnetMerge:"));
        Assert.DoesNotContain("checking inputs and planning", first.Output, StringComparison.Ordinal);
        var deps = Directory.GetFiles(Path.Combine(project, "obj", "dotnet-merge"), "step.merge.yaml.*.stamp.deps").Single();
        Assert.Contains(Path.Combine(sharded, "last-shard"), File.ReadAllLines(deps));
        var output = Path.Combine(project, "out", "step", "model.safetensors");
        var merged = File.GetLastWriteTimeUtc(output);

        // Files the merge does not read, new or touched, change nothing.
        File.WriteAllText(Path.Combine(sharded, "unrelated.safetensors"), "not part of the model");
        File.WriteAllText(Path.Combine(sharded, "notes.txt"), "mine");
        var untouched = fixture.Dotnet(project, BuildArguments);
        Assert.True(untouched.ExitCode == 0, untouched.Output);
        Assert.DoesNotContain("DotnetMerge: merged", untouched.Output, StringComparison.Ordinal);
        Assert.Equal(merged, File.GetLastWriteTimeUtc(output));

        // Touching the shard that only the index names merges again; at detailed verbosity the CLI's progress is shown.
        File.SetLastWriteTimeUtc(Path.Combine(sharded, "last-shard"), DateTime.UtcNow);
        var touched = fixture.Dotnet(project, Verbosity("d"));
        Assert.True(touched.ExitCode == 0, touched.Output);
        Assert.Matches(SummaryLine, touched.Output);
        Assert.Contains("checking inputs and planning", touched.Output, StringComparison.Ordinal);
        Assert.NotEqual(merged, File.GetLastWriteTimeUtc(output));

        // A deleted dependency file (an output of the step) merges again.
        File.Delete(deps);
        var withoutDeps = fixture.Dotnet(project, BuildArguments);
        Assert.True(withoutDeps.ExitCode == 0, withoutDeps.Output);
        Assert.Contains("DotnetMerge: merged", withoutDeps.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(deps));
    }

    /// <summary>DotnetMergeMaxParallel=2 runs two merges at once. Proof: each merge's tokenizer donor has a merges.txt that
    /// is a FIFO, so each merge blocks in its tokenizer copy until this test opens that FIFO for writing; the test waits
    /// until both are open before writing to either, which only two merges running at the same time can satisfy.</summary>
    [Fact]
    public async Task Independent_merges_run_in_parallel_when_asked()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return; // FIFOs (mkfifo) are POSIX
        var project = fixture.CopyFixture("Consumer");
        var fifos = new List<string>();
        foreach (var name in new[] { "pa", "pb" })
        {
            var donor = Path.Combine(project, "models", "base-" + name);
            foreach (var file in Directory.GetFiles(Path.Combine(project, "models", "base")))
            {
                Directory.CreateDirectory(donor);
                File.Copy(file, Path.Combine(donor, Path.GetFileName(file)));
            }
            var fifo = Path.Combine(donor, "merges.txt");
            using (var mkfifo = Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
            fifos.Add(fifo);
            File.WriteAllText(Path.Combine(project, "merges", name + ".merge.yaml"),
                $"merge_method: task_arithmetic\nbase_model: ../models/base-{name}\nmodels:\n  - model: ../models/tuned\n    parameters:\n      weight: 0.5\ndtype: float32\n");
        }
        var csproj = Path.Combine(project, "Consumer.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace(
            "<MergeDefinition Include=\"merges/step.merge.yaml\" RunOnBuild=\"true\" OutputPath=\"out/step\" />",
            "<MergeDefinition Include=\"merges/pa.merge.yaml\" RunOnBuild=\"true\" OutputPath=\"out/pa\" />\n    <MergeDefinition Include=\"merges/pb.merge.yaml\" RunOnBuild=\"true\" OutputPath=\"out/pb\" />", StringComparison.Ordinal));

        var build = Task.Run(() => fixture.Dotnet(project, [.. BuildArguments, "-m:2", "-p:DotnetMergeMaxParallel=2"]));
        var writers = fifos.Select(f => Task.Run(() => new FileStream(f, FileMode.Open, FileAccess.Write))).ToArray();
        var bothOpen = Task.WhenAll(writers);
        var first = await Task.WhenAny(bothOpen, build, Task.Delay(TimeSpan.FromMinutes(3)));
        bool together = first == bothOpen;
        // Release the merges (one after the other if they did not run together).
        foreach (var writer in writers)
        {
            if (await Task.WhenAny(writer, build) != writer) break;
            await using var stream = await writer;
            stream.Write("#version: 0.2\n"u8);
        }
        var result = await build;
        Assert.True(together, "the two merges did not run at the same time:\n" + result.Output);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.True(File.Exists(Path.Combine(project, "out", "pa", "model.safetensors")) && File.Exists(Path.Combine(project, "out", "pb", "model.safetensors")), result.Output);
        Assert.Equal("#version: 0.2\n", File.ReadAllText(Path.Combine(project, "out", "pa", "merges.txt")));

        // A value that is not a count is a located error.
        var bad = fixture.Dotnet(project, [.. BuildArguments, "-p:DotnetMergeMaxParallel=two"]);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains(csproj + " : error DMRG0920: DotnetMergeMaxParallel is 'two'", bad.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Publish_copies_the_merged_model_when_asked()
    {
        var project = fixture.CopyFixture("Consumer");
        var csproj = Path.Combine(project, "Consumer.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("OutputPath=\"out/step\"", "OutputPath=\"out/step\" CopyToPublishDirectory=\"PreserveNewest\"", StringComparison.Ordinal));
        var publishDir = Path.Combine(project, "pub");

        var publish = fixture.Dotnet(project, "publish", "-nologo", "-v", "m", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-o", publishDir);

        Assert.True(publish.ExitCode == 0, publish.Output);
        foreach (var file in Directory.GetFiles(Path.Combine(project, "out", "step")))
        {
            var published = Path.Combine(publishDir, "out", "step", Path.GetFileName(file));
            Assert.True(File.Exists(published), $"{published} was not published:\n{publish.Output}");
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(published));
        }
        Assert.True(File.Exists(Path.Combine(publishDir, "Consumer.dll")));

        // Without the metadata nothing of the model is published; a bad value is a located error.
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("CopyToPublishDirectory=\"PreserveNewest\"", "CopyToPublishDirectory=\"Sometimes\"", StringComparison.Ordinal));
        var bad = fixture.Dotnet(project, "publish", "-nologo", "-v", "m", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-o", Path.Combine(project, "pub2"));
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains(csproj + " : error DMRG0922: MergeDefinition 'merges/step.merge.yaml': CopyToPublishDirectory is 'Sometimes'", bad.Output, StringComparison.Ordinal);
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace(" CopyToPublishDirectory=\"Sometimes\"", "", StringComparison.Ordinal));
        var plain = fixture.Dotnet(project, "publish", "-nologo", "-v", "m", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-o", Path.Combine(project, "pub3"));
        Assert.True(plain.ExitCode == 0, plain.Output);
        Assert.False(Directory.Exists(Path.Combine(project, "pub3", "out")), "the model was published without CopyToPublishDirectory");
    }
}
