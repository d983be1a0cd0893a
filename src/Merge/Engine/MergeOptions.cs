using DotnetMerge.Numerics;

namespace DotnetMerge.Engine;

/// <summary>Run options shared by the CLI, typed plans and the build step. Everything here either overrides the
/// definition (dtype, seed) or tunes how the run happens without changing its numbers (threads, memory).</summary>
public sealed record MergeOptions
{
    /// <summary>Largest output shard in bytes (default 5e9, as mergekit and transformers 4.x). 0 or less: one shard.</summary>
    public long MaxShardBytes { get; init; } = 5_000_000_000;

    /// <summary>Overrides the definition's <c>dtype</c> (the dtype inputs are merged in and, by default, written in).</summary>
    public Dtype? Dtype { get; init; }

    /// <summary>Overrides the definition's <c>out_dtype</c>.</summary>
    public Dtype? OutDtype { get; init; }

    /// <summary>Merge models whose architecture or tokenizer differ (reported as warnings instead of errors).</summary>
    public bool AllowCrimes { get; init; }

    /// <summary>Copy the tokenizer files of the donor model into the output.</summary>
    public bool CopyTokenizer { get; init; } = true;

    /// <summary>Replace a non-empty output directory.</summary>
    public bool Force { get; init; }

    /// <summary>Worker threads for the math (default: all cores).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Seed of randomised methods; overrides the definition's <c>seed</c>. Default 0.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Upper bound on the bytes of tensor buffers in flight (inputs and outputs). Default: twice the largest
    /// tensor job (at least 64 MiB), at most a quarter of the machine's memory (at least 1 GiB); see
    /// MemoryBudget.DefaultCapacityFor. A single tensor job larger than the budget still runs, alone.</summary>
    public long? MaxMemoryBytes { get; init; }

    /// <summary>Write the README.md model card and the definition file next to the model.</summary>
    public bool WriteModelCard { get; init; } = true;

    /// <summary>Where the math runs (null: the CPU). Jobs the backend does not support run on the CPU.</summary>
    public Execution.IMergeBackend? Backend { get; init; }

    /// <summary>Directory against which relative model paths are resolved when they do not exist next to the definition file.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Fault injection for the reliability tests (null in every real run).</summary>
    internal Execution.IExecutionFaults? Faults { get; init; }

    /// <summary>How Hugging Face ids are resolved (cache, endpoint, token, offline). Null: from the environment, as
    /// huggingface_hub reads it.</summary>
    public Hub.HubSettings? Hub { get; init; }
}
