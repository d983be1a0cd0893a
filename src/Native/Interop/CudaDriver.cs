using System.Runtime.InteropServices;

namespace DotnetMerge.Cuda.Interop;

/// <summary>The CUDA driver API (libcuda.so.1 / nvcuda.dll). The library name is a logical one that
/// <see cref="NativeLibraries"/> resolves to the handle the probe loaded; nothing here is called before the probe
/// has loaded the library. Versioned exports (<c>_v2</c>) are the ones the CUDA 12/13 headers map to.</summary>
internal static unsafe partial class CudaDriver
{
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuInit(uint flags);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDriverGetVersion(int* version);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuGetErrorName(CudaResult error, byte** name);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuGetErrorString(CudaResult error, byte** text);

    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDeviceGetCount(int* count);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDeviceGet(int* device, int ordinal);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDeviceGetAttribute(int* value, CudaDeviceAttribute attribute, int device);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDeviceTotalMem_v2(nuint* bytes, int device);

    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuCtxSetCurrent(nint context);

    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuModuleLoadData(nint* module, void* image);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuModuleUnload(nint module);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuModuleGetFunction(nint* function, nint module, byte* name);
    [LibraryImport(NativeLibraries.CudaLogicalName)]
    internal static partial CudaResult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemoryBytes, nint stream, void** kernelParameters, void** extra);

    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuMemAlloc_v2(ulong* devicePointer, nuint bytes);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuMemFree_v2(ulong devicePointer);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuMemAllocHost_v2(void** hostPointer, nuint bytes);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuMemFreeHost(void* hostPointer);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);

    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuStreamDestroy_v2(nint stream);
    [LibraryImport(NativeLibraries.CudaLogicalName)] internal static partial CudaResult cuStreamSynchronize(nint stream);

    internal const uint StreamNonBlocking = 0x1;
}
