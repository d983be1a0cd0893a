using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace DotnetMerge.Pickle;

/// <summary>One record of torch's zip container: its name, where its bytes lie in the file (<paramref name="StoredLength"/>
/// bytes from <paramref name="DataOffset"/>) and its <paramref name="Length"/> once read; <paramref name="Deflated"/> when
/// they are deflate-compressed (a checkpoint re-zipped by another tool), else they are the record's bytes themselves.</summary>
public readonly record struct ZipRecord(string Name, long DataOffset, long Length, long StoredLength, bool Deflated);

/// <summary>The central directory of a torch zip checkpoint (ZIP64 included), read without decompressing anything:
/// torch writes every record STORED, so a record's bytes are read in place at their file offset, like a safetensors
/// tensor. A deflated record (a checkpoint re-zipped by another tool) is inflated when read
/// (<see cref="TorchBinFile"/>); any other compression method is refused with a message saying so.</summary>
public static class TorchZip
{
    private const uint LocalHeaderSignature = 0x04034b50, CentralSignature = 0x02014b50, EndSignature = 0x06054b50;
    private const uint Zip64EndSignature = 0x06064b50, Zip64LocatorSignature = 0x07064b50;
    private const int StoredMethod = 0, DeflateMethod = 8;

    /// <summary>Reads the record table of <paramref name="path"/> (open as <paramref name="handle"/>, <paramref name="length"/> bytes).</summary>
    public static Dictionary<string, ZipRecord> ReadRecords(string path, SafeFileHandle handle, long length, out string firstName)
    {
        // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end of the file.
        int tailLength = (int)Math.Min(length, 22 + 65535);
        var tail = new byte[tailLength];
        ReadExactly(path, handle, tail, length - tailLength);
        int eocd = -1;
        for (int i = tailLength - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndSignature) { eocd = i; break; }
        if (eocd < 0) throw Bad(path, "no zip end-of-central-directory record (truncated file?)");
        long count = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(eocd + 10));
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(eocd + 12));
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(eocd + 16));
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            int locator = eocd - 20;
            if (locator < 0 || BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(locator)) != Zip64LocatorSignature)
                throw Bad(path, "a ZIP64 archive without its ZIP64 locator");
            long z64 = (long)BinaryPrimitives.ReadUInt64LittleEndian(tail.AsSpan(locator + 8));
            var rec = new byte[56];
            if (z64 < 0 || z64 > length - 56) throw Bad(path, "the ZIP64 end record lies outside the file");
            ReadExactly(path, handle, rec, z64);
            if (BinaryPrimitives.ReadUInt32LittleEndian(rec) != Zip64EndSignature) throw Bad(path, "a malformed ZIP64 end record");
            count = (long)BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(32));
            cdSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(40));
            cdOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(48));
        }
        if (cdOffset < 0 || cdSize < 0 || cdSize > int.MaxValue || cdOffset > length - cdSize || count > cdSize / 46)
            throw Bad(path, "the central directory lies outside the file (truncated file?)");
        var cd = new byte[cdSize];
        ReadExactly(path, handle, cd, cdOffset);

        var records = new Dictionary<string, ZipRecord>(StringComparer.Ordinal);
        firstName = "";
        int p = 0;
        var local = new byte[30];
        for (long i = 0; i < count; i++)
        {
            if (p > cd.Length - 46 || BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(p)) != CentralSignature)
                throw Bad(path, $"central directory entry {i} is malformed");
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(cd.AsSpan(p + 8));
            int method = BinaryPrimitives.ReadUInt16LittleEndian(cd.AsSpan(p + 10));
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(p + 20));
            long size = BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(p + 24));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(cd.AsSpan(p + 28));
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(cd.AsSpan(p + 30));
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(cd.AsSpan(p + 32));
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(p + 42));
            if (p + 46L + nameLength + extraLength + commentLength > cd.Length) throw Bad(path, $"central directory entry {i} is truncated");
            string name = Encoding.UTF8.GetString(cd, p + 46, nameLength);
            ReadZip64Extra(path, cd.AsSpan(p + 46 + nameLength, extraLength), ref size, ref compressed, ref localOffset);
            p += 46 + nameLength + extraLength + commentLength;
            if ((flags & 1) != 0) throw Bad(path, $"record '{name}' is encrypted; torch writes every record plain: re-save the checkpoint with torch.save");
            if (method is not (StoredMethod or DeflateMethod))
                throw Bad(path, $"record '{name}' is compressed with zip method {method}; only stored and deflated records are read (torch writes every record stored): re-save the checkpoint with torch.save");
            if (method == StoredMethod && compressed != size) throw Bad(path, $"record '{name}' is stored but its sizes differ ({compressed} and {size})");
            if (localOffset < 0 || localOffset > length - 30) throw Bad(path, $"record '{name}' starts outside the file");
            ReadExactly(path, handle, local, localOffset);
            if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalHeaderSignature) throw Bad(path, $"record '{name}' has no local header");
            long dataOffset = localOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(26)) + BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(28));
            if (dataOffset > length || compressed > length - dataOffset)
                throw Bad(path, $"record '{name}' ({compressed} bytes at {dataOffset}) runs past the end of the file ({length} bytes): the file is truncated");
            if (i == 0) firstName = name;
            if (!records.TryAdd(name, new ZipRecord(name, dataOffset, size, compressed, method == DeflateMethod))) throw Bad(path, $"record '{name}' appears twice");
        }
        if (count == 0) throw Bad(path, "the archive is empty");
        return records;
    }

    private static void ReadZip64Extra(string path, ReadOnlySpan<byte> extra, ref long size, ref long compressed, ref long offset)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int n = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (4 + n > extra.Length) throw Bad(path, "a malformed extra field in the central directory");
            if (id == 1)
            {
                var data = extra.Slice(4, n);
                if (size == 0xFFFFFFFF) size = Take(path, ref data);
                if (compressed == 0xFFFFFFFF) compressed = Take(path, ref data);
                if (offset == 0xFFFFFFFF) offset = Take(path, ref data);
            }
            extra = extra[(4 + n)..];
        }
    }

    private static long Take(string path, ref ReadOnlySpan<byte> data)
    {
        if (data.Length < 8) throw Bad(path, "a short ZIP64 extra field");
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(data);
        data = data[8..];
        if (v > long.MaxValue) throw Bad(path, "a ZIP64 size beyond 2^63");
        return (long)v;
    }

    internal static void ReadExactly(string path, SafeFileHandle handle, Span<byte> destination, long offset)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int r;
            try { r = RandomAccess.Read(handle, destination[done..], offset + done); }
            catch (IOException ex) { throw new TorchCheckpointException(path, TorchCheckpointException.BadArchive, $"cannot read the file: {ex.Message}", ex); }
            if (r == 0) throw Bad(path, $"the file is truncated (expected bytes at {offset + done})");
            done += r;
        }
    }

    private static TorchCheckpointException Bad(string path, string message) => new(path, TorchCheckpointException.BadArchive, message);
}
