using System.CommandLine;
using System.Globalization;
using DotnetMerge.Cuda;
using DotnetMerge.Cuda.Backend;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>--device auto|cpu|cuda[:N]</c>: where the merge math runs. <c>auto</c> (the default) uses CUDA device 0 when
/// the probe finds a working driver, device and NVRTC, and the CPU otherwise; <c>cuda</c>/<c>cuda:N</c> insist on the GPU
/// and fail with exit code 4 (and the probe's trace) when it is not there. Jobs the GPU has no kernel for run on the CPU.</summary>
public static class DeviceOption
{
    public const string Auto = "auto";

    public static Option<string> Create() => new("--device")
    {
        Description = "Where the math runs: auto (a CUDA GPU when one works, else the CPU), cpu, cuda or cuda:N. Default auto.",
        DefaultValueFactory = _ => Auto,
    };

    /// <summary>A parsed <c>--device</c> value: <see cref="Ordinal"/> is null for auto and cpu.</summary>
    public sealed record Request(bool Cpu, bool Cuda, int? Ordinal)
    {
        public bool IsAuto => !Cpu && !Cuda;
    }

    public static Request Parse(string? value)
    {
        string text = (value ?? Auto).Trim().ToLowerInvariant();
        if (text == Auto) return new Request(false, false, null);
        if (text == "cpu") return new Request(true, false, null);
        if (text == "cuda" || text == "gpu") return new Request(false, true, 0);
        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int ordinal))
            return new Request(false, true, ordinal);
        throw new ArgumentException($"--device '{value}' is not one of auto, cpu, cuda, cuda:N");
    }

    /// <summary>The backend for <paramref name="value"/> (null: the CPU backend). <paramref name="report"/> receives the
    /// device line and the verbosity it is meant for. Never touches CUDA for <c>cpu</c>; never fails for <c>auto</c>.</summary>
    public static IMergeBackend? Select(string? value, Action<Verbosity, string> report, Func<CudaProbeResult>? probe = null)
    {
        Request request = Parse(value);
        if (request.Cpu)
        {
            report(Verbosity.Detailed, "device: cpu (--device cpu)");
            report(Verbosity.Detailed, $"cpu kernels: {Hosting.SimdRelaunch.Describe()}");
            return null;
        }
        CudaProbeResult result = (probe ?? CudaProbe.Run)();
        int ordinal = request.Ordinal ?? 0;
        string? problem = !result.IsSupported ? result.NotSupportedReason
            : ordinal >= result.Devices.Count ? string.Create(CultureInfo.InvariantCulture, $"there is no device cuda:{ordinal} ({result.Devices.Count} found)")
            : null;
        if (problem is not null)
        {
            if (request.Cuda)
                throw new MergeException(MergeErrorKind.Device, ErrorIds.DeviceUnavailable,
                    string.Create(CultureInfo.InvariantCulture, $"--device cuda:{ordinal}: CUDA is not available: {problem}\n{result.Describe()}"));
            report(Verbosity.Detailed, $"device: cpu (CUDA not available: {problem})");
            report(Verbosity.Detailed, $"cpu kernels: {Hosting.SimdRelaunch.Describe()}");
            return null;
        }
        var backend = CudaBackend.Create(result, ordinal, fallBackOnError: request.IsAuto);
        report(Verbosity.Normal, $"device: {backend.Name}");
        return backend;
    }
}
