using Microsoft.CodeAnalysis;

namespace DotnetMerge.Generators.Tests;

/// <summary>A *.merge.yaml with several YAML documents (a multi-stage definition, mergekit-multi) gives one typed plan
/// for the whole file, with one member per stage; its problems are located in the right document, as the CLI reports
/// them. (The generated code itself: BaselineTests, stages.merge.yaml; running it: MultiStagePlanRuntimeTests.)</summary>
public class MultiDocumentTests
{
    private const string TwoStages =
        "name: first\nmerge_method: linear\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0}\n---\n" +
        "merge_method: linear\nmodels:\n  - model: first\n    parameters: {weight: 1.0}\n";

    [Fact]
    public void Multi_document_definition_gives_one_plan_with_a_member_per_stage()
    {
        var run = GeneratorHarness.Run(GeneratorHarness.PathOf("stages.merge.yaml"), TwoStages);

        Assert.Empty(run.GeneratorDiagnostics);
        var (hint, source) = Assert.Single(run.Sources);
        Assert.Equal("Sample.StagesMergePlan.g.cs", hint);
        Assert.Contains("public sealed partial record StagesMergePlan : global::DotnetMerge.Plans.TypedMultiStagePlan<StagesMergePlan>", source, StringComparison.Ordinal);
        Assert.Contains("public FirstStage First", source, StringComparison.Ordinal);
        Assert.Contains("public FinalStage Final", source, StringComparison.Ordinal);
        Assert.Empty(run.CompilationDiagnostics());
    }

    [Fact]
    public void Error_in_the_second_document_is_located_at_its_line_in_the_file_and_emits_no_plan()
    {
        var path = GeneratorHarness.PathOf("stages.merge.yaml");
        var yaml = TwoStages.Replace("merge_method: linear\nmodels:\n  - model: first", "merge_method: linaer\nmodels:\n  - model: first", StringComparison.Ordinal);
        var run = GeneratorHarness.Run(path, yaml);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("DMRG0201", diagnostic.Id);
        var span = diagnostic.Location.GetLineSpan();
        Assert.Equal(path, span.Path);
        Assert.Equal((7, 15), (span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1));
        Assert.Contains("did you mean 'linear'", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(run.Sources);
    }

    /// <summary>With the path check on: a missing model directory in the second document is a warning at its line there, a
    /// reference to a stage is not a path, and a stage name that is also a directory next to the definition is DMRG0807.</summary>
    [Fact]
    public void Path_checks_of_a_multi_stage_file_know_stage_references_from_paths()
    {
        var root = Directory.CreateTempSubdirectory("dmrg-gen-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "models", "a"));
            Directory.CreateDirectory(Path.Combine(root, "blend"));
            var path = Path.Combine(root, "stages.merge.yaml");
            var yaml = "name: blend\nmerge_method: linear\nmodels:\n  - model: ./models/a\n    parameters: {weight: 1.0}\n---\n" +
                       "merge_method: linear\nmodels:\n  - model: blend\n    parameters: {weight: 0.5}\n  - model: ./models/absent\n    parameters: {weight: 0.5}\n";
            var run = GeneratorHarness.Run(new[] { new DefinitionFile(path, yaml) }, new Dictionary<string, string> { ["DotnetMergeCheckModelPaths"] = "true" });

            Assert.Equal(new[] { ("DMRG0807", 1), ("DMRG0601", 11) },
                run.GeneratorDiagnostics.Select(d => (d.Id, d.Location.GetLineSpan().StartLinePosition.Line + 1)).ToArray());
            Assert.All(run.GeneratorDiagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
            Assert.Single(run.Sources); // warnings do not stop the plan
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Stage_graph_errors_are_located_at_the_reference_that_closes_the_cycle()
    {
        var path = GeneratorHarness.PathOf("cycle.merge.yaml");
        var yaml = "name: a\nmerge_method: linear\nmodels:\n  - model: b\n    parameters: {weight: 1.0}\n---\n" +
                   "name: b\nmerge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1.0}\n";
        var run = GeneratorHarness.Run(path, yaml);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("DMRG0803", diagnostic.Id);
        Assert.Equal(10, diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void Stage_names_that_clash_with_plan_members_get_other_member_names()
    {
        var yaml = "name: overrides\nmerge_method: linear\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0}\n---\n" +
                   "name: 2nd\nmerge_method: linear\nmodels:\n  - model: overrides\n    parameters: {weight: 1.0}\n---\n" +
                   "merge_method: linear\nmodels:\n  - model: 2nd\n    parameters: {weight: 1.0}\n";
        var run = GeneratorHarness.Run(GeneratorHarness.PathOf("odd.merge.yaml"), yaml,
            "internal static class Use { public static object[] Run() { var p = new Sample.OddMergePlan(); return new object[] { p.Overrides2, p.Stage2nd, p.Final, p.Overrides }; } }");

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics());
    }
}
