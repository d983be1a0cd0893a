using System;
using System.IO;
using System.Linq;
using DotnetMerge.Generators.Emitting;
using DotnetMerge.Generators.Model;
using DotnetMerge.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace DotnetMerge.Generators;

/// <summary>Turns every <c>*.merge.yaml</c> AdditionalFile into a typed merge plan class, and every problem in it into a
/// compiler diagnostic located in the YAML. Pipeline: AdditionalText → <see cref="PlanInput"/> (strings) →
/// <see cref="PlanResult"/> (equatable spec + diagnostics) → two outputs (diagnostics, source).</summary>
[Generator(LanguageNames.CSharp)]
public sealed class MergePlanGenerator : IIncrementalGenerator
{
    /// <summary>The file name suffix that marks a merge definition.</summary>
    public const string FileSuffix = ".merge.yaml";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var inputs = context.AdditionalTextsProvider
            .Where(static text => text.Path.EndsWith(FileSuffix, StringComparison.OrdinalIgnoreCase))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, cancellationToken) => ReadInput(pair.Left, pair.Right, cancellationToken))
            .WithTrackingName(TrackingNames.Definitions);

        var results = inputs
            .Select(static (input, cancellationToken) => PlanReader.Read(input, cancellationToken))
            .WithTrackingName(TrackingNames.Parsed);

        // Diagnostics and source are separate outputs: an edit that changes only a diagnostic's position does not
        // re-emit the plan, and an unchanged plan keeps its cached source.
        var diagnostics = results
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (spc, items) =>
        {
            foreach (var item in items)
                spc.ReportDiagnostic(item.ToDiagnostic());
        });

        var plans = results
            .Select(static (result, _) => result.Spec)
            .WithTrackingName(TrackingNames.Plans);

        // Two definitions that would give the same class (or hint name): neither is emitted, each gets DMRG9001 saying to
        // set PlanName. Only the keys are collected, so an edit that keeps every class name leaves this step cached.
        var clashes = plans
            .Select(static (spec, _) => spec is null ? null : new PlanKey(spec.Namespace + "." + spec.ClassName, spec.HintName, spec.DefinitionPath))
            .Where(static key => key is not null)
            .Collect()
            .Select(static (keys, _) => PlanKey.Clashes(keys!))
            .WithTrackingName(TrackingNames.Clashes);
        context.RegisterSourceOutput(clashes, static (spc, items) =>
        {
            foreach (var clash in items)
                spc.ReportDiagnostic(clash.ToDiagnostic());
        });

        context.RegisterSourceOutput(plans.Combine(clashes), static (spc, pair) =>
        {
            var (spec, clashing) = pair;
            if (spec is not null && !clashing.Any(c => string.Equals(c.Path, spec.DefinitionPath, StringComparison.Ordinal)))
                spc.AddSource(spec.HintName, PlanEmitter.Emit(spec));
        });
    }

    private static PlanInput ReadInput(AdditionalText text, AnalyzerConfigOptionsProvider provider, System.Threading.CancellationToken cancellationToken)
    {
        var fileOptions = provider.GetOptions(text);
        fileOptions.TryGetValue("build_metadata.AdditionalFiles.PlanName", out var planName);
        provider.GlobalOptions.TryGetValue("build_property.RootNamespace", out var rootNamespace);
        provider.GlobalOptions.TryGetValue("build_property.DotnetMergeCheckModelPaths", out var checkPaths);
        provider.GlobalOptions.TryGetValue("build_property.ProjectDir", out var projectDirectory);
        var content = text.GetText(cancellationToken)?.ToString() ?? string.Empty;
        return new PlanInput(
            text.Path,
            content,
            string.IsNullOrWhiteSpace(planName) ? null : planName!.Trim(),
            rootNamespace?.Trim() ?? string.Empty,
            !string.Equals(checkPaths?.Trim(), "false", StringComparison.OrdinalIgnoreCase),
            string.IsNullOrWhiteSpace(projectDirectory) ? null : projectDirectory!.Trim());
    }
}
