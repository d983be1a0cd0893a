using System.Runtime.InteropServices;

namespace DotnetMerge.Cuda.Interop;

/// <summary>NVRTC, the runtime CUDA C++ compiler (libnvrtc.so.13/.12, nvrtc64_*.dll), resolved like <see cref="CudaDriver"/>.</summary>
internal static unsafe partial class Nvrtc
{
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcVersion(int* major, int* minor);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial byte* nvrtcGetErrorString(NvrtcResult result);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)]
    internal static partial NvrtcResult nvrtcCreateProgram(nint* program, byte* source, byte* name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcGetPTXSize(nint program, nuint* size);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcGetCUBINSize(nint program, nuint* size);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcGetCUBIN(nint program, byte* cubin);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcGetProgramLogSize(nint program, nuint* size);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(NativeLibraries.NvrtcLogicalName)] internal static partial NvrtcResult nvrtcDestroyProgram(nint* program);
}
