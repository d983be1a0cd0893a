using System.Buffers.Binary;
using System.Text;

namespace DotnetMerge.Tests.Safetensors;

/// <summary>Builds safetensors files by hand (header JSON written as text), independently of the library's writer,
/// so that reader tests can also produce deliberately broken files.</summary>
internal static class SafetensorsBytes
{
    /// <summary>8-byte little-endian N, then the header bytes, then the data.</summary>
    public static byte[] Build(byte[] header, byte[]? data = null, ulong? declaredLength = null)
    {
        data ??= [];
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declaredLength ?? (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    public static byte[] Build(string headerJson, byte[]? data = null, ulong? declaredLength = null) =>
        Build(Encoding.UTF8.GetBytes(headerJson), data, declaredLength);

    /// <summary>A header entry as JSON text: "name":{"dtype":..,"shape":[..],"data_offsets":[b,e]}.</summary>
    public static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    public static string Header(params string[] entries) => "{" + string.Join(",", entries) + "}";

    public static byte[] Sequence(int count, int seed = 0)
    {
        var bytes = new byte[count];
        for (int i = 0; i < count; i++) bytes[i] = (byte)(i * 7 + seed);
        return bytes;
    }
}

/// <summary>A temporary directory deleted at the end of a test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dotnet-merge-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
