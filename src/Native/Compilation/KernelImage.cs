namespace DotnetMerge.Cuda.Compilation;

/// <summary>What cuModuleLoadData takes: a CUBIN (machine code for one architecture) or PTX (NUL-terminated text the driver JIT-compiles).</summary>
public enum KernelImageKind
{
    Cubin = 1,
    Ptx = 2,
}

/// <summary>A compiled kernel module image, with the compiler's log (empty when it came from a cache).</summary>
public sealed record KernelImage(KernelImageKind Kind, byte[] Bytes, string Log);

/// <summary>Turns CUDA C source into a module image. <see cref="NvrtcKernelCompiler"/> is the real one; tests use fakes,
/// so that <see cref="KernelCompiler"/>'s caching is tested without NVRTC.</summary>
public interface IKernelSourceCompiler
{
    /// <summary>Names the compiler and its version ("nvrtc 12.4"); part of every cache key.</summary>
    string Identity { get; }

    /// <summary>Compiles <paramref name="source"/>; throws <see cref="NvrtcCompilationException"/> (or the fake's equivalent) on errors.</summary>
    KernelImage Compile(string source, string programName, IReadOnlyList<string> options);
}
