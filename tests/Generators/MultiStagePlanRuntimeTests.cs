using DotnetMerge.Definitions;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Output;
using DotnetMerge.Plans;

namespace DotnetMerge.Generators.Tests;

/// <summary>The typed plan of a multi-stage file, compiled by the generator and run in-process: its output is the CLI's
/// (<c>dotnet merge run</c> goes through <see cref="MultiStageRunner"/> the same way), byte for byte; an override of a
/// stage's parameter gives the bytes of the file edited by hand, and the output records it.</summary>
public class MultiStagePlanRuntimeTests
{
    private const string User = """
        using Sample;
        public static class Probe
        {
            public static object Plain() => new StagesMergePlan();

            // t of the slerp stage and lambda of the final dare_ties stage.
            public static object Edited() => new StagesMergePlan().WithBlend(s => s.WithT(0.7)).WithFinal(s => s.WithLambda(0.5));
        }
        """;

    [Fact]
    public async Task Typed_plan_output_is_the_cli_runs_and_stage_overrides_change_it_and_are_recorded()
    {
        var root = Directory.CreateTempSubdirectory("dmrg-stages-").FullName;
        try
        {
            var spec = new LlamaSpec(Layers: 2, Hidden: 16, Intermediate: 32, Vocab: 64, Heads: 2, KvHeads: 1);
            await SyntheticModels.WriteBaseAsync(Path.Combine(root, "models", "base"), spec);
            await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "models", "chat"), spec, new FineTune("chat", "self_attn", 0, 0.5, 1.0, 3));
            await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "models", "code"), spec, new FineTune("code", "mlp", 0, 0.5, 1.0, 5));
            var yaml = File.ReadAllText(Path.Combine(GeneratorHarness.SourceDirectory(), "Definitions", "stages.merge.yaml"));
            var path = Path.Combine(root, "stages.merge.yaml");
            File.WriteAllText(path, yaml);

            var probe = Compile(path, yaml);
            var options = new MergeOptions { Threads = 1 };

            // As defined: the bytes of the CLI's run of the file (fused; no intermediate model is written).
            // Loaded from bytes, the plan has no assembly directory to find its definition from: say where it is.
            dynamic plain = ((dynamic)probe.GetMethod("Plain")!.Invoke(null, null)!).WithDefinitionPath(path);
            var typed = Path.Combine(root, "typed", "merged");
            MergeRunner.MergeResult result = await plain.RunAsync(typed, options);
            Assert.True(result.TensorCount > 0);
            var cli = Path.Combine(root, "cli", "merged");
            await RunLikeTheCli(path, cli, options);
            AssertSameFiles(cli, typed, everyFile: true);
            Assert.Equal(new[] { "merged" }, Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(typed)!).Select(Path.GetFileName)); // no intermediate

            // Overridden: the bytes of the file with the same values written in by hand, not those of the file as compiled.
            dynamic edited = ((dynamic)probe.GetMethod("Edited")!.Invoke(null, null)!).WithDefinitionPath(path);
            var typedEdited = Path.Combine(root, "typed-edited", "merged");
            await edited.RunAsync(typedEdited, options);
            var handEdited = Path.Combine(root, "hand-edited.merge.yaml");
            File.WriteAllText(handEdited, yaml.Replace("  t: 0.4", "  t: 0.7", StringComparison.Ordinal).Replace("  lambda: 1.0", "  lambda: 0.5", StringComparison.Ordinal));
            var cliEdited = Path.Combine(root, "cli-edited", "merged");
            await RunLikeTheCli(handEdited, cliEdited, options);
            AssertSameFiles(cliEdited, typedEdited, everyFile: false);
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(typed, "model.safetensors")), File.ReadAllBytes(Path.Combine(typedEdited, "model.safetensors")));

            // The records: mergekit_config.yml holds the final document as merged, the card the whole file as merged.
            var recorded = MergeRunner.ParseDefinition(File.ReadAllText(Path.Combine(typedEdited, ModelCard.DefinitionFileName)), path, out _);
            Assert.Equal("dare_ties", recorded.MergeMethod);
            Assert.Equal(0.5, Assert.IsType<ScalarSetting>(recorded.Parameters["lambda"]).Value);
            var card = File.ReadAllText(Path.Combine(typedEdited, "README.md"));
            Assert.Contains("\n  t: 0.7", card, StringComparison.Ordinal);
            Assert.Contains("lambda: 0.5", card, StringComparison.Ordinal);
            Assert.DoesNotContain("\n  t: 0.4", card, StringComparison.Ordinal);
            Assert.Contains("\n  t: 0.4", File.ReadAllText(Path.Combine(typed, "README.md")), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Overrides_that_fit_no_stage_or_model_are_located_errors_naming_them()
    {
        const string yaml = "name: first\nmerge_method: linear\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0}\n---\n" +
                            "merge_method: linear\nmodels:\n  - model: first\n    parameters: {weight: 1.0}\n";
        var plan = new HandWrittenStages(yaml, "/x/s.merge.yaml", StageOverrides.Empty);

        var model = plan with { Overrides = StageOverrides.Empty.With("", PlanOverrides.Empty.WithPerModel(new PlanModel("./b", "B"), "weight", 0.5)) };
        var error = Assert.Throws<DefinitionErrorsException>(() => model.BuildStages());
        var diagnostic = Assert.Single(error.Diagnostics);
        Assert.Equal("DMRG0910", diagnostic.Id);
        Assert.StartsWith("the override of 'weight' for model './b' in stage 'final stage': error DMRG0910: the override is for model './b'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'first'", error.Message, StringComparison.Ordinal);

        var stage = plan with { Overrides = StageOverrides.Empty.With("frist", PlanOverrides.Empty.WithGlobal("normalize", false)) };
        error = Assert.Throws<DefinitionErrorsException>(() => stage.BuildStages());
        Assert.Equal("DMRG0911", Assert.Single(error.Diagnostics).Id);
        Assert.Contains("'frist'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'first'", error.Message, StringComparison.Ordinal);

        // An out-of-range value: the validator's error, naming the override, its model and its stage.
        var range = plan with { Overrides = StageOverrides.Empty.With("first", PlanOverrides.Empty.WithPerModel(new PlanModel("./a", "A"), "weight", double.NaN)) };
        error = Assert.Throws<DefinitionErrorsException>(() => range.BuildStages());
        Assert.StartsWith("the override of 'weight' for model './a' in stage 'first': error DMRG", error.Message, StringComparison.Ordinal);
    }

    private static Task RunLikeTheCli(string path, string output, MergeOptions options)
        => MultiStageRunner.RunAsync(MultiStageRunner.LoadStages(path, options.WorkingDirectory, out _), output, options, new MultiStageOptions());

    private static Type Compile(string path, string yaml)
    {
        var run = GeneratorHarness.Run(new[] { new DefinitionFile(path, yaml) }, null, User);
        Assert.Empty(run.GeneratorDiagnostics);
        return run.Load().GetType("Probe")!;
    }

    /// <summary>The same file names, and the same bytes in each (<paramref name="everyFile"/>; the card's title is the directory's name, the same here) or in every file but the
    /// records of the definition (mergekit_config.yml, README.md), which hold the text they were given.</summary>
    private static void AssertSameFiles(string expected, string actual, bool everyFile)
    {
        var names = Directory.EnumerateFiles(expected).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names, Directory.EnumerateFiles(actual).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        Assert.Contains("model.safetensors", names);
        foreach (var name in names.Where(n => everyFile || n is not (ModelCard.DefinitionFileName or "README.md")))
            Assert.True(File.ReadAllBytes(Path.Combine(expected, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, name!))), name + " differs");
    }

    private sealed record HandWrittenStages(string Yaml, string Path, StageOverrides InitialOverrides)
        : TypedMultiStagePlan<HandWrittenStages>(Yaml, Path, InitialOverrides)
    {
        public new StageOverrides Overrides
        {
            get => base.Overrides;
            init => base.Overrides = value;
        }
    }
}
