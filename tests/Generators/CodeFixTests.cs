using System.Collections.Immutable;
using DotnetMerge.Generators.CodeFixes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;

namespace DotnetMerge.Generators.Tests;

/// <summary>The IDE's "did you mean" fixes on the YAML (an AdditionalFile): the generator's diagnostic carries the
/// suggestions, the fix replaces the misspelt word in the additional document, and the fixed file compiles cleanly.</summary>
public class CodeFixTests
{
    [Fact]
    public async Task Did_you_mean_fixes_replace_the_misspelt_words_in_the_yaml()
    {
        var path = GeneratorHarness.PathOf("ties.merge.yaml");
        const string yaml = "merge_method: ties\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0, desnity: 0.5}\ndtype: flaot32\n";
        var text = await ApplyEveryFix(path, yaml, expectedTitles: new[] { "Change to 'float32'", "Change to 'density'" });

        Assert.Equal("merge_method: ties\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0, density: 0.5}\ndtype: float32\n", text);
        Assert.Empty(GeneratorHarness.Run(path, text).GeneratorDiagnostics);
    }

    [Fact]
    public async Task An_unknown_method_is_replaced()
    {
        var path = GeneratorHarness.PathOf("lin.merge.yaml");
        var text = await ApplyEveryFix(path, "merge_method: 'linaer'\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0}\n", new[] { "Change to 'linear'" });

        Assert.StartsWith("merge_method: 'linear'\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_listed_value_in_a_flow_mapping_is_replaced_without_its_brace()
    {
        var path = GeneratorHarness.PathOf("scope.merge.yaml");
        const string yaml = "merge_method: ties\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0, density: 0.5}\nparameters: {trim_scope: modle}\n";
        var text = await ApplyEveryFix(path, yaml, expectedTitles: new[] { "Change to 'model'" });

        Assert.EndsWith("parameters: {trim_scope: model}\n", text, StringComparison.Ordinal);
        Assert.Empty(GeneratorHarness.Run(path, text).GeneratorDiagnostics);
    }

    [Fact]
    public void Diagnostics_without_a_suggestion_carry_no_suggestions()
    {
        var run = GeneratorHarness.Run(GeneratorHarness.PathOf("x.merge.yaml"), "merge_method: qwertyuiop\nmodels:\n  - model: ./a\n");
        var diagnostic = Assert.Single(run.GeneratorDiagnostics, d => d.Id == "DMRG0201");
        Assert.False(diagnostic.Properties.ContainsKey(DidYouMeanCodeFix.SuggestionsProperty));
    }

    /// <summary>Runs the generator, offers the fixes for its diagnostics in a workspace holding the YAML as an additional
    /// document, applies them one after another (each to the text the previous one left) and returns the text.</summary>
    private static async Task<string> ApplyEveryFix(string path, string yaml, string[] expectedTitles)
    {
        using var workspace = new AdhocWorkspace();
        var document = workspace.AddProject("Sample", LanguageNames.CSharp).AddAdditionalDocument("x.merge.yaml", SourceText.From(yaml), filePath: path);
        Assert.True(workspace.TryApplyChanges(document.Project.Solution));
        var fixer = new DidYouMeanCodeFix();
        var titles = new List<string>();
        // Fix from the end of the file backwards, so that earlier spans stay valid.
        var diagnostics = GeneratorHarness.Run(path, yaml).GeneratorDiagnostics
            .Where(d => fixer.FixableDiagnosticIds.Contains(d.Id))
            .OrderByDescending(d => d.Location.SourceSpan.Start)
            .ToList();
        Assert.NotEmpty(diagnostics);
        var solution = workspace.CurrentSolution;
        foreach (var diagnostic in diagnostics)
        {
            var current = solution.GetAdditionalDocument(document.Id)!;
            var actions = new List<CodeAction>();
            var context = new CodeFixContext(current, diagnostic, (action, _) => actions.Add(action), CancellationToken.None);
            await fixer.RegisterCodeFixesAsync(context);
            var action = Assert.Single(actions);
            titles.Add(action.Title);
            var operations = await action.GetOperationsAsync(CancellationToken.None);
            solution = Assert.IsType<ApplyChangesOperation>(Assert.Single(operations)).ChangedSolution;
        }

        Assert.Equal(expectedTitles.Order(StringComparer.Ordinal), titles.Order(StringComparer.Ordinal));
        return (await solution.GetAdditionalDocument(document.Id)!.GetTextAsync()).ToString();
    }
}
