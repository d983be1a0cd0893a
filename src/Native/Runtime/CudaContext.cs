using System.Text;
using DotnetMerge.Cuda.Compilation;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Interop;

namespace DotnetMerge.Cuda.Runtime;

/// <summary>The primary context of one device, made current on the calling thread, and the factory of everything that
/// lives in it. Call <see cref="MakeCurrent"/> on any other thread before using objects of this context there.</summary>
public sealed class CudaContext : IDisposable
{
    private readonly CudaContextHandle handle;

    private CudaContext(CudaContextHandle handle, CudaDeviceInfo device)
    {
        this.handle = handle;
        Device = device;
    }

    public CudaDeviceInfo Device { get; }

    /// <summary>Retains device <paramref name="ordinal"/>'s primary context. Throws <see cref="CudaUnavailableException"/>
    /// (with the probe's reason and trace) when there is no driver or no such device.</summary>
    public static unsafe CudaContext Open(int ordinal = 0)
    {
        CudaProbeResult probe = CudaProbe.Run();
        if (probe.Devices.Count == 0) throw new CudaUnavailableException(probe, "cannot open a CUDA device");
        if ((uint)ordinal >= (uint)probe.Devices.Count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"there are {probe.Devices.Count} CUDA device(s)");
        int device;
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGet(&device, ordinal));
        nint context;
        CudaException.ThrowIfFailed(CudaDriver.cuDevicePrimaryCtxRetain(&context, device));
        var result = new CudaContext(new CudaContextHandle(context, device), probe.Devices[ordinal]);
        result.MakeCurrent();
        return result;
    }

    public void MakeCurrent() => CudaException.ThrowIfFailed(CudaDriver.cuCtxSetCurrent(handle.DangerousGetHandle()));

    /// <summary>Compiles (through <paramref name="compiler"/>'s cache) and loads an emitted kernel for this device.</summary>
    public CudaKernel LoadKernel(KernelCompiler compiler, EmittedKernel kernel)
    {
        KernelImage image = compiler.Compile(kernel.Source, kernel.ProgramName, Device.ComputeCapabilityMajor, Device.ComputeCapabilityMinor);
        CudaModule module = LoadModule(image);
        return new CudaKernel(module, module.GetFunction(kernel.EntryPoint), kernel);
    }

    public unsafe CudaModule LoadModule(KernelImage image)
    {
        nint module;
        fixed (byte* bytes = image.Bytes) CudaException.ThrowIfFailed(CudaDriver.cuModuleLoadData(&module, bytes));
        return new CudaModule(new CudaModuleHandle(module));
    }

    public unsafe DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        ulong pointer;
        CudaException.ThrowIfFailed(CudaDriver.cuMemAlloc_v2(&pointer, (nuint)bytes));
        return new DeviceBuffer(new DeviceMemoryHandle(pointer, bytes));
    }

    public unsafe PinnedHostBuffer AllocatePinned(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        void* pointer;
        CudaException.ThrowIfFailed(CudaDriver.cuMemAllocHost_v2(&pointer, (nuint)bytes));
        return new PinnedHostBuffer(new PinnedHostMemoryHandle(pointer, bytes));
    }

    public unsafe CudaStream CreateStream()
    {
        nint stream;
        CudaException.ThrowIfFailed(CudaDriver.cuStreamCreate(&stream, CudaDriver.StreamNonBlocking));
        return new CudaStream(new CudaStreamHandle(stream));
    }

    public void Dispose() => handle.Dispose();
}

/// <summary>A loaded module.</summary>
public sealed class CudaModule(CudaModuleHandle handle) : IDisposable
{
    public CudaModuleHandle Handle { get; } = handle;

    public unsafe CudaFunction GetFunction(string entryPoint)
    {
        byte[] name = Encoding.UTF8.GetBytes(entryPoint + "\0");
        nint function;
        fixed (byte* n = name) CudaException.ThrowIfFailed(CudaDriver.cuModuleGetFunction(&function, Handle.DangerousGetHandle(), n));
        return new CudaFunction(function, entryPoint);
    }

    public void Dispose() => Handle.Dispose();
}

/// <summary>A kernel function of a loaded module (valid while the module is loaded).</summary>
public readonly record struct CudaFunction(nint Handle, string EntryPoint);

/// <summary>An emitted kernel loaded on a device: its module, its function and its description.</summary>
public sealed class CudaKernel(CudaModule module, CudaFunction function, EmittedKernel kernel) : IDisposable
{
    public CudaModule Module { get; } = module;
    public CudaFunction Function { get; } = function;
    public EmittedKernel Kernel { get; } = kernel;

    /// <summary>A grid for <paramref name="elements"/> elements: enough blocks to cover them, at most 32 per SM
    /// (the kernels are grid-stride loops, so any grid gives the same result).</summary>
    public static uint GridFor(long elements, int blockSize, int multiprocessors)
        => (uint)Math.Clamp((elements + blockSize - 1) / blockSize, 1, Math.Max(1L, 32L * multiprocessors));

    public void Dispose() => Module.Dispose();
}

/// <summary>Device memory.</summary>
public sealed class DeviceBuffer(DeviceMemoryHandle handle) : IDisposable
{
    public DeviceMemoryHandle Handle { get; } = handle;
    public ulong DevicePointer => Handle.DevicePointer;
    public long Bytes => Handle.Bytes;
    public void Dispose() => Handle.Dispose();
}

/// <summary>Page-locked host memory: copies from/to it are truly asynchronous, so keep it alive (and unchanged) until the stream is synchronised.</summary>
public sealed unsafe class PinnedHostBuffer(PinnedHostMemoryHandle handle) : IDisposable
{
    public PinnedHostMemoryHandle Handle { get; } = handle;
    public long Bytes => Handle.Bytes;
    public Span<byte> Span => new((void*)Handle.DangerousGetHandle(), checked((int)Handle.Bytes));
    public void Dispose() => Handle.Dispose();
}

/// <summary>A stream: copies and launches run in order on it.</summary>
public sealed unsafe class CudaStream(CudaStreamHandle handle) : IDisposable
{
    public CudaStreamHandle Handle { get; } = handle;
    private nint Raw => Handle.DangerousGetHandle();

    /// <summary>Copies from pageable memory; the span may be reused as soon as this returns (the driver stages it).</summary>
    public void CopyToDevice(DeviceBuffer destination, long destinationOffset, ReadOnlySpan<byte> source)
    {
        CheckRange(destination.Bytes, destinationOffset, source.Length);
        fixed (byte* s = source)
            CudaException.ThrowIfFailed(CudaDriver.cuMemcpyHtoDAsync_v2(destination.DevicePointer + (ulong)destinationOffset, s, (nuint)source.Length, Raw));
    }

    /// <summary>Copies into pageable memory; returns once the data is there.</summary>
    public void CopyToHost(Span<byte> destination, DeviceBuffer source, long sourceOffset)
    {
        CheckRange(source.Bytes, sourceOffset, destination.Length);
        fixed (byte* d = destination)
            CudaException.ThrowIfFailed(CudaDriver.cuMemcpyDtoHAsync_v2(d, source.DevicePointer + (ulong)sourceOffset, (nuint)destination.Length, Raw));
        Synchronize();
    }

    /// <summary>Asynchronous copy from pinned memory: keep <paramref name="source"/> unchanged until the stream is synchronised.</summary>
    public void CopyToDeviceAsync(DeviceBuffer destination, long destinationOffset, PinnedHostBuffer source, long sourceOffset, long bytes)
    {
        CheckRange(destination.Bytes, destinationOffset, bytes);
        CheckRange(source.Bytes, sourceOffset, bytes);
        CudaException.ThrowIfFailed(CudaDriver.cuMemcpyHtoDAsync_v2(destination.DevicePointer + (ulong)destinationOffset,
            (byte*)source.Handle.DangerousGetHandle() + sourceOffset, (nuint)bytes, Raw));
    }

    /// <summary>Asynchronous copy to pinned memory: the data is there after <see cref="Synchronize"/>.</summary>
    public void CopyToHostAsync(PinnedHostBuffer destination, long destinationOffset, DeviceBuffer source, long sourceOffset, long bytes)
    {
        CheckRange(destination.Bytes, destinationOffset, bytes);
        CheckRange(source.Bytes, sourceOffset, bytes);
        CudaException.ThrowIfFailed(CudaDriver.cuMemcpyDtoHAsync_v2((byte*)destination.Handle.DangerousGetHandle() + destinationOffset,
            source.DevicePointer + (ulong)sourceOffset, (nuint)bytes, Raw));
    }

    /// <summary>Asynchronously sets <paramref name="bytes"/> bytes of <paramref name="destination"/> to zero.</summary>
    public void ZeroAsync(DeviceBuffer destination, long offset, long bytes)
    {
        CheckRange(destination.Bytes, offset, bytes);
        CudaException.ThrowIfFailed(CudaDriver.cuMemsetD8Async(destination.DevicePointer + (ulong)offset, 0, (nuint)bytes, Raw));
    }

    /// <summary>Launches <paramref name="function"/> with one by-value parameter block (the driver copies it at launch).</summary>
    public void Launch(CudaFunction function, uint gridX, uint blockX, KernelArguments arguments, uint sharedMemoryBytes = 0)
    {
        fixed (byte* block = arguments.Bytes)
        {
            void* parameter = block;
            CudaException.ThrowIfFailed(CudaDriver.cuLaunchKernel(function.Handle, gridX, 1, 1, blockX, 1, 1, sharedMemoryBytes, Raw, &parameter, null));
        }
    }


    public void Synchronize() => CudaException.ThrowIfFailed(CudaDriver.cuStreamSynchronize(Raw));

    public void Dispose() => Handle.Dispose();

    private static void CheckRange(long capacity, long offset, long bytes)
    {
        if (offset < 0 || bytes < 0 || offset + bytes > capacity)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + bytes}) is outside a buffer of {capacity} bytes");
    }
}
