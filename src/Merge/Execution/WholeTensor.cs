using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Planning;

namespace DotnetMerge.Execution;

/// <summary>The reader of <c>analyze</c>, which holds a job's inputs whole in managed memory.</summary>
internal static class WholeTensor
{
    /// <summary>One planned input, whole, as the merge sees it (a stored tensor read, an adapted, aligned or earlier
    /// stage's tensor computed), cropped to the job's shape.</summary>
    internal static MergeInput Load(JobInput ji, CancellationToken ct = default)
    {
        if (ji.ByteLength > Array.MaxLength)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor,
                $"model '{ji.Model.Name}': tensor '{ji.TensorName}' has {ji.ByteLength} bytes; analyze holds one tensor in memory and supports tensors up to {Array.MaxLength} bytes");
        var bytes = GC.AllocateUninitializedArray<byte>((int)ji.ByteLength);
        if (ji.File is { } file) file.ReadTensor(ji.Tensor, bytes);
        else
        {
            // An earlier stage's output (a fused multi-stage merge): computed the way the executor computes it.
            using var buffer = new NativeBuffer(ji.ByteLength);
            StageTensors.Compute(ji, buffer.Memory, length => new NativeBuffer(length), b => ((IDisposable)b).Dispose(),
                new ExecutionSettings(Environment.ProcessorCount), CpuBackend.Instance, ct);
            buffer.Memory.Span.CopyTo(bytes);
        }
        var input = new MergeInput(ji.Model.Name, ji.TensorName, ji.Tensor.Dtype, ji.Tensor.Shape, bytes, ji.IsBase, ji.Parameters)
        {
            MagnitudeThreshold = ji.MagnitudeThreshold,
        };
        return ji.CropShape is null ? input : input.CropTo(ji.CropShape);
    }
}
