namespace DotnetMerge.Definitions.Tests;

/// <summary>Multi-stage definitions (several YAML documents, mergekit-multi): the stage graph and its diagnostics.</summary>
public class StageGraphTests
{
    private static string L(params string[] lines) => TestYaml.Lines(lines);

    private static string Doc(string? name, params string[] models)
        => L((name is null ? Array.Empty<string>() : new[] { "name: " + name })
            .Concat(new[] { "merge_method: linear", "models:" })
            .Concat(models.SelectMany(m => new[] { "  - model: " + m, "    parameters: {weight: 1}" })).ToArray());

    private static StageLoadResult Load(string text, Func<string, string?>? directoryExists = null)
        => DefinitionLoader.LoadStages(text, "merge.yaml", null, directoryExists);

    /// <summary>id, yaml, expected line, expected column (hand-counted), expected severity.</summary>
    public static TheoryData<string, string, int, int, DiagnosticSeverity> Cases => new()
    {
        // 1 name: a / 2 merge_method / 3 models: / 4 - model / 5 parameters / 6 --- / 7 name: a
        { "DMRG0801", Doc("a", "org/x") + "---\n" + Doc("a", "org/y") + "---\n" + Doc(null, "a"), 7, 7, DiagnosticSeverity.Error },
        { "DMRG0802", Doc(null, "org/x") + "---\n" + Doc(null, "org/y"), 6, 1, DiagnosticSeverity.Error },
        // The cycle a -> b -> a closes at b's reference to a (line 10: "  - model: a", the value at column 12).
        { "DMRG0803", Doc("a", "b") + "---\n" + Doc("b", "a") + "---\n" + Doc(null, "a"), 10, 12, DiagnosticSeverity.Error },
        { "DMRG0804", Doc("dir/a", "org/x") + "---\n" + Doc(null, "org/y"), 1, 7, DiagnosticSeverity.Error },
        // All named, two stages nothing uses: the second one's name is reported.
        { "DMRG0805", Doc("a", "org/x") + "---\n" + Doc("b", "org/y"), 7, 7, DiagnosticSeverity.Error },
        { "DMRG0806", Doc("a", "org/x") + "---\n" + Doc(null, "org/y"), 1, 7, DiagnosticSeverity.Warning },
        { "DMRG0807", Doc("a", "org/x") + "---\n" + Doc(null, "a"), 1, 7, DiagnosticSeverity.Warning },
        { "DMRG0808", Doc("a", "org/x") + "---\n" + Doc(null, "a@main"), 9, 12, DiagnosticSeverity.Error },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_stage_diagnostic_is_reported_at_its_location(string id, string yaml, int line, int column, DiagnosticSeverity severity)
    {
        var result = Load(yaml, name => name == "a" ? "/defs/a" : null);
        var diagnostic = Assert.Single(result.Diagnostics, d => d.Id == id);
        Assert.Equal((line, column), (diagnostic.Location.Line, diagnostic.Location.Column));
        Assert.Equal(severity, diagnostic.Severity);
        Assert.Equal(DiagnosticDescriptors.Find(id)!.DefaultSeverity, severity);
        Assert.Equal(severity == DiagnosticSeverity.Error, result.HasErrors);
    }

    [Fact]
    public void Stages_come_in_dependency_order_and_references_to_names_are_dependencies()
    {
        // The final document comes first in the file; 'b' uses 'a', which is written after it.
        var result = Load(Doc(null, "b", "org/z") + "---\n" + Doc("b", "a", "org/y") + "---\n" + Doc("a", "org/x"));
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var graph = result.Graph!;
        Assert.Equal(new[] { "a", "b", null }, graph.Stages.Select(s => s.Name));
        Assert.True(graph.Final.IsFinal);
        Assert.Null(graph.Final.Name);
        Assert.Equal(new[] { "a" }, graph.Stages[1].Dependencies.Select(d => d.Name));
        Assert.Equal("b", graph.StageFor(new ModelReference("b"))!.Name);
        Assert.Null(graph.StageFor(new ModelReference("org/z")));
        // Each stage's definition holds its own document, located in the whole file.
        Assert.StartsWith("name: b\n", graph.Stages[1].Definition.SourceText);
        Assert.DoesNotContain("---", graph.Stages[1].Definition.SourceText);
        Assert.Equal(8, graph.Stages[1].Definition.NameLocation.Line);
    }

    [Fact]
    public void All_named_with_one_stage_nothing_uses_makes_that_stage_the_final_one()
    {
        var graph = Load(Doc("a", "org/x") + "---\n" + Doc("b", "a", "org/y")).Graph!;
        Assert.Equal("b", graph.Final.Name);
        Assert.True(graph.IsMultiStage);
    }

    [Fact]
    public void A_single_document_is_one_final_stage_and_a_trailing_separator_adds_none()
    {
        var graph = Load(Doc(null, "org/x") + "---\n").Graph!;
        Assert.False(graph.IsMultiStage);
        Assert.Single(graph.Stages);
        Assert.True(DefinitionLoader.Load(Doc(null, "org/x") + "---\n", "merge.yaml").Diagnostics.All(d => !d.IsError));
    }

    [Fact]
    public void A_file_of_empty_documents_is_an_empty_definition()
    {
        var result = Load("---\n---\n");
        Assert.True(result.HasErrors);
        Assert.Equal("DMRG0002", Assert.Single(result.Diagnostics).Id);
    }

    [Fact]
    public void Errors_in_several_documents_are_all_reported_with_their_lines()
    {
        var yaml = Doc("a", "org/x") + "---\n" + L("name: b", "merge_method: lnear", "models:", "  - model: a") + "---\n" + L("merge_method: ties", "models:", "  - model: b");
        var result = Load(yaml);
        Assert.True(result.HasErrors);
        Assert.Contains(result.Diagnostics, d => d.Id == "DMRG0201" && d.Location.Line == 8);
        Assert.Contains(result.Diagnostics, d => d.Id == "DMRG0204" && d.Location.Line >= 11);
    }

    [Fact]
    public void Reading_a_multi_document_file_as_one_definition_is_an_error_not_the_first_document()
    {
        var result = DefinitionLoader.Load(Doc("a", "org/x") + "---\n" + Doc(null, "a"), "merge.yaml");
        Assert.True(result.HasErrors);
        Assert.Null(result.Definition);
        Assert.Contains("dotnet merge multi", Assert.Single(result.Diagnostics, d => d.Id == "DMRG0004").Message);
    }
}
