using DotnetMerge.Kernels;
using DotnetMerge.Models;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;
using DotnetMerge.Soups;

namespace DotnetMerge.Moe;

/// <summary>One tensor of a model as moe reads it, the way a merge reads its inputs: stored; replaced by the model's LoRA
/// adapter (a <c>modules_to_save</c> tensor); or the stored tensor with the adapter's delta applied. The input is what the
/// merge planner makes (<see cref="Adapters.LoraAdapter.Adapt"/>) and its bytes come through the merge's adapted-tensor
/// read path (<see cref="TensorStreaming.Of"/>, <see cref="Adapters.AdaptedTensor.Apply"/>).</summary>
internal sealed class MoeTensor
{
    private byte[]? _whole;

    private MoeTensor(JobInput input) => Input = input;

    /// <summary>The input (its <see cref="JobInput.Tensor"/> is what is read: the adapter's for a replaced tensor).</summary>
    public JobInput Input { get; }

    public TensorInfo Info => Input.Tensor;

    /// <summary>The tensor <paramref name="name"/> of <paramref name="model"/>, with the model's adapter applied, or null when
    /// the model has no such stored tensor.</summary>
    public static MoeTensor? Find(ModelSource model, string name)
    {
        if (!model.TryGetTensor(name, out var info, out var file) || file is null) return null;
        var input = new JobInput(model, name, info, file, false, ParameterBag.Empty, null);
        return new MoeTensor(model.Adapter?.Adapt(input) ?? input);
    }

    /// <summary>The whole tensor's bytes, in its dtype (an adapted tensor computed now).</summary>
    public byte[] ReadAll(CancellationToken ct = default) => _whole ?? TensorStreaming.ReadAll(TensorStreaming.Of(Input, ct));

    /// <summary>Bytes [offset, offset + destination.Length) of the tensor: read where they are stored, or (adapted) sliced
    /// from the tensor computed once and kept for the next rows.</summary>
    public void ReadRange(long offset, Span<byte> destination)
    {
        if (Input.File is { } file)
        {
            file.ReadTensorRange(Input.Tensor, offset, destination);
            return;
        }
        _whole ??= ReadAll();
        _whole.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);
    }
}
