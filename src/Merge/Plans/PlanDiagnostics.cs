using DotnetMerge.Definitions;

namespace DotnetMerge.Plans;

/// <summary>Errors of the typed-plan runtime (DMRG0910-0919): overrides that do not fit the definition they are applied
/// to. Each is located at the override ("the override of 'weight' for model './models/x'"), which has no line in the YAML.</summary>
public static class PlanDiagnostics
{
    public static readonly DiagnosticDescriptor OverrideOfUnknownModel = new("DMRG0910", DiagnosticSeverity.Error,
        "Override of a model the definition does not merge",
        "the override is for model '{0}', which {1} does not merge; its input models are {2}");

    /// <summary>An override read back as a type it does not hold (an <see cref="InvalidCastException"/> from
    /// <see cref="ParameterValue.As{T}"/>), or an enum parameter's override that is none of its values (an
    /// <see cref="InvalidOperationException"/> from the generated property): only overrides built by hand get there.</summary>
    public const string ValueMismatchId = "DMRG0912";

    public static readonly DiagnosticDescriptor OverrideOfUnknownStage = new("DMRG0911", DiagnosticSeverity.Error,
        "Override of a stage the definition does not have",
        "the override is for stage '{0}', which the definition does not have; its stages are {1}");
}
