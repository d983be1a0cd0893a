using System.Reflection;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Hub;
using DotnetMerge.Soups;

namespace DotnetMerge.Tests.Execution;

/// <summary>Failures met at run time carry a DMRG id for library callers too: in <see cref="MergeException.Id"/> and at
/// the start of the message, kept when a location or stage is put in front, and documented.</summary>
public sealed class RunTimeErrorIdTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-error-ids", Guid.NewGuid().ToString("N"));

    public RunTimeErrorIdTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly LlamaSpec Spec = new(Layers: 1, Hidden: 8, Intermediate: 12, Vocab: 16, Heads: 2, KvHeads: 1);

    [Fact]
    public async Task An_output_that_is_not_empty_is_DMRG0710_in_the_librarys_words()
    {
        var model = Path.Combine(_root, "a");
        await SyntheticModels.WriteFineTuneAsync(model, Spec, new FineTune("a", "", 0, 0.1, 1.0, 3));
        var output = Path.Combine(_root, "out");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "notes.txt"), "mine");
        var definition = MergeRunner.ParseDefinition($"merge_method: linear\nmodels:\n  - model: {model}\n    parameters: {{weight: 1.0}}\n",
            Path.Combine(_root, "m.yaml"), out _);

        var e = await Assert.ThrowsAsync<MergeException>(() => MergeRunner.RunAsync(definition, output, new MergeOptions()));
        Assert.Equal("DMRG0710", e.Id);
        Assert.Equal(MergeErrorKind.Output, e.Kind);
        Assert.Equal("DMRG0710: " + e.Detail, e.Message);
        Assert.Contains("MergeOptions.Force", e.Detail, StringComparison.Ordinal);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(output, "notes.txt")));
    }

    [Fact]
    public void A_definition_file_that_does_not_exist_is_DMRG0006()
    {
        var e = Assert.Throws<MergeException>(() => MergeRunner.LoadDefinition(Path.Combine(_root, "missing.yaml"), out _));
        Assert.Equal("DMRG0006", e.Id);
        Assert.Equal(MergeErrorKind.Definition, e.Kind);
        Assert.StartsWith("DMRG0006: cannot read the merge definition", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_evaluator_that_fails_is_DMRG1012_and_one_that_prints_no_number_DMRG1013()
    {
        var failing = CommandEvaluator.Create("test -d {model} && exit 3");
        var e = await Assert.ThrowsAsync<EvaluatorException>(() => failing(_root, default));
        Assert.Equal("DMRG1012", e.Id);
        Assert.Contains("exited with code 3", e.Message, StringComparison.Ordinal);

        var silent = CommandEvaluator.Create("echo fine {model}");
        var none = await Assert.ThrowsAsync<EvaluatorException>(() => silent(_root, default));
        Assert.Equal("DMRG1013", none.Id);
    }

    [Fact]
    public void A_prefix_keeps_the_kind_and_id_and_the_original_as_inner()
    {
        var original = new MergeException(MergeErrorKind.Input, ErrorIds.ShapeMismatch, "tensor 'w' has shapes [2] and [3]");
        var staged = original.WithPrefix("stage 'first': ");
        Assert.Equal((MergeErrorKind.Input, "DMRG0706"), (staged.Kind, staged.Id));
        Assert.Equal("DMRG0706: stage 'first': tensor 'w' has shapes [2] and [3]", staged.Message);
        Assert.Same(original, staged.InnerException);
    }

    [Fact]
    public void Each_hub_failure_has_its_own_id_and_exit_kind()
    {
        var ids = Enum.GetValues<HubFailure>().Select(f => new HubException(f, "x")).ToList();
        Assert.Equal(ids.Count, ids.Select(e => e.Id).Distinct().Count());
        Assert.All(ids, e => Assert.Equal(e.Failure == HubFailure.Disk ? MergeErrorKind.Output : MergeErrorKind.Input, e.Kind));
        Assert.Equal("DMRG0610", new HubException(HubFailure.BadReference, "org/x not found").Id);
    }

    [Fact]
    public void Every_run_time_and_check_id_has_a_table_row_in_the_docs()
    {
        var docs = string.Concat(Directory.GetFiles(Path.Combine(RepoRoot(), "docs"), "*.md").Select(File.ReadAllText));
        var ids = new[] { typeof(ErrorIds), typeof(Checks.CheckIds) }
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static)).Select(f => (string)f.GetValue(null)!).Distinct().ToList();
        Assert.True(ids.Count >= 40, $"only {ids.Count} ids found by reflection");
        foreach (var id in ids)
            Assert.True(docs.Contains("| " + id + " |", StringComparison.Ordinal), $"no page of docs/ has a table row for {id}");
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "dotnet-merge.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
