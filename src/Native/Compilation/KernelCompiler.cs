using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace DotnetMerge.Cuda.Compilation;

/// <summary>Compiles generated kernels for a device architecture, through a memory and disk cache keyed by
/// SHA-256 of (source, compiler identity, options — the options include the architecture).</summary>
public sealed class KernelCompiler
{
    /// <summary>When set to a folder, every kernel source passed to <see cref="Compile"/> is written there as &lt;name&gt;.</summary>
    public const string DumpVariable = "DOTNET_MERGE_DUMP_KERNELS";

    private readonly IKernelSourceCompiler compiler;
    private readonly ConcurrentDictionary<string, Lazy<KernelImage>> inFlight = new(StringComparer.Ordinal);
    private readonly string? dumpDirectory;
    private int compilations, memoryHits, diskHits;

    public KernelCompiler(IKernelSourceCompiler compiler, KernelCache cache, string? dumpDirectory = null)
    {
        this.compiler = compiler;
        Cache = cache;
        this.dumpDirectory = dumpDirectory;
    }

    /// <summary>NVRTC with the default disk cache and $DOTNET_MERGE_DUMP_KERNELS; throws <see cref="CudaUnavailableException"/> without NVRTC.</summary>
    public static KernelCompiler CreateDefault()
        => new(NvrtcKernelCompiler.Create(), new KernelCache(KernelCache.DefaultDirectory(Environment.GetEnvironmentVariable)),
            Environment.GetEnvironmentVariable(DumpVariable) is { Length: > 0 } dump ? dump : null);

    public KernelCache Cache { get; }
    public int Compilations => Volatile.Read(ref compilations);
    public int MemoryHits => Volatile.Read(ref memoryHits);
    public int DiskHits => Volatile.Read(ref diskHits);
    /// <summary>The last disk-cache write failure, if any (the cache never fails a compilation).</summary>
    public string? LastCacheWarning { get; private set; }

    /// <summary>The NVRTC options for a device of compute capability <paramref name="ccMajor"/>.<paramref name="ccMinor"/>.
    /// <c>--fmad=false</c> keeps every multiply and add separately rounded, as on the CPU backend, so both give the same bits.</summary>
    public static IReadOnlyList<string> OptionsFor(int ccMajor, int ccMinor)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ccMajor);
        ArgumentOutOfRangeException.ThrowIfNegative(ccMinor);
        return [string.Create(CultureInfo.InvariantCulture, $"--gpu-architecture=sm_{ccMajor}{ccMinor}"), "-default-device", "--std=c++17", "--fmad=false"];
    }

    /// <summary>The cache key: lowercase hex SHA-256 over a versioned header, the compiler identity, the options and the source.</summary>
    public static string CacheKey(string source, string compilerIdentity, IReadOnlyList<string> options)
    {
        var text = new StringBuilder("dotnet-merge kernel cache v1\n");
        text.Append(compilerIdentity).Append('\n');
        foreach (string option in options) text.Append(option).Append('\n');
        text.Append('\0').Append(source);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>The module image of <paramref name="source"/> for compute capability <paramref name="ccMajor"/>.<paramref name="ccMinor"/>:
    /// from memory, else from disk, else compiled (once, even when several threads ask at the same time) and cached.</summary>
    /// <param name="name">The program name NVRTC uses in its messages, e.g. the kernel's entry point + ".cu".</param>
    public KernelImage Compile(string source, string name, int ccMajor, int ccMinor)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        IReadOnlyList<string> options = OptionsFor(ccMajor, ccMinor);
        string key = CacheKey(source, compiler.Identity, options);
        if (dumpDirectory is not null) Dump(name, source);

        if (Cache.TryGetFromMemory(key, out KernelImage cached))
        {
            Interlocked.Increment(ref memoryHits);
            return cached;
        }
        var lazy = inFlight.GetOrAdd(key, k => new Lazy<KernelImage>(() => Produce(k, source, name, options)));
        try
        {
            return lazy.Value;
        }
        finally
        {
            inFlight.TryRemove(new KeyValuePair<string, Lazy<KernelImage>>(key, lazy));
        }
    }

    private KernelImage Produce(string key, string source, string name, IReadOnlyList<string> options)
    {
        if (Cache.TryGetFromDisk(key, out KernelImage fromDisk))
        {
            Interlocked.Increment(ref diskHits);
            return fromDisk;
        }
        KernelImage image = compiler.Compile(source, name, options);
        Interlocked.Increment(ref compilations);
        if (Cache.Put(key, image, source) is { } warning) LastCacheWarning = warning;
        return image;
    }

    private void Dump(string name, string source)
    {
        try
        {
            Directory.CreateDirectory(dumpDirectory!);
            File.WriteAllText(Path.Combine(dumpDirectory!, Path.GetFileName(name)), source);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LastCacheWarning = $"could not dump kernel source to '{dumpDirectory}': {ex.Message}";
        }
    }
}
