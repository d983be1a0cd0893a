using System.Reflection;

namespace DotnetMerge.Definitions;

/// <summary>Every diagnostic the definition language can report, in one place.
/// Ids: 00xx YAML and document shape, 01xx schema, 02xx method and arity, 03xx parameters,
/// 04xx slices, 05xx dtype / tokenizer / chat template, 06xx paths, 08xx multi-stage definitions (07xx: the engine's input checks).</summary>
public static class DiagnosticDescriptors
{
    // 00xx: YAML and document shape
    public static readonly DiagnosticDescriptor YamlSyntax = new("DMRG0001", DiagnosticSeverity.Error,
        "YAML syntax error", "YAML syntax error: {0}");
    public static readonly DiagnosticDescriptor EmptyDocument = new("DMRG0002", DiagnosticSeverity.Error,
        "Empty definition", "the merge definition is empty");
    public static readonly DiagnosticDescriptor RootNotMapping = new("DMRG0003", DiagnosticSeverity.Error,
        "Definition is not a mapping", "the merge definition must be a YAML mapping of keys such as 'merge_method' and 'models'");
    public static readonly DiagnosticDescriptor ExtraDocuments = new("DMRG0004", DiagnosticSeverity.Error,
        "Several YAML documents", "the file holds {0} YAML documents: a multi-stage definition (mergekit-multi), which cannot be read as a single merge; run it with `dotnet merge multi` (or `dotnet merge run`)");
    public static readonly DiagnosticDescriptor DuplicateKey = new("DMRG0005", DiagnosticSeverity.Error,
        "Duplicate key", "the key '{0}' appears more than once in this mapping");

    // 0020-0029: the bounds every definition is read within (DefinitionLimits)
    public static readonly DiagnosticDescriptor DefinitionTooLarge = new("DMRG0020", DiagnosticSeverity.Error,
        "Definition too large or not a file", "{0}");
    public static readonly DiagnosticDescriptor DefinitionTooDeep = new("DMRG0021", DiagnosticSeverity.Error,
        "YAML nested too deep", "the YAML nests deeper than {0} levels here");
    public static readonly DiagnosticDescriptor DefinitionTooManyNodes = new("DMRG0022", DiagnosticSeverity.Error,
        "Too many YAML values", "the definition holds more than {0} YAML values (each use of an alias counts as a copy)");
    public static readonly DiagnosticDescriptor UnsupportedTag = new("DMRG0023", DiagnosticSeverity.Error,
        "Unsupported YAML tag", "the YAML tag '{0}' is not supported: a merge definition holds plain values (mergekit's safe loader rejects it too)");
    public static readonly DiagnosticDescriptor DiagnosticsOmitted = new("DMRG0024", DiagnosticSeverity.Warning,
        "Repeated diagnostics omitted", "{0} more {1} diagnostic(s) are not listed (the first {2} are)");

    // 01xx: schema
    public static readonly DiagnosticDescriptor UnknownKey = new("DMRG0101", DiagnosticSeverity.Warning,
        "Unknown key", "unknown key '{0}' in {1} is ignored");
    public static readonly DiagnosticDescriptor WrongType = new("DMRG0102", DiagnosticSeverity.Error,
        "Wrong value type", "'{0}' must be {1}");
    public static readonly DiagnosticDescriptor MissingKey = new("DMRG0103", DiagnosticSeverity.Error,
        "Missing required key", "{0} needs a '{1}' key");
    public static readonly DiagnosticDescriptor ModelsSlicesExclusive = new("DMRG0104", DiagnosticSeverity.Error,
        "Exactly one of models/slices", "{0}");
    // DMRG0105 (key not supported yet: 'modules') is retired: `modules:` definitions are read (DMRG0120, DMRG1070-1073).
    public static readonly DiagnosticDescriptor IgnoredKey = new("DMRG0106", DiagnosticSeverity.Warning,
        "Key has no effect", "'{0}' has no effect: {1}");
    public static readonly DiagnosticDescriptor InvalidModelReference = new("DMRG0107", DiagnosticSeverity.Error,
        "Invalid model reference", "cannot read the model reference '{0}': {1}");
    // DMRG0108 (LoRA inputs not supported) is retired: `model+adapter` references are inputs (docs/adapters.md).
    /// <summary>An unknown key that is a near miss of a real one (<c>paramters</c>): an error, since running with the real
    /// key's default is rarely what was meant. <see cref="ValidationOptions.AllowUnknownKeys"/> makes it a warning.</summary>
    public static readonly DiagnosticDescriptor MisspelledKey = new("DMRG0109", DiagnosticSeverity.Error,
        "Misspelled key", "unknown key '{0}' in {1}");

    /// <summary>A module of <c>modules:</c> with both or neither of <c>models</c> and <c>slices</c>.</summary>
    public static readonly DiagnosticDescriptor ModuleInputsExclusive = new("DMRG0120", DiagnosticSeverity.Error,
        "A module takes exactly one of models/slices", "module '{0}' {1}");

    // 02xx: method and arity
    public static readonly DiagnosticDescriptor UnknownMethod = new("DMRG0201", DiagnosticSeverity.Error,
        "Unknown merge method", "unknown merge method '{0}'");
    public static readonly DiagnosticDescriptor TooFewModels = new("DMRG0202", DiagnosticSeverity.Error,
        "Too few models", "{0} needs at least {1} input model(s) besides the base model, but {2} has {3}");
    public static readonly DiagnosticDescriptor TooManyModels = new("DMRG0203", DiagnosticSeverity.Error,
        "Too many models", "{0} takes at most {1} input model(s) besides the base model, but {2} has {3}");
    public static readonly DiagnosticDescriptor BaseModelRequired = new("DMRG0204", DiagnosticSeverity.Error,
        "Base model required", "{0} needs a base_model");
    public static readonly DiagnosticDescriptor BaseModelNotUsed = new("DMRG0205", DiagnosticSeverity.Warning,
        "Base model has no special role", "{0} gives the base model no special role; '{1}' is merged as one more input");
    public static readonly DiagnosticDescriptor BaseModelMustBeInput = new("DMRG0206", DiagnosticSeverity.Error,
        "Base model must be one of the inputs", "the base model '{0}' of {1} must be one of the merged models (it is the t = 0 end)");
    public static readonly DiagnosticDescriptor BaseModelMustBeDistinct = new("DMRG0207", DiagnosticSeverity.Error,
        "Base model must not be one of the inputs", "the base model '{0}' of {1} must be a third model, not one of the two models being merged");
    public static readonly DiagnosticDescriptor DuplicateModel = new("DMRG0208", DiagnosticSeverity.Warning,
        "Model listed twice", "the model '{0}' is listed more than once in {1}; only one entry is used");

    // 03xx: parameters
    public static readonly DiagnosticDescriptor UnknownParameter = new("DMRG0301", DiagnosticSeverity.Warning,
        "Unknown parameter", "'{0}' is not a parameter of {1} and is ignored");
    public static readonly DiagnosticDescriptor ParameterWrongType = new("DMRG0302", DiagnosticSeverity.Error,
        "Parameter has the wrong type", "parameter '{0}' must be {1}, not {2}");
    public static readonly DiagnosticDescriptor ParameterOutOfRange = new("DMRG0303", DiagnosticSeverity.Error,
        "Parameter out of range", "parameter '{0}' = {1} is out of range: {2}");
    public static readonly DiagnosticDescriptor ParameterUnusual = new("DMRG0304", DiagnosticSeverity.Warning,
        "Parameter outside its usual range", "parameter '{0}' = {1}: {2}");
    public static readonly DiagnosticDescriptor MissingModelParameter = new("DMRG0305", DiagnosticSeverity.Error,
        "Missing required per-model parameter", "{0} needs '{1}' for the model '{2}', and no level sets it");
    public static readonly DiagnosticDescriptor MaybeMissingModelParameter = new("DMRG0306", DiagnosticSeverity.Warning,
        "Required parameter may be missing", "'{0}' for the model '{1}' is set only through filters without a catch-all entry; tensors that match no filter will have no value");
    public static readonly DiagnosticDescriptor GlobalParameterPerModel = new("DMRG0307", DiagnosticSeverity.Error,
        "Method-wide parameter set per model", "parameter '{0}' is method-wide; set it under the top-level or slice parameters");
    public static readonly DiagnosticDescriptor MissingGlobalParameter = new("DMRG0308", DiagnosticSeverity.Error,
        "Missing required method-wide parameter", "{0} needs the parameter '{1}' in {2}");
    public static readonly DiagnosticDescriptor MaybeMissingGlobalParameter = new("DMRG0309", DiagnosticSeverity.Warning,
        "Required method-wide parameter may be missing", "'{0}' is set only through filters without a catch-all entry in {1}; tensors that match no filter will have no value");
    public static readonly DiagnosticDescriptor ParameterIgnored = new("DMRG0310", DiagnosticSeverity.Info,
        "Parameter accepted and ignored", "parameter '{0}' is accepted for compatibility and has no effect here");
    /// <summary>An unknown parameter that is a near miss of one of the method's (<c>desnity</c>): an error unless
    /// <see cref="ValidationOptions.AllowUnknownKeys"/>.</summary>
    public static readonly DiagnosticDescriptor MisspelledParameter = new("DMRG0312", DiagnosticSeverity.Error,
        "Misspelled parameter", "'{0}' is not a parameter of {1}");
    public static readonly DiagnosticDescriptor InvalidParameterForm = new("DMRG0311", DiagnosticSeverity.Error,
        "Invalid parameter value", "the value of '{0}' {1}");
    public static readonly DiagnosticDescriptor NonFiniteNumber = new("DMRG0320", DiagnosticSeverity.Error,
        "Number not finite", "'{0}' = {1} is not a finite number");

    public static readonly DiagnosticDescriptor DensityNotConstant = new("DMRG0313", DiagnosticSeverity.Error,
        "trim_scope: model needs one density per model", "trim_scope: model needs one density per model, but '{0}' has {1}");

    // 0330-0339: search forms ({search: ...}), the values `dotnet merge tune` looks for
    /// <summary>A searched value outside `tune`: `run`, `check` and the typed plans never merge a guessed value.</summary>
    public static readonly DiagnosticDescriptor SearchNeedsTune = new("DMRG0330", DiagnosticSeverity.Error,
        "Searched value needs tune", "'{0}' is {1}: only `dotnet merge tune` fills in a searched value");
    public static readonly DiagnosticDescriptor SearchRangeEmpty = new("DMRG0331", DiagnosticSeverity.Error,
        "Empty search range", "the search range of '{0}' is empty: min {1} is not below max {2}");
    public static readonly DiagnosticDescriptor InvalidSearchForm = new("DMRG0332", DiagnosticSeverity.Error,
        "Invalid search form", "the search form of '{0}' is malformed: {1}");

    // 04xx: slices
    public static readonly DiagnosticDescriptor InvalidLayerRange = new("DMRG0401", DiagnosticSeverity.Error,
        "Invalid layer_range", "layer_range {0}");
    public static readonly DiagnosticDescriptor SliceLengthMismatch = new("DMRG0402", DiagnosticSeverity.Error,
        "Slice sources of different lengths", "all sources of a slice must span the same number of layers: '{0}' spans {1}, '{2}' spans {3}");
    public static readonly DiagnosticDescriptor PassthroughSeveralSources = new("DMRG0403", DiagnosticSeverity.Error,
        "passthrough slice with several sources", "a passthrough slice takes exactly one source, this one has {0}");
    public static readonly DiagnosticDescriptor BaseNotInSlice = new("DMRG0404", DiagnosticSeverity.Error,
        "Base model missing from slice", "{0} uses the base model '{1}', which is not a source of this slice; add it to the slice's sources (slices do not add the base model automatically)");
    public static readonly DiagnosticDescriptor EmptySlice = new("DMRG0405", DiagnosticSeverity.Error,
        "Slice without sources", "this slice has no sources");

    // 05xx: dtype, tokenizer, chat template
    public static readonly DiagnosticDescriptor UnknownDtype = new("DMRG0501", DiagnosticSeverity.Error,
        "Unknown dtype", "'{0}' is not a supported {1}; use bfloat16, float16, float32 or float64");
    public static readonly DiagnosticDescriptor InvalidTokenizerSource = new("DMRG0502", DiagnosticSeverity.Error,
        "Invalid tokenizer_source", "tokenizer_source {0}");
    public static readonly DiagnosticDescriptor TokenizerConflict = new("DMRG0503", DiagnosticSeverity.Error,
        "tokenizer and tokenizer_source both set", "'tokenizer' and 'tokenizer_source' cannot both be set");
    public static readonly DiagnosticDescriptor InvalidChatTemplate = new("DMRG0504", DiagnosticSeverity.Error,
        "Invalid chat_template", "chat_template '{0}' is neither 'auto', a built-in template name (alpaca, chatml, llama3, mistral, exaone) nor a Jinja template");
    /// <summary>An entry of <c>tokenizer.tokens</c> that cannot be applied (its source's kind, token or model).</summary>
    public static readonly DiagnosticDescriptor InvalidTokenRule = new("DMRG0510", DiagnosticSeverity.Error,
        "Invalid token embedding rule", "{0}");

    // 06xx: paths
    public static readonly DiagnosticDescriptor LocalPathMissing = new("DMRG0601", DiagnosticSeverity.Warning,
        "Local model path does not exist", "the local model path '{0}' does not exist (looked for '{1}')");

    // 08xx (07xx are the input checks of the engine): multi-stage definitions (several YAML documents, mergekit-multi)
    public static readonly DiagnosticDescriptor DuplicateStageName = new("DMRG0801", DiagnosticSeverity.Error,
        "Duplicate stage name", "the stage name '{0}' is used by another document of this file (at line {1}); every stage needs its own name");
    public static readonly DiagnosticDescriptor SeveralUnnamedStages = new("DMRG0802", DiagnosticSeverity.Error,
        "More than one unnamed stage", "this document has no 'name:', and neither has the document at line {0}; only the final stage may be unnamed");
    public static readonly DiagnosticDescriptor StageCycle = new("DMRG0803", DiagnosticSeverity.Error,
        "Stages depend on each other in a cycle", "the stages form a cycle: {0}; a stage can only use the output of stages that do not use it");
    public static readonly DiagnosticDescriptor InvalidStageName = new("DMRG0804", DiagnosticSeverity.Error,
        "Invalid stage name", "the stage name '{0}' {1}");
    public static readonly DiagnosticDescriptor NoFinalStage = new("DMRG0805", DiagnosticSeverity.Error,
        "No single final stage", "every document is named and {0} stages are used by no other ({1}); leave the name off the final one (the output), or use the others from it");
    public static readonly DiagnosticDescriptor UnusedStage = new("DMRG0806", DiagnosticSeverity.Warning,
        "Stage not used by the output", "the stage '{0}' is not used by the final output; it is computed only with --intermediate-dir (then written to DIR/{0})");
    public static readonly DiagnosticDescriptor StageShadowsPath = new("DMRG0807", DiagnosticSeverity.Warning,
        "Stage name shadows a directory", "the stage name '{0}' is also a directory ('{1}'); references to '{0}' mean the stage's output, not that directory");
    public static readonly DiagnosticDescriptor StageReferenceWithRevision = new("DMRG0808", DiagnosticSeverity.Error,
        "Stage reference with a revision or adapter", "'{0}' names the stage '{1}', whose output has no revisions or adapters; write just '{1}'");

    private static IReadOnlyList<DiagnosticDescriptor>? _all;

    /// <summary>Every descriptor, ordered by id.</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All => _all ??= typeof(DiagnosticDescriptors)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
        .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
        .OrderBy(d => d.Id, StringComparer.Ordinal)
        .ToList();

    /// <summary>The descriptor with this id, or null.</summary>
    public static DiagnosticDescriptor? Find(string id) => All.FirstOrDefault(d => string.Equals(d.Id, id, StringComparison.Ordinal));
}
