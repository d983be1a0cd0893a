using DotnetMerge.Cuda.Compilation;
using DotnetMerge.Cuda.Interop;
using DotnetMerge.Cuda.Runtime;
using Xunit.Abstractions;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The probe and the bindings on a machine without CUDA (this one, and CI): never a throw from probing,
/// a human reason, a trace of every library tried; on a CUDA machine the same tests check the positive answer.</summary>
public sealed class ProbeTests(ITestOutputHelper output)
{
    [Fact]
    public void Probe_answers_without_throwing_and_traces_libcuda()
    {
        CudaProbeResult probe = CudaProbe.Run();
        output.WriteLine(probe.Describe());
        Assert.NotEmpty(probe.Trace);
        Assert.Contains(probe.Trace, line => line.Contains("libcuda", StringComparison.Ordinal));
        if (probe.IsSupported)
        {
            Assert.Null(probe.NotSupportedReason);
            Assert.NotEmpty(probe.Devices);
            Assert.NotNull(probe.NvrtcVersion);
            return;
        }
        Assert.False(string.IsNullOrWhiteSpace(probe.NotSupportedReason));
        Assert.Contains("not supported", probe.Describe());
        // every candidate name was tried and its outcome written down
        if (probe.DriverVersion is null && !OperatingSystem.IsWindows())
        {
            Assert.Contains(probe.Trace, line => line.Contains("'libcuda.so.1'", StringComparison.Ordinal));
            Assert.Contains(probe.Trace, line => line.Contains("'libcuda.so'", StringComparison.Ordinal));
            Assert.Contains("libcuda.so.1", probe.NotSupportedReason);
        }
    }

    [SkippableFact]
    public void Environment_override_is_tried_first_and_reported()
    {
        Skip.If(OperatingSystem.IsWindows(), "the non-library file below is checked against dlopen's message");
        CudaProbeResult before = CudaProbe.Run();
        Skip.If(before.DriverVersion is not null, "a driver is already loaded in this process");
        string missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "libcuda.so.1");
        string notALibrary = Path.GetTempFileName();
        string? saved = Environment.GetEnvironmentVariable("DOTNET_MERGE_LIBCUDA");
        try
        {
            Environment.SetEnvironmentVariable("DOTNET_MERGE_LIBCUDA", missing);
            CudaProbeResult probe = CudaProbe.Run();
            Assert.False(probe.IsSupported);
            int overrideLine = probe.Trace.ToList().FindIndex(l => l.Contains(missing, StringComparison.Ordinal));
            int versionedLine = probe.Trace.ToList().FindIndex(l => l.Contains("'libcuda.so.1'", StringComparison.Ordinal));
            Assert.True(overrideLine >= 0 && overrideLine < versionedLine, string.Join("\n", probe.Trace));
            Assert.Contains("no such file", probe.Trace[overrideLine]);

            File.WriteAllText(notALibrary, "not an ELF file");
            Environment.SetEnvironmentVariable("DOTNET_MERGE_LIBCUDA", notALibrary);
            probe = CudaProbe.Run();
            string line = Assert.Single(probe.Trace, l => l.Contains(notALibrary, StringComparison.Ordinal));
            Assert.DoesNotContain("loaded", line.Replace(notALibrary, "", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable("DOTNET_MERGE_LIBCUDA", saved);
            File.Delete(notALibrary);
        }
    }

    [Fact]
    public void Probe_can_run_repeatedly()
    {
        CudaProbeResult first = CudaProbe.Run(), second = CudaProbe.Run();
        Assert.Equal(first.IsSupported, second.IsSupported);
        Assert.Equal(first.NotSupportedReason, second.NotSupportedReason);
    }

    [Fact]
    public void Candidates_follow_the_documented_order_on_linux()
    {
        var env = new Dictionary<string, string?>
        {
            ["DOTNET_MERGE_LIBNVRTC"] = "/opt/my/libnvrtc.so.12.4",
            ["CUDA_HOME"] = "/usr/local/cuda",
            ["CUDA_PATH"] = "/opt/cuda",
        };
        IReadOnlyList<string> nvrtc = NativeLibraries.Candidates(CudaLibrary.Nvrtc, env.GetValueOrDefault, windows: false);
        Assert.Equal(
        [
            "/opt/my/libnvrtc.so.12.4", "libnvrtc.so.13", "libnvrtc.so.12",
            Path.Combine("/usr/local/cuda", "lib64", "libnvrtc.so.13"), Path.Combine("/usr/local/cuda", "lib64", "libnvrtc.so.12"),
            Path.Combine("/usr/local/cuda", "lib64", "libnvrtc.so"),
            Path.Combine("/opt/cuda", "lib64", "libnvrtc.so.13"), Path.Combine("/opt/cuda", "lib64", "libnvrtc.so.12"),
            Path.Combine("/opt/cuda", "lib64", "libnvrtc.so"),
            "libnvrtc.so",
        ], nvrtc);

        IReadOnlyList<string> driver = NativeLibraries.Candidates(CudaLibrary.Driver, _ => null, windows: false);
        Assert.Equal(["libcuda.so.1", "libcuda.so"], driver);
    }

    [Fact]
    public void Candidates_on_windows_use_the_dll_names()
    {
        Assert.Equal(["nvcuda.dll"], NativeLibraries.Candidates(CudaLibrary.Driver, _ => null, windows: true));
        IReadOnlyList<string> nvrtc = NativeLibraries.Candidates(CudaLibrary.Nvrtc, name => name == "CUDA_PATH" ? @"C:\CUDA" : null, windows: true);
        Assert.Equal("nvrtc64_130_0.dll", nvrtc[0]);
        Assert.Equal("nvrtc64_120_0.dll", nvrtc[1]);
        Assert.Contains(Path.Combine(@"C:\CUDA", "bin", "x64", "nvrtc64_130_0.dll"), nvrtc);
    }

    [SkippableFact]
    public void Operations_that_need_cuda_fail_with_the_probes_reason()
    {
        CudaProbeResult probe = CudaProbe.Run();
        Skip.If(probe.IsSupported, "CUDA is available here");
        var open = Assert.Throws<CudaUnavailableException>(() => CudaContext.Open());
        Assert.Contains(probe.NotSupportedReason!, open.Message);
        Assert.NotEmpty(open.Probe.Trace);
        if (probe.NvrtcVersion is null)
            Assert.Throws<CudaUnavailableException>(KernelCompiler.CreateDefault);
    }

    [Fact]
    public void Cuda_errors_are_named_even_without_a_driver()
    {
        var error = new CudaException(CudaResult.OutOfMemory, "cuMemAlloc_v2(&p, 1)");
        Assert.StartsWith("cuMemAlloc_v2(&p, 1) failed: CUDA_ERROR_", error.Message);
        Assert.Equal(CudaResult.OutOfMemory, error.Result);
        var compilation = new NvrtcCompilationException("k.cu", "k.cu(3): error: expected a ';'", "source text", ["--std=c++17"]);
        Assert.Contains("expected a ';'", compilation.Message);
        Assert.Equal("source text", compilation.KernelSource);
    }
}
