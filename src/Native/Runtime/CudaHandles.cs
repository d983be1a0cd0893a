using System.Runtime.InteropServices;
using DotnetMerge.Cuda.Interop;

namespace DotnetMerge.Cuda.Runtime;

// SafeHandles for every owned CUDA/NVRTC object. ReleaseHandle never throws and ignores the driver's answer:
// at that point there is nobody to report it to (TorchSharp's HType shape).

/// <summary>A retained primary context of one device (released with cuDevicePrimaryCtxRelease).</summary>
public sealed class CudaContextHandle : SafeHandle
{
    internal CudaContextHandle(nint context, int device) : base(0, true) { SetHandle(context); Device = device; }
    public int Device { get; }
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle() { CudaDriver.cuDevicePrimaryCtxRelease_v2(Device); return true; }
}

/// <summary>A loaded module (cuModuleUnload).</summary>
public sealed class CudaModuleHandle : SafeHandle
{
    internal CudaModuleHandle(nint module) : base(0, true) => SetHandle(module);
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle() { CudaDriver.cuModuleUnload(handle); return true; }
}

/// <summary>A device allocation (cuMemFree). <see cref="DevicePointer"/> is the CUdeviceptr.</summary>
public sealed class DeviceMemoryHandle : SafeHandle
{
    internal DeviceMemoryHandle(ulong pointer, long bytes) : base(0, true) { SetHandle((nint)pointer); Bytes = bytes; }
    public ulong DevicePointer => (ulong)handle;
    public long Bytes { get; }
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle() { CudaDriver.cuMemFree_v2((ulong)handle); return true; }
}

/// <summary>Page-locked host memory (cuMemFreeHost), the source/target of truly asynchronous copies.</summary>
public sealed unsafe class PinnedHostMemoryHandle : SafeHandle
{
    internal PinnedHostMemoryHandle(void* pointer, long bytes) : base(0, true) { SetHandle((nint)pointer); Bytes = bytes; }
    public long Bytes { get; }
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle() { CudaDriver.cuMemFreeHost((void*)handle); return true; }
}

/// <summary>A stream (cuStreamDestroy).</summary>
public sealed class CudaStreamHandle : SafeHandle
{
    internal CudaStreamHandle(nint stream) : base(0, true) => SetHandle(stream);
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle() { CudaDriver.cuStreamDestroy_v2(handle); return true; }
}

/// <summary>An NVRTC program (nvrtcDestroyProgram).</summary>
public sealed unsafe class NvrtcProgramHandle : SafeHandle
{
    internal NvrtcProgramHandle(nint program) : base(0, true) => SetHandle(program);
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle()
    {
        nint program = handle;
        Nvrtc.nvrtcDestroyProgram(&program);
        return true;
    }
}
