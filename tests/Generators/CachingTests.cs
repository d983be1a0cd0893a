using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace DotnetMerge.Generators.Tests;

/// <summary>Incrementality: an unrelated edit (a new C# file) reuses every tracked step, and no step stores compiler
/// objects (symbols, compilations, syntax, AdditionalText) that would defeat caching or keep compilations alive.</summary>
public class CachingTests
{
    private static readonly string[] TrackedSteps =
    {
        TrackingNames.Definitions, TrackingNames.Parsed, TrackingNames.Diagnostics, TrackingNames.Plans, TrackingNames.Clashes,
    };

    private static IEnumerable<DefinitionFile> Files()
    {
        var dir = Path.Combine(GeneratorHarness.SourceDirectory(), "Definitions");
        return Directory.GetFiles(dir, "*.merge.yaml").Order(StringComparer.Ordinal)
            .Select(f => new DefinitionFile(GeneratorHarness.PathOf(Path.GetFileName(f)), File.ReadAllText(f)))
            .Append(new DefinitionFile(GeneratorHarness.PathOf("bad.merge.yaml"), "merge_method: linaer\nmodels:\n  - model: ./a\n    parameters: {weight: 1}\n"));
    }

    [Fact]
    public void Unrelated_edit_reuses_every_step_and_output()
    {
        var compilation = GeneratorHarness.Compilation("internal static class A { }");
        var driver = GeneratorHarness.CreateDriver(Files()).RunGenerators(compilation);
        var first = driver.GetRunResult();

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("internal static class B { }", GeneratorHarness.ParseOptions));
        driver = driver.RunGenerators(edited);
        var second = driver.GetRunResult();

        Assert.Equal(
            first.Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText.ToString()),
            second.Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText.ToString()));
        var steps = second.Results.Single().TrackedSteps;
        foreach (var name in TrackedSteps)
        {
            Assert.True(steps.ContainsKey(name), "step not tracked: " + name);
            var reasons = steps[name].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
            Assert.NotEmpty(reasons);
            Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, name + ": " + r));
        }

        var outputs = second.Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs);
        Assert.All(outputs, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Editing_one_definition_reruns_only_that_definition()
    {
        var files = Files().ToList();
        var compilation = GeneratorHarness.Compilation();
        var driver = GeneratorHarness.CreateDriver(files, out var texts).RunGenerators(compilation);
        var linear = files.Single(f => f.Path.EndsWith("/linear.merge.yaml", StringComparison.Ordinal));
        var oldText = driver.GetRunResult().Results.Single().TrackedSteps[TrackingNames.Definitions]
            .Select(s => s.Outputs.Single().Value).OfType<object>().ToList();
        Assert.Equal(files.Count, oldText.Count);

        // Replace the linear definition's text: the other files stay cached.
        var replaced = new GeneratorHarness.InMemoryAdditionalText(linear.Path, linear.Text.Replace("weight: 0.7", "weight: 0.6", StringComparison.Ordinal));
        var old = texts.Single(t => t.Path == linear.Path);
        driver = driver.ReplaceAdditionalText(old, replaced).RunGenerators(compilation);

        var parsed = driver.GetRunResult().Results.Single().TrackedSteps[TrackingNames.Parsed].SelectMany(s => s.Outputs).ToList();
        Assert.Single(parsed, o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Equal(files.Count - 1, parsed.Count(o => o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        var source = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "Sample.LinearMergePlan.g.cs");
        Assert.Contains("\"weight\", 0.6)", source.SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Pipeline_outputs_hold_no_compiler_objects()
    {
        var driver = GeneratorHarness.CreateDriver(Files()).RunGenerators(GeneratorHarness.Compilation());
        var steps = driver.GetRunResult().Results.Single().TrackedSteps;
        foreach (var name in TrackedSteps)
        {
            foreach (var output in steps[name].SelectMany(s => s.Outputs))
                AssertNoBannedObjects(output.Value, name, new HashSet<object>(ReferenceEqualityComparer.Instance));
        }
    }

    private static void AssertNoBannedObjects(object? node, string step, HashSet<object> visited)
    {
        if (node is null || node is string || node.GetType().IsPrimitive || node.GetType().IsEnum || !visited.Add(node))
            return;
        var type = node.GetType();
        Assert.False(node is Compilation or ISymbol or SyntaxNode or SyntaxTree or AdditionalText or SemanticModel,
            $"step {step} stores a {type.FullName}");
        if (node is IEnumerable sequence)
        {
            foreach (var item in sequence)
                AssertNoBannedObjects(item, step, visited);
        }

        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            AssertNoBannedObjects(field.GetValue(node), step, visited);
    }
}
