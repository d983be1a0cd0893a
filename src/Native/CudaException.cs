using System.Runtime.CompilerServices;
using DotnetMerge.Cuda.Interop;

namespace DotnetMerge.Cuda;

/// <summary>A CUDA driver call failed. The message names the call, the error (CUDA_ERROR_...) and the driver's description.</summary>
public sealed class CudaException : Exception
{
    public CudaException(CudaResult result, string call)
        : base($"{call} failed: {ErrorName(result)} ({ErrorDescription(result)})")
    {
        Result = result;
        Call = call;
    }

    public CudaResult Result { get; }
    /// <summary>The failing call as written in the source.</summary>
    public string Call { get; }
    /// <summary>The error's name as the driver spells it (CUDA_ERROR_OUT_OF_MEMORY), or a fallback when no driver is loaded.</summary>
    public string ErrorName() => ErrorName(Result);

    internal static void ThrowIfFailed(CudaResult result, [CallerArgumentExpression(nameof(result))] string? call = null)
    {
        if (result != CudaResult.Success) throw new CudaException(result, call ?? "CUDA call");
    }

    /// <summary>cuGetErrorName when the driver is loaded, else CUDA_ERROR_&lt;number&gt;.</summary>
    public static unsafe string ErrorName(CudaResult result)
    {
        if (NativeLibraries.DriverLoaded)
        {
            byte* text = null;
            if (CudaDriver.cuGetErrorName(result, &text) == CudaResult.Success && text != null)
                return new string((sbyte*)text);
        }
        return $"CUDA_ERROR_{(int)result}";
    }

    /// <summary>cuGetErrorString when the driver is loaded, else the enum name.</summary>
    public static unsafe string ErrorDescription(CudaResult result)
    {
        if (NativeLibraries.DriverLoaded)
        {
            byte* text = null;
            if (CudaDriver.cuGetErrorString(result, &text) == CudaResult.Success && text != null)
                return new string((sbyte*)text);
        }
        return Enum.IsDefined(result) ? result.ToString() : "unknown error";
    }
}

/// <summary>An NVRTC call other than the compilation itself failed.</summary>
public class NvrtcException : Exception
{
    public NvrtcException(NvrtcResult result, string call) : base($"{call} failed: {Describe(result)}") => Result = result;
    protected NvrtcException(NvrtcResult result, string message, bool _) : base(message) => Result = result;

    public NvrtcResult Result { get; }

    internal static void ThrowIfFailed(NvrtcResult result, [CallerArgumentExpression(nameof(result))] string? call = null)
    {
        if (result != NvrtcResult.Success) throw new NvrtcException(result, call ?? "NVRTC call");
    }

    internal static unsafe string Describe(NvrtcResult result)
    {
        if (NativeLibraries.NvrtcLoaded)
        {
            byte* text = Nvrtc.nvrtcGetErrorString(result);
            if (text != null) return new string((sbyte*)text);
        }
        return $"NVRTC_ERROR_{(int)result}";
    }
}

/// <summary>NVRTC rejected a generated kernel. Carries the compiler log, the options and the full source,
/// since the source came from our own emitter and is the first thing anyone debugging it needs.</summary>
public sealed class NvrtcCompilationException : NvrtcException
{
    public NvrtcCompilationException(string programName, string log, string source, IReadOnlyList<string> options)
        : base(NvrtcResult.Compilation,
            $"NVRTC could not compile {programName} (options: {string.Join(' ', options)}):\n{log.TrimEnd()}", true)
    {
        ProgramName = programName;
        Log = log;
        KernelSource = source;
        Options = options;
    }

    public string ProgramName { get; }
    public string Log { get; }
    public string KernelSource { get; }
    public IReadOnlyList<string> Options { get; }
}

/// <summary>CUDA (or NVRTC) is not usable on this machine. <see cref="Probe"/> says why and what was tried.</summary>
public sealed class CudaUnavailableException : NotSupportedException
{
    public CudaUnavailableException(CudaProbeResult probe, string? what = null)
        : base((what is null ? "" : what + ": ") + (probe.NotSupportedReason ?? "CUDA is not available"))
        => Probe = probe;

    public CudaProbeResult Probe { get; }
}
