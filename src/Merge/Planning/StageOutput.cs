using DotnetMerge.Definitions;

namespace DotnetMerge.Planning;

/// <summary>The planned output of an intermediate stage of a multi-stage definition, seen by the stages that merge it:
/// its tensors are the plan's jobs (computed on demand, one at a time, by the executor), and its other files
/// (config.json, tokenizer, model card) are written into <see cref="FilesDirectory"/> exactly as the stage would write
/// them beside its tensors, so the consumers check and copy them as they would from the written model.</summary>
public sealed class StageOutput : IDisposable
{
    private MergePlan _plan;
    private Dictionary<string, TensorJob> _jobs;

    internal StageOutput(Stage stage, MergePlan plan, string filesDirectory)
    {
        Stage = stage; _plan = plan; FilesDirectory = filesDirectory;
        _jobs = Index(plan);
    }

    public Stage Stage { get; }

    /// <summary>The stage's plan (replaced by <see cref="UsePlan"/> when a pre-pass attaches computed parameters).</summary>
    public MergePlan Plan => _plan;

    /// <summary>A temporary directory with the stage's non-tensor files; removed on dispose.</summary>
    public string FilesDirectory { get; }

    public bool TryGetJob(string tensorName, out TensorJob job) => _jobs.TryGetValue(tensorName, out job!);

    public TensorJob Job(string tensorName) => _jobs[tensorName];

    /// <summary>Bytes held while the tensor is computed, besides its own output buffer: the inputs of its job (a
    /// copied tensor's input becomes its output) and, recursively, what earlier stages hold to compute those.</summary>
    public long WorkingBytes(string tensorName)
    {
        var job = _jobs[tensorName];
        return (job.Kind == JobKind.Copy ? 0 : job.InputBytes) + job.UpstreamWorkingBytes;
    }

    /// <summary>Bytes read from disk to compute the tensor (its job's inputs, recursively through earlier stages).</summary>
    public long BytesFromDisk(string tensorName) => _jobs[tensorName].BytesFromDisk;

    /// <summary>Replaces the plan by one with the same tensors (names, dtypes, shapes) and other parameters.</summary>
    public void UsePlan(MergePlan plan)
    {
        _plan = plan;
        _jobs = Index(plan);
    }

    private static Dictionary<string, TensorJob> Index(MergePlan plan) => plan.Jobs.ToDictionary(j => j.OutputName, StringComparer.Ordinal);

    public void Dispose()
    {
        _plan.Dispose();
        try { if (Directory.Exists(FilesDirectory)) Directory.Delete(FilesDirectory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public override string ToString() => Stage.DisplayName;
}
