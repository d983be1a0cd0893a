using System.Text;
using DotnetMerge.Cuda.Interop;
using DotnetMerge.Cuda.Runtime;

namespace DotnetMerge.Cuda.Compilation;

/// <summary>Compiles CUDA C with NVRTC. Produces a CUBIN when NVRTC made one (a real sm_XY target), else PTX.</summary>
public sealed class NvrtcKernelCompiler : IKernelSourceCompiler
{
    private NvrtcKernelCompiler(Version version) => Version = version;

    public Version Version { get; }

    public string Identity => $"nvrtc {Version}";

    /// <summary>Loads NVRTC (through the probe); throws <see cref="CudaUnavailableException"/> with the probe's reason if it is missing.</summary>
    public static NvrtcKernelCompiler Create()
    {
        CudaProbeResult probe = CudaProbe.Run();
        if (probe.NvrtcVersion is null) throw new CudaUnavailableException(probe, "cannot compile CUDA kernels");
        return new NvrtcKernelCompiler(probe.NvrtcVersion);
    }

    public unsafe KernelImage Compile(string source, string programName, IReadOnlyList<string> options)
    {
        byte[] sourceBytes = Utf8Z(source), nameBytes = Utf8Z(programName);
        nint raw;
        fixed (byte* s = sourceBytes)
        fixed (byte* n = nameBytes)
            NvrtcException.ThrowIfFailed(Nvrtc.nvrtcCreateProgram(&raw, s, n, 0, null, null));
        using var program = new NvrtcProgramHandle(raw);

        NvrtcResult compiled = CompileWithOptions(raw, options);
        string log = ReadLog(raw);
        if (compiled == NvrtcResult.Compilation) throw new NvrtcCompilationException(programName, log, source, options);
        NvrtcException.ThrowIfFailed(compiled, "nvrtcCompileProgram");

        nuint size = 0;
        if (Nvrtc.nvrtcGetCUBINSize(raw, &size) == NvrtcResult.Success && size > 0)
        {
            var cubin = new byte[(int)size];
            fixed (byte* p = cubin) NvrtcException.ThrowIfFailed(Nvrtc.nvrtcGetCUBIN(raw, p));
            return new KernelImage(KernelImageKind.Cubin, cubin, log);
        }
        NvrtcException.ThrowIfFailed(Nvrtc.nvrtcGetPTXSize(raw, &size));
        var ptx = new byte[(int)size]; // includes the terminating NUL that cuModuleLoadData needs
        fixed (byte* p = ptx) NvrtcException.ThrowIfFailed(Nvrtc.nvrtcGetPTX(raw, p));
        return new KernelImage(KernelImageKind.Ptx, ptx, log);
    }

    private static unsafe NvrtcResult CompileWithOptions(nint program, IReadOnlyList<string> options)
    {
        byte[][] encoded = options.Select(Utf8Z).ToArray();
        var handles = new System.Runtime.InteropServices.GCHandle[encoded.Length];
        byte** pointers = stackalloc byte*[Math.Max(1, encoded.Length)];
        try
        {
            for (int i = 0; i < encoded.Length; i++)
            {
                handles[i] = System.Runtime.InteropServices.GCHandle.Alloc(encoded[i], System.Runtime.InteropServices.GCHandleType.Pinned);
                pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
            }
            return Nvrtc.nvrtcCompileProgram(program, encoded.Length, pointers);
        }
        finally
        {
            foreach (var h in handles) if (h.IsAllocated) h.Free();
        }
    }

    private static unsafe string ReadLog(nint program)
    {
        nuint size;
        if (Nvrtc.nvrtcGetProgramLogSize(program, &size) != NvrtcResult.Success || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log)
            if (Nvrtc.nvrtcGetProgramLog(program, p) != NvrtcResult.Success) return "";
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private static byte[] Utf8Z(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
