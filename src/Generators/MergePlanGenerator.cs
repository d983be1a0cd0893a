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
        context.RegisterSourceOutput(plans, static (spc, spec) =>
        {
            if (spec is not null)
                spc.AddSource(spec.HintName, PlanEmitter.Emit(spec));
        });
    }

    private static PlanInput ReadInput(AdditionalText text, AnalyzerConfigOptionsProvider provider, System.Threading.CancellationToken cancellationToken)
    {
        var fileOptions = provider.GetOptions(text);
        fileOptions.TryGetValue("build_metadata.AdditionalFiles.PlanName", out var planName);
        provider.GlobalOptions.TryGetValue("build_property.RootNamespace", out var rootNamespace);
        provider.GlobalOptions.TryGetValue("build_property.DotnetMergeCheckModelPaths", out var checkPaths);
        var content = text.GetText(cancellationToken)?.ToString() ?? string.Empty;
        return new PlanInput(
            text.Path,
            content,
            string.IsNullOrWhiteSpace(planName) ? null : planName!.Trim(),
            rootNamespace?.Trim() ?? string.Empty,
            !string.Equals(checkPaths?.Trim(), "false", StringComparison.OrdinalIgnoreCase));
    }
}
