using DotnetMerge.Checks;

namespace DotnetMerge.Engine;

/// <summary>The DMRG ids of run-time errors (<see cref="MergeException.Id"/>). An error with the same cause as a
/// definition diagnostic or a check finding has that one's id (an unknown method is DMRG0201 whether the validator or
/// the planner finds it); the DMRG10xx ids are the failures only a run can meet. docs/configuration.md lists them.</summary>
public static class ErrorIds
{
    // ---- the merge definition (exit code 2) ----
    /// <summary>The definition file does not exist or cannot be read.</summary>
    public const string DefinitionUnreadable = "DMRG0006";
    /// <summary>An unknown merge method.</summary>
    public const string UnknownMethod = "DMRG0201";
    /// <summary>A method the catalog knows that this build of the engine does not implement.</summary>
    public const string MethodNotImplemented = "DMRG0209";
    /// <summary><c>trim_scope: model</c> with a density that varies for a model.</summary>
    public const string ModelScopeDensity = "DMRG0313";
    /// <summary>An unknown dtype.</summary>
    public const string UnknownDtype = "DMRG0501";
    /// <summary>A tokenizer source that is none of the merged models.</summary>
    public const string TokenizerSource = "DMRG0502";
    /// <summary>A chat template that is neither auto, a built-in name nor a template.</summary>
    public const string ChatTemplate = "DMRG0504";
    /// <summary>A memory bound below what the largest tensor needs at once.</summary>
    public const string MemoryBoundTooSmall = "DMRG1001";

    // ---- input models and adapters (exit code 3) ----
    /// <summary>An input model or adapter cannot be found or opened (missing, not a directory, malformed files).</summary>
    public const string ModelUnavailable = CheckIds.ModelUnavailable;
    /// <summary>Inputs declare different base models (a task vector applied to another base).</summary>
    public const string BaseMismatch = CheckIds.BaseMismatch;
    /// <summary>A tensor is missing from an input.</summary>
    public const string TensorMissing = CheckIds.TensorMissing;
    /// <summary>Input tensors have shapes that cannot be combined.</summary>
    public const string ShapeMismatch = CheckIds.ShapeMismatch;
    /// <summary>A tensor cannot be handled (dtype, size).</summary>
    public const string UnsupportedTensor = CheckIds.UnsupportedTensor;
    /// <summary>A LoRA adapter that is malformed or cannot be applied exactly.</summary>
    public const string AdapterInvalid = CheckIds.AdapterMismatch;
    /// <summary>An input holds NaN or infinite values where the command needs finite ones.</summary>
    public const string NonFiniteInput = CheckIds.NonFiniteInput;
    /// <summary>A model's vocabulary (tokenizer.json) cannot be read.</summary>
    public const string VocabularyUnreadable = Tokenizers.TokenizerCheckIds.VocabularyUnreadable;
    /// <summary>An input's bytes cannot be read while merging (an I/O error, a file changed under the merge).</summary>
    public const string InputReadFailed = "DMRG1002";
    /// <summary>The method made NaN or infinite values from finite inputs (nothing was written).</summary>
    public const string NonFiniteResult = "DMRG1003";
    /// <summary>A directory given as a task vector is not one, or its metadata or factors are malformed.</summary>
    public const string TaskVectorInvalid = "DMRG1004";
    /// <summary>Extraction found nothing to write (the fine-tune equals the base, or every change was left out).</summary>
    public const string NothingToExtract = "DMRG1005";
    /// <summary>Extraction options that contradict each other for a module.</summary>
    public const string ExtractionConflict = "DMRG1006";
    /// <summary>The evaluator command cannot be started.</summary>
    public const string EvaluatorStart = "DMRG1010";
    /// <summary>The evaluator ran past its timeout and was stopped.</summary>
    public const string EvaluatorTimeout = "DMRG1011";
    /// <summary>The evaluator exited with a non-zero code.</summary>
    public const string EvaluatorFailed = "DMRG1012";
    /// <summary>The evaluator printed no number on its last line.</summary>
    public const string EvaluatorNoScore = "DMRG1013";

    /// <summary>`tune` on a definition with no search form (nothing to search).</summary>
    public const string NothingToSearch = "DMRG0990";
    /// <summary>`tune --resume` with a trial log of another search (another definition, strategy, seed or budget).</summary>
    public const string TuneLogMismatch = "DMRG0991";
    /// <summary>The trial log cannot be read (not a tune log, or damaged beyond its last line).</summary>
    public const string TuneLogUnreadable = "DMRG0992";
    /// <summary>Every candidate of the search was an invalid definition: no trial was scored.</summary>
    public const string TuneNoValidTrial = "DMRG0993";

    /// <summary>A hub repository, revision or file that does not exist, or a gated repository the token does not open.</summary>
    public const string HubReference = "DMRG0610";
    /// <summary>Offline, and the cache does not hold what the merge needs.</summary>
    public const string HubNotCached = "DMRG0611";
    /// <summary>The hub cannot be reached, or kept failing after the retries.</summary>
    public const string HubNetwork = "DMRG0612";
    /// <summary>A downloaded file does not have the size or hash the hub announced.</summary>
    public const string HubIntegrity = "DMRG0613";
    /// <summary>The server's answers are not the hub protocol (a proxy in the way, not a hub).</summary>
    public const string HubProtocol = "DMRG0614";

    // ---- the output (exit code 5) ----
    /// <summary>The output location is unusable: a file, the root, inside an input, an input inside it, not empty without Force.</summary>
    public const string OutputLocation = CheckIds.OutputProblem;
    /// <summary>Writing the output failed (disk full, read-only, permissions, too many open files).</summary>
    public const string OutputWriteFailed = "DMRG1020";
    /// <summary>The hub cache cannot be written (disk full, permissions).</summary>
    public const string HubDisk = "DMRG0615";
    /// <summary>The output directory was created by someone else while the merge ran.</summary>
    public const string OutputRace = "DMRG1021";

    // ---- the device (exit code 4) ----
    /// <summary>The requested CUDA device is not available.</summary>
    public const string DeviceUnavailable = "DMRG1030";
    /// <summary>The device failed while merging a tensor.</summary>
    public const string DeviceFailed = "DMRG1031";
}
