using Microsoft.CodeAnalysis;

namespace DotnetMerge.Generators.Tests;

/// <summary>Every kind of definition mistake becomes a compiler diagnostic with the definition library's id, located in
/// the YAML file at the offending token (1-based line and column as MSBuild prints them). Errors suppress the plan.</summary>
public class DiagnosticTests
{
    // Each case: the YAML, the expected id, severity, and the 1-based line and column of the token it points at
    // (counted by hand from the YAML below: a value, a key, the model entry's mapping after "- ", or the 'models' key for
    // arity problems), and a fragment the message must contain.
    public static TheoryData<string, string, string, DiagnosticSeverity, int, int, string> Cases => new()
    {
        {
            "unknown method, with a suggestion",
            """
            merge_method: linaer
            models:
              - model: ./a
                parameters: {weight: 1.0}
            """,
            "DMRG0201", DiagnosticSeverity.Error, 1, 15, "did you mean 'linear'"
        },
        {
            "near-miss key",
            """
            merge_method: linear
            models:
              - model: ./a
                parameters: {weight: 1.0}
            tokenizer_sauce: base
            """,
            "DMRG0109", DiagnosticSeverity.Error, 5, 1, "tokenizer_sauce"
        },
        {
            "unknown key with no close match",
            """
            merge_method: linear
            models:
              - model: ./a
                parameters: {weight: 1.0}
            notes: made for the docs
            """,
            "DMRG0101", DiagnosticSeverity.Warning, 5, 1, "notes"
        },
        {
            "wrong parameter type",
            """
            merge_method: linear
            models:
              - model: ./a
                parameters:
                  weight: heavy
            """,
            "DMRG0302", DiagnosticSeverity.Error, 5, 15, "weight"
        },
        {
            "parameter out of range",
            """
            merge_method: ties
            base_model: ./base
            models:
              - model: ./a
                parameters:
                  weight: 1.0
                  density: -0.5
            """,
            "DMRG0303", DiagnosticSeverity.Error, 7, 16, "density"
        },
        {
            "wrong model count",
            """
            merge_method: slerp
            base_model: ./a
            models:
              - model: ./a
            parameters:
              t: 0.5
            """,
            "DMRG0202", DiagnosticSeverity.Error, 3, 1, "slerp"
        },
        {
            "missing base model",
            """
            merge_method: task_arithmetic
            models:
              - model: ./a
                parameters: {weight: 1.0}
            """,
            "DMRG0204", DiagnosticSeverity.Error, 1, 15, "base_model"
        },
        {
            "missing weight",
            """
            merge_method: linear
            models:
              - model: ./a
                parameters: {weight: 1.0}
              - model: ./b
            """,
            "DMRG0305", DiagnosticSeverity.Error, 5, 5, "'weight'"
        },
        {
            "layer ranges of different lengths",
            """
            merge_method: slerp
            base_model: ./a
            slices:
              - sources:
                  - model: ./a
                    layer_range: [0, 4]
                  - model: ./b
                    layer_range: [0, 6]
            parameters:
              t: 0.5
            """,
            "DMRG0402", DiagnosticSeverity.Error, 8, 22, "spans 6"
        },
        {
            "a module with both models and slices",
            """
            merge_method: linear
            modules:
              text_decoder:
                models:
                  - model: ./a
                    parameters: {weight: 1}
                slices:
                  - sources: [{model: ./a, layer_range: [0, 2]}]
            """,
            "DMRG0120", DiagnosticSeverity.Error, 7, 5, "sets both 'models' and 'slices'"
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Definition_mistake_is_a_located_compiler_diagnostic(string what, string yaml, string id, DiagnosticSeverity severity, int line, int column, string fragment)
    {
        var path = GeneratorHarness.PathOf("bad.merge.yaml");
        var run = GeneratorHarness.Run(path, yaml);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics, d => d.Id == id);
        var span = diagnostic.Location.GetLineSpan();
        Assert.True(severity == diagnostic.Severity, what + ": severity " + diagnostic.Severity);
        Assert.Equal(path, span.Path);
        Assert.Equal((line, column), (span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1));
        Assert.Contains(fragment, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Equal("DotnetMerge", diagnostic.Descriptor.Category);
        if (severity == DiagnosticSeverity.Error)
            Assert.Empty(run.Sources);
    }

    [Fact]
    public void Missing_local_model_directory_is_a_warning_resolved_against_the_definition_directory()
    {
        var root = Directory.CreateTempSubdirectory("dmrg-gen-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "models", "present"));
            var path = Path.Combine(root, "paths.merge.yaml");
            var yaml = """
                merge_method: linear
                models:
                  - model: ./models/present
                    parameters: {weight: 0.5}
                  - model: ./models/absent
                    parameters: {weight: 0.5}
                """;
            var run = GeneratorHarness.Run(new[] { new DefinitionFile(path, yaml) },
                new Dictionary<string, string> { ["DotnetMergeCheckModelPaths"] = "true" });

            var diagnostic = Assert.Single(run.GeneratorDiagnostics);
            Assert.Equal("DMRG0601", diagnostic.Id);
            Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
            var span = diagnostic.Location.GetLineSpan();
            Assert.Equal(path, span.Path);
            Assert.Equal((5, 12), (span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1));
            Assert.Contains("./models/absent", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            Assert.Single(run.Sources); // a warning does not stop the plan
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Every_definition_descriptor_has_a_compiler_descriptor_with_the_same_id_title_and_severity()
    {
        foreach (var d in DotnetMerge.Definitions.DiagnosticDescriptors.All)
        {
            var roslyn = DotnetMerge.Generators.Diagnostics.GeneratorDiagnostics.All[d.Id];
            Assert.Equal(d.Title, roslyn.Title.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(d.DefaultSeverity.ToString(), roslyn.DefaultSeverity.ToString());
            Assert.Equal("DotnetMerge", roslyn.Category);
        }
    }

    [Fact]
    public void Yaml_syntax_error_is_reported_and_no_plan_is_emitted()
    {
        var run = GeneratorHarness.Run(GeneratorHarness.PathOf("broken.merge.yaml"), "merge_method: linear\nmodels: [\n");
        Assert.Contains(run.GeneratorDiagnostics, d => d.Id == "DMRG0001" && d.Severity == DiagnosticSeverity.Error);
        Assert.Empty(run.Sources);
    }

    /// <summary>Two ties.merge.yaml in different folders used to crash the generator (CS8785, duplicate hint name) and
    /// take every plan with them. Now both get DMRG9001 naming the other and PlanName; every other plan is generated.</summary>
    [Fact]
    public void Same_file_name_in_two_folders_is_a_located_error_and_the_other_plans_are_generated()
    {
        const string yaml = """
            merge_method: linear
            models:
              - model: ./a
                parameters: {weight: 1.0}
            """;
        var first = GeneratorHarness.ProjectDirectory + "/merges/v1/ties.merge.yaml";
        var second = GeneratorHarness.ProjectDirectory + "/merges/v2/ties.merge.yaml";
        var run = GeneratorHarness.Run(new[]
        {
            new DefinitionFile(first, yaml), new DefinitionFile(second, yaml), new DefinitionFile(GeneratorHarness.PathOf("blend.merge.yaml"), yaml),
        });

        var clashes = run.GeneratorDiagnostics.Where(d => d.Id == "DMRG9001").ToList();
        Assert.Equal(2, clashes.Count);
        Assert.All(clashes, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
        var onFirst = Assert.Single(clashes, d => d.Location.GetLineSpan().Path == first);
        Assert.Contains("'Sample.TiesMergePlan'", onFirst.GetMessage(), StringComparison.Ordinal);
        Assert.Contains("also generated from '" + second + "'", onFirst.GetMessage(), StringComparison.Ordinal);
        Assert.Contains("PlanName=\"V1TiesMergePlan\"", onFirst.GetMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id is "CS8785" or "DMRG9999");
        Assert.Equal(new[] { "Sample.BlendMergePlan.g.cs" }, run.Sources.Keys);
        Assert.DoesNotContain(run.CompilationDiagnostics(), d => d.Severity == DiagnosticSeverity.Error);

        // Following the advice fixes it.
        var renamed = GeneratorHarness.Run(new[] { new DefinitionFile(first, yaml, "V1TiesMergePlan"), new DefinitionFile(second, yaml) });
        Assert.Empty(renamed.GeneratorDiagnostics);
        Assert.Equal(new[] { "Sample.TiesMergePlan.g.cs", "Sample.V1TiesMergePlan.g.cs" }, renamed.Sources.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Files_not_ending_in_merge_yaml_are_ignored()
    {
        var run = GeneratorHarness.Run(GeneratorHarness.PathOf("notes.yaml"), "merge_method: nonsense\n");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Sources);
    }
}
