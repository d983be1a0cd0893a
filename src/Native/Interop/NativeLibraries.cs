using System.Reflection;
using System.Runtime.InteropServices;

namespace DotnetMerge.Cuda.Interop;

/// <summary>Which native library of the CUDA stack.</summary>
public enum CudaLibrary
{
    /// <summary>The driver API: libcuda.so.1 (Linux) or nvcuda.dll (Windows), installed with the NVIDIA driver.</summary>
    Driver,
    /// <summary>NVRTC, the runtime compiler: libnvrtc.so.13/.12 or nvrtc64_*.dll, from the CUDA toolkit or its redistributable.</summary>
    Nvrtc,
}

/// <summary>Finds and loads libcuda and libnvrtc (MsQuic/TorchSharp style): an ordered list of candidates, every attempt
/// written to a trace, nothing thrown. The <c>[LibraryImport]</c> declarations use logical names that an assembly-wide
/// <see cref="NativeLibrary.SetDllImportResolver"/> maps to the handles loaded here.</summary>
internal static class NativeLibraries
{
    internal const string CudaLogicalName = "dotnet-merge-libcuda";
    internal const string NvrtcLogicalName = "dotnet-merge-libnvrtc";
    internal const string LibcudaOverride = "DOTNET_MERGE_LIBCUDA";
    internal const string LibnvrtcOverride = "DOTNET_MERGE_LIBNVRTC";

    private static readonly Lock Gate = new();
    private static bool resolverInstalled;
    private static nint driverHandle;
    private static nint nvrtcHandle;
    private static string? driverPath;
    private static string? nvrtcPath;

    internal static bool DriverLoaded => Volatile.Read(ref driverHandle) != 0;
    internal static bool NvrtcLoaded => Volatile.Read(ref nvrtcHandle) != 0;

    /// <summary>The candidates for <paramref name="library"/>, in the order they are tried: the environment override,
    /// the versioned names, the toolkit folders named by CUDA_HOME and CUDA_PATH, then the plain names.</summary>
    internal static IReadOnlyList<string> Candidates(CudaLibrary library, Func<string, string?> environment, bool windows)
    {
        var list = new List<string>();
        string? overridePath = environment(library == CudaLibrary.Driver ? LibcudaOverride : LibnvrtcOverride);
        if (!string.IsNullOrWhiteSpace(overridePath)) list.Add(overridePath.Trim());
        string[] versioned, plain;
        if (windows)
        {
            versioned = library == CudaLibrary.Driver ? ["nvcuda.dll"] : ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll"];
            plain = [];
        }
        else
        {
            versioned = library == CudaLibrary.Driver ? ["libcuda.so.1"] : ["libnvrtc.so.13", "libnvrtc.so.12"];
            plain = library == CudaLibrary.Driver ? ["libcuda.so"] : ["libnvrtc.so"];
        }
        list.AddRange(versioned);
        foreach (string variable in new[] { "CUDA_HOME", "CUDA_PATH" })
        {
            string? root = environment(variable);
            if (string.IsNullOrWhiteSpace(root)) continue;
            string[] folders = windows ? [Path.Combine(root, "bin", "x64"), Path.Combine(root, "bin")] : [Path.Combine(root, "lib64")];
            foreach (string folder in folders)
                foreach (string name in versioned.Concat(plain))
                    list.Add(Path.Combine(folder, name));
        }
        list.AddRange(plain);
        return list.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Loads <paramref name="library"/> if it is not loaded yet, appending every attempt to <paramref name="trace"/>.
    /// Returns the path or name it was loaded from, or null.</summary>
    internal static string? TryLoad(CudaLibrary library, List<string> trace)
    {
        lock (Gate)
        {
            InstallResolver(trace);
            string label = library == CudaLibrary.Driver ? "libcuda" : "libnvrtc";
            string? loaded = library == CudaLibrary.Driver ? driverPath : nvrtcPath;
            if (loaded is not null)
            {
                trace.Add($"{label}: already loaded from '{loaded}'");
                return loaded;
            }
            string overrideName = library == CudaLibrary.Driver ? LibcudaOverride : LibnvrtcOverride;
            if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(overrideName)))
                trace.Add($"{label}: {overrideName} is not set");
            foreach (string candidate in Candidates(library, Environment.GetEnvironmentVariable, OperatingSystem.IsWindows()))
            {
                if (Path.IsPathRooted(candidate) && !File.Exists(candidate))
                {
                    trace.Add($"{label}: '{candidate}': no such file");
                    continue;
                }
                try
                {
                    nint handle = NativeLibrary.Load(candidate);
                    trace.Add($"{label}: '{candidate}': loaded");
                    if (library == CudaLibrary.Driver) { driverPath = candidate; Volatile.Write(ref driverHandle, handle); }
                    else { nvrtcPath = candidate; Volatile.Write(ref nvrtcHandle, handle); }
                    return candidate;
                }
                catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
                {
                    trace.Add($"{label}: '{candidate}': {LoaderMessage(ex.Message)}");
                }
            }
            trace.Add($"{label}: not found");
            return null;
        }
    }

    private static void InstallResolver(List<string> trace)
    {
        if (resolverInstalled) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
        }
        catch (InvalidOperationException ex)
        {
            trace.Add($"resolver: {FirstLine(ex.Message)}");
        }
        resolverInstalled = true;
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
    {
        CudaLogicalName => Volatile.Read(ref driverHandle),
        NvrtcLogicalName => Volatile.Read(ref nvrtcHandle),
        _ => 0,
    };

    /// <summary>The loader's own words: .NET puts a generic sentence first and dlerror()'s text on the last line.</summary>
    private static string LoaderMessage(string text)
    {
        string[] lines = text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "could not be loaded" : lines[^1];
    }

    private static string FirstLine(string text)
    {
        int newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }
}
