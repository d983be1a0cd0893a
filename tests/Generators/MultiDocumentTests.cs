using Microsoft.CodeAnalysis;

namespace DotnetMerge.Generators.Tests;

/// <summary>A *.merge.yaml with several YAML documents (a multi-stage definition) is a located error, never a plan of
/// its first document.</summary>
public class MultiDocumentTests
{
    [Fact]
    public void Multi_document_definition_is_an_error_at_the_second_document_and_emits_no_plan()
    {
        var path = GeneratorHarness.PathOf("stages.merge.yaml");
        var yaml = "name: first\nmerge_method: linear\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0}\n---\n" +
                   "merge_method: linear\nmodels:\n  - model: first\n    parameters: {weight: 1.0}\n";
        var run = GeneratorHarness.Run(path, yaml);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics, d => d.Id == "DMRG0004");
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        var span = diagnostic.Location.GetLineSpan();
        Assert.Equal(path, span.Path);
        Assert.Equal(7, span.StartLinePosition.Line + 1);
        Assert.Contains("multi-stage", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(run.Sources);
    }
}
