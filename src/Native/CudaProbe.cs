using System.Globalization;
using System.Runtime.InteropServices;
using DotnetMerge.Cuda.Interop;

namespace DotnetMerge.Cuda;

/// <summary>One CUDA device as the driver describes it.</summary>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeCapabilityMajor, int ComputeCapabilityMinor,
    int MultiprocessorCount, long TotalMemoryBytes)
{
    /// <summary>"sm_90" style architecture name.</summary>
    public string Architecture => string.Create(CultureInfo.InvariantCulture, $"sm_{ComputeCapabilityMajor}{ComputeCapabilityMinor}");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"#{Ordinal} {Name} ({Architecture}, {MultiprocessorCount} SMs, {TotalMemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB)");
}

/// <summary>What <see cref="CudaProbe.Run"/> found. <see cref="IsSupported"/> means: the driver loaded and initialised,
/// there is at least one device, and NVRTC loaded (kernels can be compiled and launched).</summary>
public sealed record CudaProbeResult(
    bool IsSupported,
    string? NotSupportedReason,
    IReadOnlyList<string> Trace,
    int? DriverVersion,
    Version? NvrtcVersion,
    IReadOnlyList<CudaDeviceInfo> Devices)
{
    /// <summary>The driver's CUDA version as "12.4" (cuDriverGetVersion gives 1000*major + 10*minor).</summary>
    public string? DriverVersionText => DriverVersion is int v
        ? string.Create(CultureInfo.InvariantCulture, $"{v / 1000}.{v % 1000 / 10}") : null;

    /// <summary>A multi-line human report: verdict, versions, devices, then the trace.</summary>
    public string Describe()
    {
        var lines = new List<string>
        {
            IsSupported ? "CUDA: supported" : $"CUDA: not supported: {NotSupportedReason}",
            $"driver: {DriverVersionText ?? "none"}",
            $"nvrtc: {NvrtcVersion?.ToString() ?? "none"}",
        };
        lines.AddRange(Devices.Select(d => "device " + d));
        lines.AddRange(Trace.Select(t => "  " + t));
        return string.Join('\n', lines);
    }
}

/// <summary>Finds out whether CUDA kernels can run here. Never throws: every failure becomes a reason and a trace.</summary>
public static class CudaProbe
{
    public static CudaProbeResult Run()
    {
        var trace = new List<string>
        {
            $"os: {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})",
        };
        try
        {
            return RunCore(trace);
        }
        catch (Exception ex) // a missing entry point, a broken driver: still an answer, not a crash
        {
            trace.Add($"unexpected {ex.GetType().Name}: {ex.Message}");
            return new CudaProbeResult(false, $"probing CUDA failed: {ex.Message}", trace, null, null, []);
        }
    }

    private static unsafe CudaProbeResult RunCore(List<string> trace)
    {
        var devices = new List<CudaDeviceInfo>();
        if (NativeLibraries.TryLoad(CudaLibrary.Driver, trace) is null)
        {
            string name = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
            return NotSupported($"the NVIDIA driver library ({name}) was not found; install the NVIDIA driver, " +
                $"or point {NativeLibraries.LibcudaOverride} at the library", trace, null, null, devices);
        }

        CudaResult init = CudaDriver.cuInit(0);
        trace.Add($"cuInit: {CudaException.ErrorName(init)}");
        if (init != CudaResult.Success)
        {
            string reason = init switch
            {
                CudaResult.NoDevice => "the NVIDIA driver reports no CUDA-capable device",
                CudaResult.StubLibrary => "the loaded libcuda is the CUDA toolkit's stub library, not the driver's; " +
                    "install the NVIDIA driver or fix the library path",
                CudaResult.InsufficientDriver => "the installed NVIDIA driver is too old for this CUDA library",
                _ => $"cuInit failed: {CudaException.ErrorName(init)} ({CudaException.ErrorDescription(init)})",
            };
            return NotSupported(reason, trace, null, null, devices);
        }

        int driverVersion;
        CudaException.ThrowIfFailed(CudaDriver.cuDriverGetVersion(&driverVersion));
        trace.Add(string.Create(CultureInfo.InvariantCulture, $"driver version: {driverVersion}"));

        int count;
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetCount(&count));
        trace.Add(string.Create(CultureInfo.InvariantCulture, $"devices: {count}"));
        for (int ordinal = 0; ordinal < count; ordinal++)
            devices.Add(DescribeDevice(ordinal));

        Version? nvrtcVersion = null;
        if (NativeLibraries.TryLoad(CudaLibrary.Nvrtc, trace) is not null)
        {
            int major, minor;
            NvrtcResult r = Nvrtc.nvrtcVersion(&major, &minor);
            if (r == NvrtcResult.Success) nvrtcVersion = new Version(major, minor);
            trace.Add($"nvrtcVersion: {(nvrtcVersion?.ToString() ?? NvrtcException.Describe(r))}");
        }

        if (count == 0) return NotSupported("the NVIDIA driver reports no CUDA-capable device", trace, driverVersion, nvrtcVersion, devices);
        if (nvrtcVersion is null)
            return NotSupported("NVRTC (libnvrtc.so.12 or .13, nvrtc64_*.dll) was not found; install the CUDA toolkit " +
                $"or its NVRTC redistributable, or point {NativeLibraries.LibnvrtcOverride} at the library", trace, driverVersion, null, devices);
        return new CudaProbeResult(true, null, trace, driverVersion, nvrtcVersion, devices);
    }

    private static unsafe CudaDeviceInfo DescribeDevice(int ordinal)
    {
        int device;
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGet(&device, ordinal));
        byte* name = stackalloc byte[256];
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetName(name, 256, device));
        int major, minor, sms;
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetAttribute(&major, CudaDeviceAttribute.ComputeCapabilityMajor, device));
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetAttribute(&minor, CudaDeviceAttribute.ComputeCapabilityMinor, device));
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetAttribute(&sms, CudaDeviceAttribute.MultiprocessorCount, device));
        nuint bytes;
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceTotalMem_v2(&bytes, device));
        return new CudaDeviceInfo(ordinal, new string((sbyte*)name), major, minor, sms, (long)bytes);
    }

    private static CudaProbeResult NotSupported(string reason, List<string> trace, int? driver, Version? nvrtc, List<CudaDeviceInfo> devices)
        => new(false, reason, trace, driver, nvrtc, devices);
}
