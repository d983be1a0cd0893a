using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Plans;

/// <summary>Base of every generated typed plan (<c>XMergePlan</c> from <c>x.merge.yaml</c>): holds the definition text,
/// where it came from and the overrides; builds the definition to run and runs it with the engine. An immutable record:
/// plans with the same definition, path and overrides are equal, and every <c>With...</c> method, like a <c>with</c>
/// expression (<c>plan with { Lambda = 0.9 }</c>), returns a modified copy.</summary>
/// <typeparam name="TSelf">The generated plan record.</typeparam>
public abstract record TypedMergePlan<TSelf> : PlanParameters<TSelf>
    where TSelf : TypedMergePlan<TSelf>
{
    /// <param name="definitionText">The YAML.</param>
    /// <param name="definitionPath">The definition's path, relative to the project (resolved with <see cref="TypedPlanPaths.Resolve"/>) or absolute.</param>
    /// <param name="overrides">The values set on top of the definition.</param>
    protected TypedMergePlan(string definitionText, string definitionPath, PlanOverrides overrides)
        : base(overrides)
    {
        DefinitionText = definitionText ?? throw new ArgumentNullException(nameof(definitionText));
        DefinitionPath = TypedPlanPaths.Resolve(definitionPath ?? throw new ArgumentNullException(nameof(definitionPath)), GetType().Assembly);
    }

    /// <summary>The YAML the plan was generated from.</summary>
    public string DefinitionText { get; }

    /// <summary>The definition's full path at run time (the generated <c>DefinitionFile</c>, relative to the project,
    /// resolved by <see cref="TypedPlanPaths.Resolve"/>): relative model paths resolve against its directory (then against
    /// <see cref="MergeOptions.WorkingDirectory"/> or the current directory).</summary>
    public string DefinitionPath { get; init; }

    /// <summary>A copy whose relative model paths resolve against the directory of <paramref name="definitionPath"/>
    /// (for running the plan where the models live somewhere else than next to the compiled definition).</summary>
    public TSelf WithDefinitionPath(string definitionPath)
        => (TSelf)(this with { DefinitionPath = definitionPath ?? throw new ArgumentNullException(nameof(definitionPath)) });

    /// <summary>Parses the definition, applies the overrides and validates the result (with the same validator as the
    /// compiler and the CLI). Throws <see cref="DefinitionErrorsException"/> listing every error. A searched value
    /// (<c>{search: ...}</c>) must be set by an override: one left unset is DMRG0330.</summary>
    public MergeDefinition BuildDefinition()
    {
        var loaded = DefinitionLoader.Load(DefinitionText, DefinitionPath, new ValidationOptions { AllowSearch = true });
        if (loaded.HasErrors || loaded.Definition is null)
            throw new DefinitionErrorsException(loaded.Diagnostics);
        var parsed = loaded.Definition;
        if (Overrides.IsEmpty && !HasSearch(parsed))
            return parsed;
        var problems = DefinitionOverrides.Check(parsed, Overrides);
        if (problems.Count > 0)
            throw new DefinitionErrorsException(problems);
        var definition = DefinitionOverrides.Apply(parsed, Overrides);
        var diagnostics = DefinitionValidator.Validate(definition);
        if (diagnostics.Any(d => d.IsError))
            throw new DefinitionErrorsException(diagnostics);
        return definition;
    }

    private static bool HasSearch(MergeDefinition d)
    {
        static bool In(ParameterMap map) => map.Values.Any(s => s is SearchSetting || s is ConditionalSetting c && c.Entries.Any(e => e.Value is SearchSetting));
        return In(d.Parameters) || (d.Models ?? []).Any(m => In(m.Parameters))
            || (d.Slices ?? []).Any(s => In(s.Parameters) || s.Sources.Any(src => In(src.Parameters)))
            || (d.Modules ?? []).Any(module => In(module.Parameters) || (module.Models ?? []).Any(m => In(m.Parameters))
                || (module.Slices ?? []).Any(s => In(s.Parameters) || s.Sources.Any(src => In(src.Parameters))));
    }

    /// <summary>Runs the merge into <paramref name="outputDirectory"/> (see <see cref="MergeRunner.RunAsync"/>).</summary>
    public Task<MergeRunner.MergeResult> RunAsync(string outputDirectory, MergeOptions? options = null, IMergeProgress? progress = null,
        CancellationToken cancellationToken = default)
        => MergeRunner.RunAsync(BuildDefinition(), outputDirectory, options ?? new MergeOptions(), progress, cancellationToken);

    public sealed override string ToString()
        => System.IO.Path.GetFileName(DefinitionPath) + (Overrides.IsEmpty ? string.Empty : " (with overrides)");
}
