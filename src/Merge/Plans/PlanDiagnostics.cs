using DotnetMerge.Definitions;

namespace DotnetMerge.Plans;

/// <summary>Errors of the typed-plan runtime (DMRG0910-0919): overrides that do not fit the definition they are applied
/// to. Each is located at the override ("the override of 'weight' for model './models/x'"), which has no line in the YAML.</summary>
public static class PlanDiagnostics
{
    public static readonly DiagnosticDescriptor OverrideOfUnknownModel = new("DMRG0910", DiagnosticSeverity.Error,
        "Override of a model the definition does not merge",
        "the override is for model '{0}', which {1} does not merge; its input models are {2}");

    public static readonly DiagnosticDescriptor OverrideOfUnknownStage = new("DMRG0911", DiagnosticSeverity.Error,
        "Override of a stage the definition does not have",
        "the override is for stage '{0}', which the definition does not have; its stages are {1}");
}
