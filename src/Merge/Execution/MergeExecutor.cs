using System.Threading.Channels;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Execution;

/// <summary>Runs a plan's tensor jobs as a three-stage pipeline: read the inputs of the next jobs (random-access reads into
/// aligned native buffers) while the current job is computed (in parallel over chunks) and the previous one is written
/// (streamed into its shard). A <see cref="MemoryBudget"/> bounds the bytes in flight, so peak memory depends on the
/// largest tensors, never on the model size.</summary>
public static class MergeExecutor
{
    private sealed class Loaded(TensorJob job, NativeBuffer[] inputs, MappedTensor?[] mapped, long inputBytes, long outputBytes)
    {
        public TensorJob Job { get; } = job;
        public NativeBuffer[] Inputs { get; } = inputs;
        /// <summary>Per input: its bytes mapped from the file (then <see cref="Inputs"/> holds null there), or null.</summary>
        public MappedTensor?[] Mapped { get; } = mapped;
        public ReadOnlyMemory<byte> Data(int i) => Mapped[i] is { } m ? m.Memory : Inputs[i].Memory;
        public long InputBytes { get; } = inputBytes;
        public long OutputBytes { get; } = outputBytes;
    }

    private sealed class Computed(TensorJob job, NativeBuffer output, long heldBytes, long bytesRead, string? warning = null)
    {
        public TensorJob Job { get; } = job;
        public NativeBuffer Output { get; } = output;
        public long HeldBytes { get; } = heldBytes;
        public long BytesRead { get; } = bytesRead;
        /// <summary>Reported when the tensor is written (in write order, so warnings come out deterministically).</summary>
        public string? Warning { get; } = warning;
    }

    /// <summary>Jobs read ahead of the one being computed. Their inputs are mapped (resident), so reading further ahead
    /// only raises the resident set.</summary>
    private const int ReadAhead = 4;

    /// <summary>Computed jobs that may wait for the writer: about one layer's tensors, so the small ones queued behind
    /// the write of a large one (the embeddings) do not stall computing. A deeper queue only holds more memory where the
    /// writer is the bottleneck.</summary>
    private const int WriteBehind = 8;

    /// <summary>Result figures of a run.</summary>
    public sealed record ExecutionStats(long BytesRead, long BytesWritten, long PeakBufferBytes, TimeSpan Elapsed);

    /// <summary>Writes every tensor of <paramref name="plan"/> as safetensors shards into <paramref name="directory"/>. With
    /// <paramref name="digests"/>, each shard is digested as it is written and <paramref name="shardWritten"/> gets its file
    /// name and digest once it is complete and synced (the bookkeeping of partitioned and resumable runs).</summary>
    public static async Task<ExecutionStats> ExecuteAsync(MergePlan plan, string directory, MergeOptions options, IMergeProgress progress, CancellationToken ct,
        Output.ShardDigests digests = Output.ShardDigests.None, Action<string, Output.FileDigest>? shardWritten = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var budget = new MemoryBudget(options.MaxMemoryBytes ?? MemoryBudget.DefaultCapacityFor(plan.LargestJobBytes));
        using var pool = new BufferPool(budget);
        var settings = new ExecutionSettings(Math.Max(1, options.Threads));
        var backend = options.Backend ?? CpuBackend.Instance;
        progress.Started(plan.Jobs.Count, plan.BytesToRead, plan.BytesToWrite);

        var toCompute = Channel.CreateBounded<Loaded>(new BoundedChannelOptions(ReadAhead) { SingleReader = true, SingleWriter = true });
        var toWrite = Channel.CreateBounded<Computed>(new BoundedChannelOptions(WriteBehind) { SingleReader = true, SingleWriter = true });
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var token = linked.Token;
        var faults = options.Faults;
        // The first stage to fail stops the others at once: they may be waiting on a full or empty channel, or on the
        // memory budget, and would otherwise wait forever. Its exception is the run's error.
        Exception? firstFailure = null;
        void Fail(Exception e)
        {
            if (e is not OperationCanceledException) Interlocked.CompareExchange(ref firstFailure, e, null);
            try { linked.Cancel(); } catch (AggregateException) { /* a callback's failure does not replace the stage's */ }
        }

        long read = 0, written = 0;
        var reader = Task.Run(async () =>
        {
            try
            {
                int index = 0;
                foreach (var job in plan.Jobs)
                {
                    long outputBytes = job.Kind == JobKind.Copy ? 0 : job.OutputBytes;
                    // Inputs that are an earlier stage's output are computed here, holding that stage's inputs meanwhile.
                    long upstreamBytes = job.UpstreamWorkingBytes;
                    await budget.AcquireAsync(job.InputBytes + outputBytes + upstreamBytes, token).ConfigureAwait(false);
                    NativeBuffer[] buffers;
                    MappedTensor?[] mapped;
                    try
                    {
                        faults?.At(FaultPoint.Read, index, token);
                        (buffers, mapped) = await ReadInputsAsync(job, pool, settings, backend, token).ConfigureAwait(false);
                        if (upstreamBytes > 0) budget.Release(upstreamBytes);
                        upstreamBytes = 0;
                    }
                    catch (Exception e)
                    {
                        budget.Release(job.InputBytes + outputBytes + upstreamBytes);
                        if (ReadError(job, e) is { } error) throw error;
                        throw;
                    }
                    index++;
                    await toCompute.Writer.WriteAsync(new Loaded(job, buffers, mapped, job.InputBytes, outputBytes), token).ConfigureAwait(false);
                }
                toCompute.Writer.Complete();
            }
            catch (Exception e)
            {
                toCompute.Writer.TryComplete(e);
                Fail(e);
                throw;
            }
        }, token);

        var computer = Task.Run(async () =>
        {
            try
            {
                int index = 0;
                await foreach (var loaded in toCompute.Reader.ReadAllAsync(token).ConfigureAwait(false))
                {
                    var computed = Compute(plan, loaded, index++, settings, budget, pool, backend, faults, token);
                    await toWrite.Writer.WriteAsync(computed, token).ConfigureAwait(false);
                }
                toWrite.Writer.Complete();
            }
            catch (Exception e)
            {
                toWrite.Writer.TryComplete(e);
                Fail(e);
                throw;
            }
        }, token);

        var writerTask = Task.Run(async () =>
        {
            try
            {
                await using var writer = new ShardedModelWriter(directory, plan.Jobs.Select(j => j.ToOutputTensor()).ToList(), options.MaxShardBytes)
                {
                    Digests = digests, ShardCompleted = shardWritten,
                };
                int index = 0;
                await foreach (var computed in toWrite.Reader.ReadAllAsync(token).ConfigureAwait(false))
                {
                    try
                    {
                        faults?.At(FaultPoint.Write, index++, token);
                        await writer.WriteTensorAsync(computed.Job.OutputName, computed.Output.Memory, token).ConfigureAwait(false);
                    }
                    finally
                    {
                        pool.Return(computed.Output);
                        budget.Release(computed.HeldBytes);
                    }
                    read += computed.BytesRead;
                    written += computed.Job.OutputBytes;
                    if (computed.Warning is not null) progress.Warning(computed.Warning);
                    progress.TensorWritten(computed.Job.OutputName, computed.BytesRead, computed.Job.OutputBytes);
                }
                await writer.CompleteAsync(token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                var error = Output.OutputErrors.From(e, directory) ?? e;
                Fail(error);
                if (error != e) throw error;
                throw;
            }
        }, token);

        try
        {
            await Task.WhenAll(reader, computer, writerTask).ConfigureAwait(false);
        }
        catch
        {
            linked.Cancel();
            // Drain whatever is still queued so native buffers are freed.
            try { await Task.WhenAll(reader, computer, writerTask).ConfigureAwait(false); } catch { /* reported below */ }
            while (toCompute.Reader.TryRead(out var l))
            {
                foreach (var b in l.Inputs) ((IDisposable?)b)?.Dispose();
                foreach (var m in l.Mapped) ((IDisposable?)m)?.Dispose();
            }
            while (toWrite.Reader.TryRead(out var c)) ((IDisposable)c.Output).Dispose();
            ct.ThrowIfCancellationRequested();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(firstFailure ?? FirstFailure(reader, computer, writerTask));
        }
        return new ExecutionStats(read, written, budget.Peak, started.Elapsed);
    }

    /// <summary>Reads the inputs of <paramref name="job"/>, all at once (several requests keep a disk, or the page cache
    /// copy, busy): a merge input is mapped from its file where it can be (only read, so no copy into private memory),
    /// else read into a buffer of <paramref name="pool"/>; a computed input (adapted, aligned, an earlier stage's) is
    /// computed into one. The caller has acquired the bytes (<see cref="TensorJob.InputBytes"/> and
    /// <see cref="TensorJob.UpstreamWorkingBytes"/>) from the pool's budget. Per input, either its buffer or its mapping
    /// is set. On failure every buffer and mapping is freed (after the reads that fill them have ended).</summary>
    internal static async Task<(NativeBuffer[] Buffers, MappedTensor?[] Mapped)> ReadInputsAsync(TensorJob job, BufferPool pool,
        ExecutionSettings settings, IMergeBackend backend, CancellationToken token)
    {
        var buffers = new NativeBuffer[job.Inputs.Count];
        var mapped = new MappedTensor?[buffers.Length];
        var reads = new Task?[buffers.Length];
        try
        {
            for (int i = 0; i < buffers.Length; i++)
            {
                var input = job.Inputs[i];
                if (input.File is null)
                {
                    buffers[i] = pool.Rent(input.ByteLength);
                    StageTensors.Compute(input, buffers[i].Memory, pool.Rent, pool.Return, settings, backend, token);
                    continue;
                }
                // A copied tensor's buffer becomes the output buffer, so it is read, not mapped.
                if (job.Kind != JobKind.Copy && (mapped[i] = MappedTensor.TryMap(input.File, input.Tensor)) is not null)
                    continue;
                buffers[i] = pool.Rent(input.ByteLength);
                reads[i] = input.File.ReadTensorAsync(input.Tensor, buffers[i].Memory, token).AsTask();
            }
            await Task.WhenAll(reads.OfType<Task>()).ConfigureAwait(false);
            return (buffers, mapped);
        }
        catch
        {
            // No buffer is freed while a read may still be filling it.
            foreach (var r in reads)
                if (r is not null) await r.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            foreach (var b in buffers) ((IDisposable?)b)?.Dispose();
            foreach (var m in mapped) ((IDisposable?)m)?.Dispose();
            throw;
        }
    }

    /// <summary>A failure to read an input tensor, as the input error it is (exit code 3, naming the file); null for
    /// anything else (cancellation, a bug).</summary>
    private static MergeException? ReadError(TensorJob job, Exception e)
    {
        if (e is MergeException or OperationCanceledException) return null;
        if (e is not (IOException or UnauthorizedAccessException or SafetensorsFormatException or CheckpointException)) return null;
        var files = string.Join(", ", job.Inputs.Where(i => i.File is not null).Select(i => $"'{i.StoredFile.Path}'").Distinct());
        return new MergeException(MergeErrorKind.Input, ErrorIds.InputReadFailed, $"cannot read the inputs of tensor '{job.OutputName}' from {files}: {e.Message}", e);
    }

    private static Exception FirstFailure(params Task[] tasks)
    {
        foreach (var t in tasks)
            if (t.Exception is { } agg)
            {
                var e = agg.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException) ?? agg.InnerException!;
                return e;
            }
        return new OperationCanceledException();
    }

    private static Computed Compute(MergePlan plan, Loaded loaded, int index, ExecutionSettings settings, MemoryBudget budget, BufferPool pool,
        IMergeBackend backend, IExecutionFaults? faults, CancellationToken ct)
    {
        var job = loaded.Job;
        try
        {
            ct.ThrowIfCancellationRequested();
            faults?.At(FaultPoint.Compute, index, ct);
        }
        catch
        {
            foreach (var b in loaded.Inputs) if (b is not null) pool.Return(b);
            foreach (var m in loaded.Mapped) ((IDisposable?)m)?.Dispose();
            budget.Release(loaded.InputBytes + loaded.OutputBytes);
            throw;
        }
        if (job.Kind == JobKind.Copy)
        {
            // The input buffer becomes the output buffer: no copy, and it stays charged to the budget until written.
            return new Computed(job, loaded.Inputs[0], loaded.InputBytes, job.BytesFromDisk);
        }

        var output = pool.Rent(job.OutputBytes);
        string? warning = null;
        try
        {
            warning = MergeInto(plan, job, loaded.Data, output.Memory, settings, backend);
        }
        catch
        {
            ((IDisposable)output).Dispose();
            throw;
        }
        finally
        {
            foreach (var b in loaded.Inputs) if (b is not null) pool.Return(b);
            foreach (var m in loaded.Mapped) ((IDisposable?)m)?.Dispose();
            budget.Release(loaded.InputBytes);
        }
        return new Computed(job, output, loaded.OutputBytes, job.BytesFromDisk, warning);
    }

    /// <summary>The inputs of <paramref name="job"/> as a method receives them: input i's bytes are <paramref name="data"/>(i),
    /// cropped to the job's shape, with the job's parameters (and a whole-model threshold where one was attached).</summary>
    internal static MergeInput[] InputsOf(TensorJob job, Func<int, ReadOnlyMemory<byte>> data)
    {
        var inputs = new MergeInput[job.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            var ji = job.Inputs[i];
            var input = new MergeInput(ji.Model.Name, ji.TensorName, ji.Tensor.Dtype, ji.Tensor.Shape, data(i), ji.IsBase, ji.Parameters)
            {
                MagnitudeThreshold = ji.MagnitudeThreshold,
            };
            inputs[i] = ji.CropShape is null ? input : input.CropTo(ji.CropShape);
        }
        return inputs;
    }

    /// <summary>Merges one job's input bytes (<paramref name="data"/>(i) for input i) into <paramref name="output"/>:
    /// on the backend when it supports the job, else on the CPU. Returns a warning when the output holds NaN/Inf that
    /// its inputs had too (<see cref="NonFiniteCheck"/>; from finite inputs that is an error).</summary>
    internal static string? MergeInto(MergePlan plan, TensorJob job, Func<int, ReadOnlyMemory<byte>> data, Memory<byte> output,
        ExecutionSettings settings, IMergeBackend backend)
    {
        // A tensor with no elements (a 0-row head, an empty buffer) has nothing to compute: its output is empty too.
        if (job.OutputBytes == 0) return null;
        var inputs = InputsOf(job, data);
        var context = new TensorMergeContext(job.OutputName, inputs, job.BaseIndex, job.Global, job.OutputShape, job.OutputDtype,
            output, plan.Seed, job.IsEmbedding, settings);
        try
        {
            (backend.Supports(plan, job) ? backend : CpuBackend.Instance).Merge(plan, job, context);
        }
        catch (Exception e) when (e is not OperationCanceledException and not MergeException)
        {
            // Anticipated conditions are MergeExceptions (exit code 3 and the like) or a tensor beyond what the
            // method supports; anything else is a bug, reported as one (exit code 1, the stack at -v diag).
            var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e;
            string what = $"{plan.Method.Name} failed on tensor '{job.OutputName}'";
            if (inner is NotSupportedException) throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor, $"{what}: {inner.Message}", inner);
            throw new TensorJobException($"{what}: {inner.GetType().Name}: {inner.Message}", inner);
        }
        return NonFiniteCheck.Check(plan.Method.Name, job, output.Span, inputs, settings);
    }
}
