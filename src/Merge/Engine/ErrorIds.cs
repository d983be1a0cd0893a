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

    /// <summary><c>analyze --merged</c>: the merged model is not this definition's output (missing, lacks a tensor, another shape).</summary>
    public const string AnalyzeMergedMismatch = "DMRG0961";
    /// <summary><c>analyze --png</c>: the PNG renderer's native library (SkiaSharp, carried for linux-x64 only) does not load here.</summary>
    public const string PngRendererUnavailable = "DMRG0963";
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

    // ---- dotnet merge moe (docs/moe.md): the config (exit code 2, located file(line,col)) ----
    /// <summary>A moe config key with the wrong kind of value (a list where a string belongs, a prompt that is not text).</summary>
    public const string MoeConfigValue = "DMRG0940";
    /// <summary>A required key of the moe config is missing (<c>base_model</c>, <c>experts</c>, an expert's <c>source_model</c>).</summary>
    public const string MoeConfigMissing = "DMRG0941";
    /// <summary>A key the moe config does not have (a warning; ignored).</summary>
    public const string MoeConfigUnknownKey = "DMRG0942";
    /// <summary>A number of the moe config that is not finite or out of range (<c>experts_per_token</c>, <c>noise_scale</c>, <c>residual_scale</c>).</summary>
    public const string MoeConfigNumber = "DMRG0943";
    /// <summary>A gate mode that is unknown.</summary>
    public const string MoeGateMode = "DMRG0944";
    /// <summary>An output architecture that is unknown, not supported yet, or that cannot hold the config (shared experts).</summary>
    public const string MoeArchitecture = "DMRG0945";
    /// <summary>Prompts that a prompt-based gate mode needs are missing, or every expert has the same prompts.</summary>
    public const string MoePrompts = "DMRG0946";
    /// <summary>Every expert is the same model (the MoE is the dense model until trained).</summary>
    public const string MoeIdenticalExperts = "DMRG0947";
    /// <summary>An expert count that is not a power of two (a warning: llama.cpp needs one).</summary>
    public const string MoeExpertCount = "DMRG0948";
    /// <summary>A layer's router matrix is ill-conditioned (a warning: the experts' prompts are too similar).</summary>
    public const string MoeSimilarPrompts = "DMRG0949";

    // ---- dotnet merge moe: the models (exit code 3) ----
    /// <summary>The base or an expert does not fit the MoE: a family the output architecture cannot take, layer counts
    /// or MLP shapes that differ, a missing MLP tensor.</summary>
    public const string MoeModelMismatch = "DMRG0950";
    /// <summary>The base has no <c>lm_head.weight</c> and its config.json does not tie the embeddings.</summary>
    public const string MoeNoLmHead = "DMRG0951";
    /// <summary>The base's tokenizer cannot encode the prompts (hidden, cheap_embed) (no tokenizer.json, or the tokenizer library is not available on this platform).</summary>
    public const string MoeTokenizer = "DMRG0952";

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

    // ---- partitioned runs, prepare, join, resume (docs/cluster.md) ----
    /// <summary>A <c>--part</c> value that is not <c>i/N</c> with 0 &lt;= i &lt; N, or <c>auto</c> without a scheduler's index.</summary>
    public const string PartSpec = "DMRG0970";
    /// <summary>The output directory holds parts of another plan (another definition or other inputs), or something else.</summary>
    public const string PartsOfAnotherPlan = "DMRG0971";
    /// <summary>Whole-model statistics are needed and <c>prepare</c> has not written them.</summary>
    public const string StatsMissing = "DMRG0972";
    /// <summary>The statistics file is of another plan, another version or unreadable.</summary>
    public const string StatsStale = "DMRG0973";
    /// <summary>join: the directory holds no partitioned run.</summary>
    public const string NothingToJoin = "DMRG0974";
    /// <summary>join: a part has not finished (its record is missing).</summary>
    public const string PartMissing = "DMRG0975";
    /// <summary>join: a shard is missing, or its size or sha256 is not what its part recorded.</summary>
    public const string ShardCorrupt = "DMRG0976";
    /// <summary>join: the definition or the inputs changed since the parts ran.</summary>
    public const string PlanChanged = "DMRG0977";
    /// <summary>A part record or the run's manifest cannot be read (not JSON, another version).</summary>
    public const string PartRecordUnreadable = "DMRG0978";
}
