using System.Globalization;
using System.Runtime.InteropServices;
using DotnetMerge.Cuda.Compilation;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Runtime;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;

namespace DotnetMerge.Cuda.Backend;

/// <summary>Runs the jobs of the methods with kernels (<see cref="MergeKernelPlan.HasKernels"/>) on one CUDA device with plan-specialised kernels
/// (<see cref="MergeKernelPlan"/>), byte-identical to the CPU backend. The device's primary context is retained on the
/// first job; kernels are compiled once per plan shape (through the <see cref="KernelCompiler"/> caches) and kept loaded.
/// A job's inputs are copied in pieces through pinned staging buffers on two streams, so the upload of one piece overlaps
/// the kernel and the download of the previous one; the result is copied straight into the job's output buffer.</summary>
public sealed class CudaBackend : IMergeBackend
{
    /// <summary>Elements per upload/compute/download piece (fewer when the inputs are wide).</summary>
    public const long PieceElements = 1 << 22;
    private const long StagingBytesPerSlot = 256L << 20;

    private readonly Lock gate = new();
    private readonly Func<KernelCompiler> compilerFactory;
    private readonly Dictionary<string, CudaKernel> kernels = new(StringComparer.Ordinal);
    /// <summary>The plans <see cref="Supports"/> made, by job (reference identity; an entry goes with its job).</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<TensorJob, MergeKernelPlan> planned = new();
    private readonly List<DeviceBuffer?> inputBuffers = [];
    private CudaContext? context;
    private KernelCompiler? compiler;
    private CudaStream[]? streams;
    private DeviceBuffer? outputBuffer, partialBuffer, selectBuffer, coefficientBuffer, flagBuffer;
    private readonly PinnedHostBuffer?[] staging = new PinnedHostBuffer?[2];
    private bool failed, disposed;

    private CudaBackend(CudaDeviceInfo device, bool fallBackOnError, Func<KernelCompiler> compilerFactory)
    {
        Device = device;
        FallBackOnError = fallBackOnError;
        this.compilerFactory = compilerFactory;
        Name = string.Create(CultureInfo.InvariantCulture, $"cuda:{device.Ordinal} {device.Name} ({device.Architecture})");
    }

    /// <summary>A backend for device <paramref name="ordinal"/> of a supported probe. Cheap: the context is created, and the
    /// compiler loaded, on the first job. Throws <see cref="CudaUnavailableException"/> when the probe found no such device.</summary>
    public static CudaBackend Create(CudaProbeResult probe, int ordinal = 0, bool fallBackOnError = false, Func<KernelCompiler>? compilerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        if (!probe.IsSupported) throw new CudaUnavailableException(probe, "CUDA is not available");
        if ((uint)ordinal >= (uint)probe.Devices.Count)
            throw new CudaUnavailableException(probe, string.Create(CultureInfo.InvariantCulture,
                $"there is no CUDA device cuda:{ordinal} ({probe.Devices.Count} found)"));
        return new CudaBackend(probe.Devices[ordinal], fallBackOnError, compilerFactory ?? KernelCompiler.CreateDefault);
    }

    /// <summary>"cuda:0 NVIDIA H100 80GB HBM3 (sm_90)".</summary>
    public string Name { get; }

    public CudaDeviceInfo Device { get; }

    /// <summary>When true (device "auto"), a CUDA failure makes this job and every later one run on the CPU instead of
    /// failing the merge; <see cref="FallbackReason"/> says why.</summary>
    public bool FallBackOnError { get; }

    /// <summary>Why the backend stopped taking jobs (after a CUDA failure with <see cref="FallBackOnError"/>), else null.</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>Jobs computed on the device, and their input + output bytes.</summary>
    public int JobsRun { get; private set; }
    public long BytesMoved { get; private set; }

    /// <summary>The kernel compiler in use (null until the first job).</summary>
    public KernelCompiler? Compiler => compiler;

    public bool Supports(MergePlan plan, TensorJob job)
    {
        if (failed || disposed) return false;
        if (MergeKernelPlan.TryCreate(plan, job, out _) is not { } kernels) return false;
        // The whole tensor of every input and the output live on the device during the job (with DELLA's keep flags).
        if (job.InputBytes + job.OutputBytes + kernels.FlagBytes > Device.TotalMemoryBytes / 10 * 7) return false;
        // Merge takes this plan instead of emitting the job's kernel sources again.
        planned.AddOrUpdate(job, kernels);
        return true;
    }

    public void Merge(MergePlan plan, TensorJob job, TensorMergeContext context)
    {
        // The plan Supports made for this job (the executor asks just before, with the context built from the same job);
        // a caller that did not ask gets one made from the context.
        MergeKernelPlan kernelPlan = planned.TryGetValue(job, out MergeKernelPlan? made) && planned.Remove(job) ? made
            : MergeKernelPlan.TryCreate(plan.Implementation, context, out string reason)
                ?? throw new NotSupportedException($"the CUDA backend cannot run tensor '{context.OutputName}': {reason}");
        try
        {
            Run(kernelPlan, context);
        }
        catch (Exception e) when (FallBackOnError && e is CudaException or NvrtcException or CudaUnavailableException or OutOfMemoryException)
        {
            failed = true;
            FallbackReason = $"{e.GetType().Name}: {e.Message}";
            plan.Implementation.Merge(context);
        }
        catch (Exception e) when (e is CudaException or NvrtcException or CudaUnavailableException)
        {
            throw new MergeException(MergeErrorKind.Device, ErrorIds.DeviceFailed, $"{Name} failed on tensor '{context.OutputName}': {e.Message}", e);
        }
    }

    /// <summary>Computes one job on the device (no fallback): the entry point the tests use.</summary>
    public void Run(MergeKernelPlan plan, TensorMergeContext context)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            EnsureOpen();
            this.context!.MakeCurrent(); // jobs arrive on whatever thread the executor's compute stage runs on
            new JobRun(this, plan, context).Execute();
            JobsRun++;
            BytesMoved += context.Inputs.Sum(i => i.ElementCount * KernelEmitter.ElementSize(i.Dtype)) + context.Output.Length;
        }
    }

    private void EnsureOpen()
    {
        if (context is not null) return;
        context = CudaContext.Open(Device.Ordinal);
        compiler = compilerFactory();
        streams = [context.CreateStream(), context.CreateStream()];
    }

    private CudaKernel Kernel(EmittedKernel emitted)
    {
        if (!kernels.TryGetValue(emitted.EntryPoint, out CudaKernel? kernel))
        {
            kernel = context!.LoadKernel(compiler!, emitted);
            kernels.Add(emitted.EntryPoint, kernel);
        }
        return kernel;
    }

    private DeviceBuffer Grow(ref DeviceBuffer? buffer, long bytes)
    {
        bytes = Math.Max(bytes, 256);
        if (buffer is null || buffer.Bytes < bytes)
        {
            buffer?.Dispose();
            buffer = null;
            buffer = context!.Allocate(bytes);
        }
        return buffer;
    }

    private DeviceBuffer InputBuffer(int index, long bytes)
    {
        while (inputBuffers.Count <= index) inputBuffers.Add(null);
        DeviceBuffer? buffer = inputBuffers[index];
        DeviceBuffer result = Grow(ref buffer, bytes);
        inputBuffers[index] = result;
        return result;
    }

    private PinnedHostBuffer Staging(int slot, long bytes)
    {
        ref PinnedHostBuffer? buffer = ref staging[slot];
        if (buffer is null || buffer.Bytes < bytes)
        {
            buffer?.Dispose();
            buffer = null;
            buffer = context!.AllocatePinned(Math.Max(bytes, 1 << 20));
        }
        return buffer;
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            if (context is null) return;
            try
            {
                context.MakeCurrent();
                foreach (CudaStream s in streams ?? []) s.Synchronize();
            }
            catch (CudaException) { } // tearing down after a device error: release what we can
            foreach (CudaKernel k in kernels.Values) k.Dispose();
            foreach (DeviceBuffer? b in inputBuffers) b?.Dispose();
            outputBuffer?.Dispose();
            partialBuffer?.Dispose();
            selectBuffer?.Dispose();
            coefficientBuffer?.Dispose();
            flagBuffer?.Dispose();
            foreach (PinnedHostBuffer? b in staging) b?.Dispose();
            foreach (CudaStream s in streams ?? []) s.Dispose();
            context.Dispose();
        }
    }

    /// <summary>One job: device buffers hold the whole tensors; pieces go through the two staging slots, piece k on
    /// stream k mod 2.</summary>
    private sealed class JobRun(CudaBackend backend, MergeKernelPlan plan, TensorMergeContext context)
    {
        private readonly long count = context.OutputElementCount;
        private readonly int[] inputSizes = plan.InputDtypes.Select(KernelEmitter.ElementSize).ToArray();
        private readonly int outputSize = KernelEmitter.ElementSize(plan.OutputDtype);
        private DeviceBuffer[] inputs = [];
        private DeviceBuffer output = null!;
        private long piece;

        public void Execute()
        {
            if (count == 0) return;
            inputs = inputSizes.Select((size, i) => backend.InputBuffer(i, count * size)).ToArray();
            output = backend.Grow(ref backend.outputBuffer, count * outputSize);
            long bytesPerElement = inputSizes.Sum() + outputSize;
            piece = Math.Clamp(StagingBytesPerSlot / bytesPerElement, 1, PieceElements);
            long pieces = (count + piece - 1) / piece;
            CudaKernel map = backend.Kernel(plan.Map);
            // The passes that need the whole tensor (magnitude selection, L1 norms) run once every piece is uploaded.
            if (plan.Norms is null && plan.Select is null && plan.Gram is null && plan.DellaKeep is null)
            {
                Pipeline(pieces, upload: true, map, scales: null, masks: plan.IsMagnitude ? plan.MasksFrom([]) : null);
                return;
            }
            Pipeline(pieces, upload: true, map: null, scales: null, masks: null);
            if (plan.HasHostRows)
            {
                if (plan.HostRowValues(context) is not { } rows)
                {
                    MergeKernelPlan.RunOnCpu(context);
                    return;
                }
                DeviceBuffer buffer = backend.Grow(ref backend.coefficientBuffer, rows.Length * sizeof(double));
                backend.streams![0].CopyToDevice(buffer, 0, MemoryMarshal.AsBytes(rows.AsSpan()));
                backend.streams[0].Synchronize();
            }
            MagnitudeMasks? masks = null;
            if (plan.Select is { } select)
            {
                CudaKernel kernel = backend.Kernel(select);
                SelectPassRunner run = (arguments, words) => SelectPass(kernel, arguments, words);
                masks = plan.MasksFrom(MagnitudeSelection.Select(select, count, plan.SelectQueriesFor(count, run), run));
            }
            else if (plan.IsMagnitude)
            {
                masks = plan.MasksFrom([]);
            }
            if (plan.DellaKeep is { } keep) DellaFlags(backend.Kernel(keep));
            double[]? scales = plan.Norms is not null ? ReduceNorms(backend.Kernel(plan.Norms), masks) : null;
            double[]? coefficients = plan.Gram is not null ? ReduceGram(backend.Kernel(plan.Gram)) : null;
            Pipeline(pieces, upload: false, map, scales, masks, coefficients);
        }

        /// <summary>DELLA's keep flags of every input and element, into the flag buffer the norms and the map read.</summary>
        private void DellaFlags(CudaKernel keep)
        {
            DeviceBuffer flags = backend.Grow(ref backend.flagBuffer, plan.FlagBytes);
            KernelArguments arguments = keep.Kernel.CreateArguments();
            for (int i = 0; i < inputs.Length; i++) arguments.Set("in", i, inputs[i].DevicePointer);
            arguments.Set("flags", flags.DevicePointer);
            plan.SetDellaKeepArguments(arguments);
            CudaStream stream = backend.streams![0];
            stream.Launch(keep.Function, (uint)Math.Clamp(plan.DellaRows, 1, 65535), (uint)keep.Kernel.BlockSize, arguments);
            stream.Synchronize();
        }

        /// <summary>One launch of the magnitude select kernel over the whole tensor, into a zeroed result buffer.</summary>
        private ulong[] SelectPass(CudaKernel select, KernelArguments arguments, long words)
        {
            DeviceBuffer result = backend.Grow(ref backend.selectBuffer, words * sizeof(ulong));
            CudaStream stream = backend.streams![0];
            stream.ZeroAsync(result, 0, words * sizeof(ulong));
            for (int i = 0; i < inputs.Length; i++) arguments.Set("in", i, inputs[i].DevicePointer);
            arguments.Set("result", result.DevicePointer);
            plan.SetSelectArguments(arguments);
            if (plan.HasRowCoefficients) arguments.Set("row_coefficients", backend.coefficientBuffer!.DevicePointer);
            bool locate = BitConverter.ToUInt32(arguments.Bytes.Slice(arguments.OffsetOf("pass"), 4)) == 3;
            uint grid = locate ? 1 : CudaKernel.GridFor(count, select.Kernel.BlockSize, backend.Device.MultiprocessorCount);
            stream.Launch(select.Function, grid, (uint)select.Kernel.BlockSize, arguments);
            var values = new ulong[words];
            stream.CopyToHost(MemoryMarshal.AsBytes(values.AsSpan()), result, 0);
            return values;
        }

        /// <summary>Uploads and/or computes + downloads every piece; piece k's staging slot is reused by piece k + 2 only
        /// after stream k mod 2 has finished piece k (whose output is then copied out).</summary>
        private void Pipeline(long pieces, bool upload, CudaKernel? map, double[]? scales, MagnitudeMasks? masks, double[]? coefficients = null)
        {
            CudaStream[] streams = backend.streams!;
            for (long k = 0; k < pieces; k++)
            {
                int slot = (int)(k & 1);
                CudaStream stream = streams[slot];
                if (k >= 2)
                {
                    stream.Synchronize();
                    if (map is not null) CopyOut(k - 2, slot);
                }
                (long start, long length) = Piece(k);
                PinnedHostBuffer stagingBuffer = backend.Staging(slot, piece * (inputSizes.Sum() + outputSize));
                if (upload)
                {
                    long offset = 0;
                    for (int i = 0; i < inputs.Length; i++)
                    {
                        long bytes = length * inputSizes[i];
                        context.Inputs[i].Data.Span.Slice(checked((int)(start * inputSizes[i])), checked((int)bytes))
                            .CopyTo(stagingBuffer.Span.Slice(checked((int)offset), checked((int)bytes)));
                        stream.CopyToDeviceAsync(inputs[i], start * inputSizes[i], stagingBuffer, offset, bytes);
                        offset += bytes;
                    }
                }
                if (map is null) continue;
                KernelArguments arguments = map.Kernel.CreateArguments();
                for (int i = 0; i < inputs.Length; i++) arguments.Set("in", i, inputs[i].DevicePointer + (ulong)(start * inputSizes[i]));
                arguments.Set("out", output.DevicePointer + (ulong)(start * outputSize));
                plan.SetMapArguments(arguments, start, length, scales, masks, coefficients);
                if (plan.HasRowCoefficients) arguments.Set("row_coefficients", backend.coefficientBuffer!.DevicePointer);
                if (plan.DellaKeep is not null) arguments.Set("flags", backend.flagBuffer!.DevicePointer);
                stream.Launch(map.Function, CudaKernel.GridFor(length, map.Kernel.BlockSize, backend.Device.MultiprocessorCount),
                    (uint)map.Kernel.BlockSize, arguments);
                stream.CopyToHostAsync(stagingBuffer, OutputOffset(), output, start * outputSize, length * outputSize);
            }
            for (long k = Math.Max(0, pieces - 2); k < pieces; k++)
            {
                streams[k & 1].Synchronize();
                if (map is not null) CopyOut(k, (int)(k & 1));
            }
        }

        private double[] ReduceNorms(CudaKernel norms, MagnitudeMasks? masks)
        {
            long chunks = (count + plan.NormChunkElements - 1) / plan.NormChunkElements;
            long bytes = chunks * plan.NormAccumulators * sizeof(double);
            DeviceBuffer partial = backend.Grow(ref backend.partialBuffer, bytes);
            KernelArguments arguments = norms.Kernel.CreateArguments();
            for (int i = 0; i < inputs.Length; i++) arguments.Set("in", i, inputs[i].DevicePointer);
            arguments.Set("partial", partial.DevicePointer);
            plan.SetNormArguments(arguments, count, masks);
            if (plan.DellaKeep is not null) arguments.Set("flags", backend.flagBuffer!.DevicePointer);
            CudaStream stream = backend.streams![0];
            stream.Launch(norms.Function, (uint)Math.Min(chunks, 65535), (uint)norms.Kernel.BlockSize, arguments);
            var sums = new double[chunks * plan.NormAccumulators];
            stream.CopyToHost(MemoryMarshal.AsBytes(sums.AsSpan()), partial, 0);
            return plan.ScalesFromNorms(sums);
        }

        /// <summary>The Gram matrix of the geometric methods: per-span sums on the device, added in span order here.</summary>
        private double[] ReduceGram(CudaKernel gram)
        {
            long spans = (count + plan.GramSpan - 1) / plan.GramSpan;
            DeviceBuffer partial = backend.Grow(ref backend.partialBuffer, spans * plan.GramPairs * sizeof(double));
            KernelArguments arguments = gram.Kernel.CreateArguments();
            for (int i = 0; i < inputs.Length; i++) arguments.Set("in", i, inputs[i].DevicePointer);
            arguments.Set("partial", partial.DevicePointer);
            plan.SetGramArguments(arguments, count);
            CudaStream stream = backend.streams![0];
            stream.Launch(gram.Function, (uint)Math.Min(spans, 65535), (uint)gram.Kernel.BlockSize, arguments);
            var sums = new double[spans * plan.GramPairs];
            stream.CopyToHost(MemoryMarshal.AsBytes(sums.AsSpan()), partial, 0);
            double[] coefficients = plan.CoefficientsFromGram(sums);
            if (plan.HasRowCoefficients)
            {
                DeviceBuffer rows = backend.Grow(ref backend.coefficientBuffer, coefficients.Length * sizeof(double));
                stream.CopyToDevice(rows, 0, MemoryMarshal.AsBytes(coefficients.AsSpan()));
                stream.Synchronize();
            }
            return coefficients;
        }

        private (long Start, long Length) Piece(long k) => (k * piece, Math.Min(piece, count - k * piece));

        private long OutputOffset() => piece * inputSizes.Sum();

        private void CopyOut(long k, int slot)
        {
            (long start, long length) = Piece(k);
            backend.staging[slot]!.Span.Slice(checked((int)OutputOffset()), checked((int)(length * outputSize)))
                .CopyTo(context.Output.Span.Slice(checked((int)(start * outputSize))));
        }
    }
}
