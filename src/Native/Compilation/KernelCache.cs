using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace DotnetMerge.Cuda.Compilation;

/// <summary>Compiled kernel images in memory and, optionally, on disk (one file per key, written atomically,
/// checked with a SHA-256 of its payload when read back; a damaged file is ignored and rewritten).
/// Beside each image the cache keeps the kernel's source as <c>&lt;key&gt;.cu</c> for inspection.</summary>
public sealed class KernelCache
{
    /// <summary>Overrides the cache folder; "off" disables the disk cache.</summary>
    public const string DirectoryVariable = "DOTNET_MERGE_KERNEL_CACHE";

    private static ReadOnlySpan<byte> Magic => "DMKC"u8;
    private const byte FormatVersion = 1;
    private const int HeaderBytes = 4 + 1 + 1 + 2 + 8 + 32;

    private readonly ConcurrentDictionary<string, KernelImage> memory = new(StringComparer.Ordinal);

    /// <param name="directory">Folder of the disk cache, or null for a memory-only cache.</param>
    public KernelCache(string? directory) => Directory = directory;

    public string? Directory { get; }

    /// <summary>The default disk cache: $DOTNET_MERGE_KERNEL_CACHE ("off" = none), else ~/.cache/dotnet-merge/kernels
    /// ($XDG_CACHE_HOME honoured; %LOCALAPPDATA%\dotnet-merge\kernels on Windows).</summary>
    public static string? DefaultDirectory(Func<string, string?> environment)
    {
        string? configured = environment(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(configured))
            return configured.Trim().Equals("off", StringComparison.OrdinalIgnoreCase) ? null : configured.Trim();
        if (OperatingSystem.IsWindows())
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "dotnet-merge", "kernels");
        string? xdg = environment("XDG_CACHE_HOME");
        string root = !string.IsNullOrWhiteSpace(xdg) ? xdg : Path.Combine(environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "dotnet-merge", "kernels");
    }

    public bool TryGetFromMemory(string key, out KernelImage image) => memory.TryGetValue(key, out image!);

    /// <summary>Reads <paramref name="key"/> from disk into memory; false when absent, unreadable or damaged.</summary>
    public bool TryGetFromDisk(string key, out KernelImage image)
    {
        image = null!;
        if (Directory is null) return false;
        string path = ImagePath(key);
        byte[] bytes;
        try
        {
            if (!File.Exists(path)) return false;
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
        if (bytes.Length < HeaderBytes || !bytes.AsSpan(0, 4).SequenceEqual(Magic) || bytes[4] != FormatVersion) return false;
        var kind = (KernelImageKind)bytes[5];
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        if (kind is not (KernelImageKind.Cubin or KernelImageKind.Ptx) || length != bytes.Length - HeaderBytes) return false;
        byte[] payload = bytes.AsSpan(HeaderBytes).ToArray();
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(bytes.AsSpan(16, 32))) return false;
        image = new KernelImage(kind, payload, "");
        memory[key] = image;
        return true;
    }

    /// <summary>Stores an image in memory and, when there is a disk cache, on disk with its source. Disk failures are
    /// not errors (the cache is an optimisation): they are returned as a message, null when all went well.</summary>
    public string? Put(string key, KernelImage image, string source)
    {
        memory[key] = image;
        if (Directory is null) return null;
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var file = new byte[HeaderBytes + image.Bytes.Length];
            Magic.CopyTo(file);
            file[4] = FormatVersion;
            file[5] = (byte)image.Kind;
            BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(8), image.Bytes.Length);
            SHA256.HashData(image.Bytes).CopyTo(file.AsSpan(16));
            image.Bytes.CopyTo(file.AsSpan(HeaderBytes));
            WriteAtomically(ImagePath(key), file);
            WriteAtomically(Path.Combine(Directory, key + ".cu"), System.Text.Encoding.UTF8.GetBytes(source));
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"kernel cache: could not write to '{Directory}': {ex.Message}";
        }
    }

    /// <summary>The file holding the image of <paramref name="key"/> (null without a disk cache).</summary>
    public string? ImageFile(string key) => Directory is null ? null : ImagePath(key);

    private string ImagePath(string key) => Path.Combine(Directory!, key + ".kernel");

    private static void WriteAtomically(string path, byte[] content)
    {
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }
}
