using DotnetMerge.Definitions;

namespace DotnetMerge.Checks;

/// <summary>A problem found while checking inputs against each other or planning tensors (ids DMRG07xx-08xx),
/// printed like definition diagnostics: <c>path(line,col): error DMRG0701: message</c>.</summary>
public sealed record CheckFinding(DiagnosticSeverity Severity, string Id, string Message, SourceLocation? Location = null)
{
    public bool IsError => Severity == DiagnosticSeverity.Error;

    public override string ToString()
    {
        var severity = Severity switch { DiagnosticSeverity.Error => "error", DiagnosticSeverity.Warning => "warning", _ => "info" };
        // A definition a command built has no file: its findings name the models instead of a position.
        var where = Location is { } l && !string.IsNullOrEmpty(l.Path) ? $"{l.Path}({l.Line},{l.Column}): " : "";
        return $"{where}{severity} {Id}: {Message}";
    }
}

/// <summary>The ids of input checks. One place, so docs and tests can list them.</summary>
public static class CheckIds
{
    /// <summary>An input model cannot be found or opened.</summary>
    public const string ModelUnavailable = "DMRG0701";
    /// <summary>Inputs have different architectures (config.json architectures / model_type / sizes).</summary>
    public const string ArchitectureMismatch = "DMRG0702";
    /// <summary>Inputs have different tokenizers or vocabulary sizes.</summary>
    public const string TokenizerMismatch = "DMRG0703";
    /// <summary>Inputs declare different base models in their model cards.</summary>
    public const string BaseMismatch = "DMRG0704";
    /// <summary>A LoRA adapter does not fit the model it is applied to (module missing, shapes, rank, DoRA parts).</summary>
    public const string AdapterMismatch = "DMRG0712";
    /// <summary>A tensor the merge needs is missing from an input.</summary>
    public const string TensorMissing = "DMRG0705";
    /// <summary>Input tensors have shapes the method cannot combine.</summary>
    public const string ShapeMismatch = "DMRG0706";
    /// <summary>A layer_range goes past the model's layers.</summary>
    public const string LayerRangeOutOfBounds = "DMRG0707";
    /// <summary>A required parameter has no value for some model and tensor.</summary>
    public const string MissingParameter = "DMRG0708";
    /// <summary>A tensor cannot be merged (unsupported dtype, too large...).</summary>
    public const string UnsupportedTensor = "DMRG0709";
    /// <summary>The output location is unusable.</summary>
    public const string OutputProblem = "DMRG0710";
    /// <summary>An input's tensor is present only in some models or only in the base (information).</summary>
    public const string TensorIgnored = "DMRG0711";
    /// <summary>A <c>slices:</c> definition over a model with more than one numbered layer stack: only the main one is sliced.</summary>
    public const string OtherLayerStacks = "DMRG0713";
    /// <summary>A <c>modules:</c> name that names no layer stack of the models (or several), or a stack one of its models lacks.</summary>
    public const string ModuleStackUnknown = "DMRG1070";
    /// <summary>A layer stack of the models that no module names and that lies under no module's prefix.</summary>
    public const string StackWithoutModule = "DMRG1071";
    /// <summary>Two modules name the same layer stack.</summary>
    public const string ModulesShareStack = "DMRG1072";
    /// <summary>A layer stack no module names, taken whole with the module it lies under (a projector's numbered layers).</summary>
    public const string StackTakenWithModule = "DMRG1073";
    /// <summary>A module other than the main stack's changes its number of layers; config.json keeps the donor's count for it.</summary>
    public const string ModuleLayerCountChanged = "DMRG1074";
    /// <summary>An input tensor holds NaN or infinite values (<c>check --scan</c>).</summary>
    public const string NonFiniteInput = "DMRG0720";
}
