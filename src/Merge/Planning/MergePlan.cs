using DotnetMerge.Adapters;
using DotnetMerge.Definitions;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Planning;

/// <summary>How one output tensor is produced.</summary>
public enum JobKind
{
    /// <summary>Decoded, merged by the method, encoded.</summary>
    Merge,
    /// <summary>Bytes copied unchanged from one input (non-float tensors; passthrough without scale or dtype change).</summary>
    Copy,
}

/// <summary>One input of a tensor job: which bytes of which model, and the per-model parameters resolved for it.
/// <see cref="File"/> is null when the bytes are computed in the read stage: by an earlier stage's job of the same name
/// when the model is that stage's output (<see cref="ModelSource.Stage"/>), or by applying a LoRA adapter to the base
/// tensor (<see cref="Adaptation"/>).</summary>
public sealed record JobInput(ModelSource Model, string TensorName, TensorInfo Tensor, ITensorFile? File, bool IsBase,
    ParameterBag Parameters, long[]? CropShape)
{
    /// <summary>Set when the tensor is the base tensor with a LoRA delta applied (<see cref="Tensor"/> is the base's).</summary>
    public AdaptedTensor? Adaptation { get; init; }

    /// <summary>Set when the tensor is the model's embedding (or LM head) with its rows aligned to the output vocabulary
    /// of a tokenizer rule (<see cref="Tensor"/> has the aligned shape; the stored tensor is <c>Gather.Raw</c>).</summary>
    public Tokenizers.GatheredRows? Gather { get; init; }

    /// <summary>Set by the whole-model pre-pass (TIES <c>trim_scope: model</c>, Execution/WholeModelPrePass): this model's
    /// magnitude threshold over its whole task vector, handed to the method as <see cref="MergeInput.MagnitudeThreshold"/>.</summary>
    public float? MagnitudeThreshold { get; init; }

    public long ByteLength => Tensor.ByteLength;

    /// <summary>The file the bytes are read from (an input on disk; the soups, task-vector and trim passes only see those).</summary>
    public ITensorFile StoredFile => File
        ?? throw new InvalidOperationException(Gather is not null
            ? $"tensor '{TensorName}' of '{Model.Name}' is aligned to the output vocabulary, not stored in a file as used"
            : Adaptation is not null
            ? $"tensor '{TensorName}' of '{Model.Name}' is computed from a LoRA adapter, not stored in a file"
            : $"tensor '{TensorName}' of '{Model.Name}' is computed by an earlier stage, not stored in a file");

    /// <summary>Bytes read from disk for this input: its own (plus the adapter's factors), or what the earlier stage that
    /// computes it reads.</summary>
    public long BytesFromDisk => Gather is { } gather ? gather.BytesFromDisk : Model.Stage is { } stage ? stage.BytesFromDisk(TensorName) : ByteLength + (Adaptation?.AdapterBytes ?? 0);

    /// <summary>Bytes held, besides this input's own buffer, while it is computed: an earlier stage's working set, or the
    /// adapter's factors (0 for a stored tensor).</summary>
    public long UpstreamWorkingBytes => Gather is { } gather ? gather.WorkingBytes : Model.Stage is { } stage ? stage.WorkingBytes(TensorName) : Adaptation?.WorkingBytes ?? 0;
}

/// <summary>Everything needed to produce one output tensor: pure data, decided before any tensor byte is read.</summary>
public sealed record TensorJob(string OutputName, JobKind Kind, IReadOnlyList<JobInput> Inputs, int BaseIndex, ParameterBag Global,
    long[] OutputShape, Dtype OutputDtype, bool IsEmbedding)
{
    public long OutputBytes => OutputDtype.ByteCount(TensorShape.ElementCount(OutputShape));
    public long InputBytes => Inputs.Sum(i => i.ByteLength);
    /// <summary>Bytes read from disk for this job (differs from <see cref="InputBytes"/> when inputs are stage outputs).</summary>
    public long BytesFromDisk => Inputs.Sum(i => i.BytesFromDisk);
    /// <summary>Bytes held while earlier stages compute this job's inputs (0 unless an input is a stage's output).</summary>
    public long UpstreamWorkingBytes => Inputs.Sum(i => i.UpstreamWorkingBytes);
    public OutputTensor ToOutputTensor() => new(OutputName, OutputDtype, OutputShape);
}

/// <summary>The whole merge, resolved: every output tensor with its inputs and parameters, the shard layout and the
/// donors of config and tokenizer. Produced by <see cref="MergePlanner"/>, consumed by the executor, printed by <c>plan</c>.</summary>
public sealed class MergePlan : IDisposable
{
    public MergePlan(MergeDefinition definition, MethodDescriptor method, IMergeMethod implementation, IReadOnlyList<ModelSource> models,
        ModelSource configDonor, ModelSource? tokenizerDonor, IReadOnlyList<TensorJob> jobs, IReadOnlyList<ShardPlan> shards,
        int? outputLayerCount, long? outputVocabSize, Dtype? outputTorchDtype, ulong seed, IReadOnlyList<string> warnings)
    {
        Definition = definition; Method = method; Implementation = implementation; Models = models; ConfigDonor = configDonor;
        TokenizerDonor = tokenizerDonor; Jobs = jobs; Shards = shards; OutputLayerCount = outputLayerCount; OutputVocabSize = outputVocabSize;
        OutputTorchDtype = outputTorchDtype; Seed = seed; Warnings = warnings;
    }

    public MergeDefinition Definition { get; }
    public MethodDescriptor Method { get; }
    public IMergeMethod Implementation { get; }
    public IReadOnlyList<ModelSource> Models { get; }
    public ModelSource ConfigDonor { get; }
    public ModelSource? TokenizerDonor { get; }
    public IReadOnlyList<TensorJob> Jobs { get; }
    public IReadOnlyList<ShardPlan> Shards { get; }
    /// <summary>New layer count for config.json when slices changed it; null to keep the donor's.</summary>
    public int? OutputLayerCount { get; }
    /// <summary>New vocab_size for config.json when the written embedding has another row count than the donor declares.</summary>
    public long? OutputVocabSize { get; }
    /// <summary>torch_dtype for config.json (the dtype most output tensors have).</summary>
    public Dtype? OutputTorchDtype { get; }
    public ulong Seed { get; }
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The output vocabulary of a tokenizer rule, or null (the donor's tokenizer is copied).</summary>
    public Tokenizers.OutputVocabulary? Vocabulary { get; init; }

    /// <summary>For a <c>modules:</c> definition, each module and the layer stack it is (in definition order); empty otherwise.</summary>
    public IReadOnlyList<(string Module, Models.LayerStack Stack)> Modules { get; init; } = [];

    /// <summary>The same plan with other jobs (a pre-pass that attaches computed parameters); shares the open models.</summary>
    public MergePlan WithJobs(IReadOnlyList<TensorJob> jobs)
        => new(Definition, Method, Implementation, Models, ConfigDonor, TokenizerDonor, jobs, Shards, OutputLayerCount, OutputVocabSize,
            OutputTorchDtype, Seed, Warnings) { Vocabulary = Vocabulary, Modules = Modules };

    public long BytesToRead => Jobs.Sum(j => j.BytesFromDisk);
    public long BytesToWrite => Jobs.Sum(j => j.OutputBytes);

    /// <summary>Largest single job (inputs + output): the unit the memory budget must hold at least once.</summary>
    public long LargestJobBytes => Jobs.Count == 0 ? 0 : Jobs.Max(j => j.InputBytes + j.OutputBytes + j.UpstreamWorkingBytes);

    public void Dispose()
    {
        foreach (var m in Models) m.Dispose();
    }
}
