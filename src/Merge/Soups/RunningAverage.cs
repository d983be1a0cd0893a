using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Output;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Soups;

/// <summary>The greedy soup's running average, kept incrementally on disk: a float32 accumulator model holds the soup
/// of n ingredients, and a candidate with one more ingredient m is <c>(soup·n + m) / (n + 1)</c> per element (float64
/// arithmetic, stored as float32, so repeated steps do not pile up bf16 rounding). Each candidate is written twice:
/// its accumulator (float32) and the model to evaluate (in the plan's output dtype, normally the models' own,
/// with config and tokenizer). Tensors are streamed one at a time.</summary>
internal sealed class RunningAverage : IDisposable
{
    private readonly MergePlan _plan;
    private readonly string _work;
    private readonly long _maxShardBytes;
    private ModelCheckpoint? _accumulator;
    private string? _accumulatorDirectory;
    private int _first = -1;
    private int _candidates;

    /// <param name="plan">A linear plan over every ingredient: input i of each job is ingredient i.</param>
    public RunningAverage(MergePlan plan, string workDirectory, long maxShardBytes)
    {
        _plan = plan; _work = workDirectory; _maxShardBytes = maxShardBytes;
    }

    /// <summary>Ingredients in the soup.</summary>
    public int Count { get; private set; }

    public sealed record Candidate(string AccumulatorDirectory, string ModelDirectory);

    /// <summary>The soup starts as one ingredient (read directly from its files; no copy is made).</summary>
    public void Start(int ingredient)
    {
        _first = ingredient;
        Count = 1;
    }

    /// <summary>Writes the soup with <paramref name="ingredient"/> added, without changing the current soup.</summary>
    public async Task<Candidate> CandidateAsync(int ingredient, IMergeProgress progress, CancellationToken ct)
    {
        if (Count == 0) throw new InvalidOperationException("Start the soup first");
        _candidates++;
        var candidate = new Candidate(Path.Combine(_work, $"accumulator-{_candidates}"), Path.Combine(_work, $"candidate-{_candidates}"));
        Directory.CreateDirectory(candidate.AccumulatorDirectory);
        Directory.CreateDirectory(candidate.ModelDirectory);
        var merged = _plan.Jobs.Where(j => j.Kind == JobKind.Merge).ToList();
        progress.Started(_plan.Jobs.Count, _plan.BytesToRead / Math.Max(1, _plan.Models.Count) * 2,
            _plan.BytesToWrite + merged.Sum(j => Dtype.F32.ByteCount(TensorShape.ElementCount(j.OutputShape))));

        await using (var accumulatorWriter = new ShardedModelWriter(candidate.AccumulatorDirectory,
                         merged.Select(j => new OutputTensor(j.OutputName, Dtype.F32, j.OutputShape)).ToList(), 0))
        await using (var modelWriter = new ShardedModelWriter(candidate.ModelDirectory, _plan.Jobs.Select(j => j.ToOutputTensor()).ToList(), _maxShardBytes))
        {
            var scratch = Array.Empty<byte>();
            var soup = new float[TensorStreaming.ChunkElements];
            var added = new float[TensorStreaming.ChunkElements];
            double n = Count;
            foreach (var job in _plan.Jobs)
            {
                ct.ThrowIfCancellationRequested();
                if (job.Kind == JobKind.Copy)
                {
                    var bytes = TensorStreaming.ReadAll(TensorStreaming.Of(job.Inputs[0], ct));
                    await modelWriter.WriteTensorAsync(job.OutputName, bytes, ct).ConfigureAwait(false);
                    progress.TensorWritten(job.OutputName, bytes.Length, bytes.Length);
                    continue;
                }
                long count = TensorShape.ElementCount(job.OutputShape);
                var accumulatorBytes = TensorStreaming.Allocate(job.OutputName, Dtype.F32, count);
                var modelBytes = TensorStreaming.Allocate(job.OutputName, job.OutputDtype, count);
                var current = CurrentSource(job, ct);
                var next = TensorStreaming.Of(job.Inputs[ingredient], ct);
                foreach (var (start, length) in TensorStreaming.Chunks(count))
                {
                    TensorStreaming.Read(current, start, soup.AsSpan(0, length), ref scratch);
                    TensorStreaming.Read(next, start, added.AsSpan(0, length), ref scratch);
                    for (int i = 0; i < length; i++) soup[i] = (float)((soup[i] * n + added[i]) / (n + 1));
                    DtypeConversion.Encode(Dtype.F32, soup.AsSpan(0, length), accumulatorBytes, start);
                    DtypeConversion.Encode(job.OutputDtype, soup.AsSpan(0, length), modelBytes, start);
                }
                await accumulatorWriter.WriteTensorAsync(job.OutputName, accumulatorBytes, ct).ConfigureAwait(false);
                await modelWriter.WriteTensorAsync(job.OutputName, modelBytes, ct).ConfigureAwait(false);
                progress.TensorWritten(job.OutputName, current.Tensor.ByteLength + next.Tensor.ByteLength, accumulatorBytes.Length + modelBytes.Length);
            }
            await accumulatorWriter.CompleteAsync(ct).ConfigureAwait(false);
            await modelWriter.CompleteAsync(ct).ConfigureAwait(false);
        }
        ModelFiles.WriteConfig(_plan, candidate.ModelDirectory);
        ModelFiles.CopyTokenizer(_plan, candidate.ModelDirectory);
        return candidate;
    }

    /// <summary>The candidate becomes the soup (its accumulator replaces the current one).</summary>
    public void Accept(Candidate candidate)
    {
        DropAccumulator();
        _accumulator = ModelCheckpoint.Open(candidate.AccumulatorDirectory);
        _accumulatorDirectory = candidate.AccumulatorDirectory;
        WorkDirectory.TryDelete(candidate.ModelDirectory);
        Count++;
    }

    /// <summary>The candidate is thrown away.</summary>
    public static void Reject(Candidate candidate)
    {
        WorkDirectory.TryDelete(candidate.AccumulatorDirectory);
        WorkDirectory.TryDelete(candidate.ModelDirectory);
    }

    public void Dispose() => DropAccumulator();

    private TensorStreaming.Source CurrentSource(TensorJob job, CancellationToken ct)
    {
        if (_accumulator is null) return TensorStreaming.Of(job.Inputs[_first], ct);
        if (!_accumulator.TryGetTensor(job.OutputName, out var info, out var file))
            throw new InvalidOperationException($"the soup accumulator has no tensor '{job.OutputName}'");
        return new(file, info);
    }

    private void DropAccumulator()
    {
        _accumulator?.Dispose();
        _accumulator = null;
        if (_accumulatorDirectory is not null) WorkDirectory.TryDelete(_accumulatorDirectory);
        _accumulatorDirectory = null;
    }
}
