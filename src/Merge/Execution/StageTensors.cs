using DotnetMerge.Kernels;
using DotnetMerge.Planning;

namespace DotnetMerge.Execution;

/// <summary>Computed inputs, made in the read stage. A LoRA-adapted tensor (<see cref="JobInput.Adaptation"/>) is the base
/// tensor with the adapter's delta applied (<see cref="Adapters.AdaptedTensor"/>). On the input side of a fused
/// multi-stage merge, an input tensor that is an earlier stage's output is computed
/// when a later stage needs it, by that stage's job of the same name (its own inputs read, or computed the same way,
/// merged, freed), so no intermediate model is written and memory stays bounded per tensor. The bytes are those the
/// stage would have written: the same job, the same parameters, the same seed, the same code.</summary>
internal static class StageTensors
{
    /// <summary>Fills <paramref name="destination"/> (exactly the tensor's bytes) with <paramref name="input"/>: an adapted
    /// tensor, or an output tensor of the stage <c>input.Model.Stage</c>. Buffers for that job's inputs come from <paramref name="rent"/>
    /// and go back through <paramref name="giveBack"/>; the caller has reserved their bytes
    /// (<see cref="JobInput.UpstreamWorkingBytes"/>).</summary>
    public static void Compute(JobInput input, Memory<byte> destination, Func<long, NativeBuffer> rent, Action<NativeBuffer> giveBack,
        ExecutionSettings settings, IMergeBackend backend, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (input.Gather is { } gather)
        {
            // An embedding aligned to the output vocabulary: rows gathered from the stored (or computed) tensor.
            gather.Gather.Fill(gather.Model, destination, (raw, memory) => Read(raw, memory, rent, giveBack, settings, backend, ct),
                rent, giveBack, settings, ct);
            return;
        }
        if (input.Adaptation is { } adaptation)
        {
            // A LoRA-adapted tensor: the base tensor read into the destination and the delta applied in place.
            adaptation.Apply(destination, settings, ct);
            return;
        }
        var stage = input.Model.Stage ?? throw new InvalidOperationException($"'{input.Model.Name}' is not a stage's output");
        var plan = stage.Plan;
        var job = stage.Job(input.TensorName);
        if (destination.Length != job.OutputBytes)
            throw new InvalidOperationException($"stage '{stage}' tensor '{job.OutputName}': {job.OutputBytes} bytes planned, {destination.Length} requested");
        if (job.Kind == JobKind.Copy)
        {
            Read(job.Inputs[0], destination, rent, giveBack, settings, backend, ct);
            return;
        }

        var buffers = new NativeBuffer?[job.Inputs.Count];
        var mapped = new MappedTensor?[job.Inputs.Count];
        try
        {
            for (int i = 0; i < buffers.Length; i++)
            {
                var ji = job.Inputs[i];
                if (ji.File is not null && (mapped[i] = MappedTensor.TryMap(ji.File, ji.Tensor)) is not null) continue;
                buffers[i] = rent(ji.ByteLength);
                Read(ji, buffers[i]!.Memory, rent, giveBack, settings, backend, ct);
            }
            MergeExecutor.MergeInto(plan, job, i => mapped[i] is { } m ? m.Memory : buffers[i]!.Memory, destination, settings, backend);
        }
        finally
        {
            foreach (var b in buffers) if (b is not null) giveBack(b);
            foreach (var m in mapped) ((IDisposable?)m)?.Dispose();
        }
    }

    /// <summary>The bytes of one input: read from its file, or computed by its stage.</summary>
    private static void Read(JobInput input, Memory<byte> destination, Func<long, NativeBuffer> rent, Action<NativeBuffer> giveBack,
        ExecutionSettings settings, IMergeBackend backend, CancellationToken ct)
    {
        if (input.File is { } file) file.ReadTensor(input.Tensor, destination.Span);
        else Compute(input, destination, rent, giveBack, settings, backend, ct);
    }
}
