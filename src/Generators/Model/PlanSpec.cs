using System.Collections.Generic;
using System.Linq;

namespace DotnetMerge.Generators.Model;

/// <summary>Everything the emitter needs for one typed plan: strings, numbers and equatable arrays only
/// (no symbols, syntax or compilation), so that an unchanged definition is never emitted twice.</summary>
internal sealed record PlanSpec(
    string Namespace,
    string ClassName,
    string HintName,
    string DefinitionPath,
    string DefinitionText,
    string MergeMethod,
    string MethodTitle,
    string MethodDescription,
    string Layout,
    EquatableArray<ModelSpec> Models,
    EquatableArray<ParameterSpec> GlobalParameters,
    EquatableArray<ParameterSpec> PerModelParameters,
    string GeneratorVersion)
{
    /// <summary>For a multi-stage definition (several YAML documents): its stages in document order, each with the spec of
    /// its nested record; the method, model and parameter members of this spec are then empty. Empty for one merge.</summary>
    public EquatableArray<StageSpec> Stages { get; init; } = EquatableArray<StageSpec>.Empty;

    /// <summary>The definition's path as the plan holds it: relative to the project directory ('/'-separated), so that
    /// no absolute path of the build machine goes into the assembly.</summary>
    public string DefinitionFile { get; init; } = string.Empty;

    public bool IsMultiStage => Stages.Count > 0;
}

/// <summary>One stage of a multi-stage definition: its <c>name:</c> (null for the unnamed final document), the plan's member
/// (<see cref="Identifier"/>) and nested record (<see cref="Spec"/>'s class name) for it, the stages it reads and whether
/// it is the final output.</summary>
internal sealed record StageSpec(string? Name, string Identifier, int Document, bool IsFinal, EquatableArray<string> Dependencies, PlanSpec Spec)
{
    /// <summary>The stage's key in the plan's <c>StageOverrides</c>.</summary>
    public string Key => Name ?? string.Empty;
}

/// <summary>One input model: its reference as written, the C# name derived from it, and whether it is the base model.
/// <see cref="Values"/> holds the C# literal of each per-model parameter (same order as
/// <see cref="PlanSpec.PerModelParameters"/>) and a description of how the definition sets it;
/// <see cref="TypeName"/> is the name of its parameter record (<c>MathParameters</c>).</summary>
internal sealed record ModelSpec(string Reference, string Identifier, bool IsBase, bool HasParameters, EquatableArray<ValueSpec> Values, string TypeName)
{
    /// <summary>In a multi-stage definition, the earlier stage whose output this reference names; null for a model path.</summary>
    public string? Stage { get; init; }
}

/// <summary>One parameter of the method as a typed C# property.</summary>
/// <param name="Name">The YAML name (<c>normalize_weights</c>).</param>
/// <param name="Identifier">The C# name (<c>NormalizeWeights</c>).</param>
/// <param name="ClrType">double, bool, int or string.</param>
/// <param name="Nullable">True when some value cannot be shown as one scalar (a gradient, filters, per-slice values or
/// no value at all): the property is then nullable and null means "as the definition says".</param>
/// <param name="Description">The catalog's description.</param>
/// <param name="Value">For a method-wide parameter: its value; unused (default) for per-model ones.</param>
/// <param name="EnumCases">For a parameter whose values the catalog lists (<c>trim_scope: tensor|model</c>, <c>rescale:
/// false|true|l1|inverse</c>): how each stored value (a C# literal, as <see cref="ValueSpec.Literal"/> writes the
/// definition's) reads as a member of the enum <see cref="EnumType"/>; the first case of a member is what an override of it
/// stores. Empty otherwise.</param>
/// <param name="EnumType">The enum's name (<c>TrimScopeOption</c>), or empty.</param>
internal sealed record ParameterSpec(string Name, string Identifier, string ClrType, bool Nullable, string Description, ValueSpec Value)
{
    public EquatableArray<EnumCase> EnumCases { get; init; } = EquatableArray<EnumCase>.Empty;

    public string EnumType { get; init; } = string.Empty;

    public bool IsEnum => EnumCases.Count > 0;

    /// <summary>The enum's members, in catalog order.</summary>
    public IEnumerable<string> EnumMembers => EnumCases.Select(c => c.Member).Distinct();
}

/// <summary>A stored value (<c>false</c>, <c>"l1"</c>) and the enum member it reads as (<c>None</c>, <c>L1</c>), with the
/// YAML text of the value (<c>false</c>, <c>l1</c>).</summary>
internal sealed record EnumCase(string Literal, string Member, string Yaml);

/// <summary>A parameter's value as the definition gives it: a C# literal (<c>"null"</c> when not a single scalar)
/// and a human description ("0.5", "a gradient of 3 numbers: [0, 0.5, 1]", "not set; the method's default 1.0").</summary>
internal sealed record ValueSpec(string Literal, bool IsScalar, string Description);
