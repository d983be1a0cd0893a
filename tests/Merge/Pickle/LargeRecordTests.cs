using System.Buffers.Binary;
using System.Text;
using DotnetMerge.Engine;
using DotnetMerge.Pickle;

namespace DotnetMerge.Tests.Pickle;

/// <summary>A torch zip whose storage record is 5 GiB (ZIP64 sizes and end records, offsets past 4 GiB), written as a
/// sparse file: only the pickle, the zip structures and two marker runs hold real bytes, so nothing near 5 GiB is
/// written or read. Shows that record offsets, lengths and tensor byte ranges are 64-bit throughout the reader.</summary>
public sealed class LargeRecordTests : IDisposable
{
    private const long RecordBytes = 5L << 30;
    private const long Elements = RecordBytes / 4;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-pickle-large", Guid.NewGuid().ToString("N"));

    public LargeRecordTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    private static byte[] Str(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        return [(byte)'X', .. BitConverter.GetBytes(utf8.Length), .. utf8];
    }

    /// <summary>LONG1 with 8 bytes: how pickle writes integers past int32.</summary>
    private static byte[] Long(long v) => [0x8a, 8, .. BitConverter.GetBytes(v)];

    private static byte[] Tensor(long offset, long size) =>
        [.. "ctorch._utils\n_rebuild_tensor_v2\n("u8, (byte)'(', .. Str("storage"), .. "ctorch\nFloatStorage\n"u8, .. Str("0"), .. Str("cpu"),
         .. Long(Elements), (byte)'t', (byte)'Q', .. Long(offset), .. Long(size), 0x85, (byte)'K', 1, 0x85, 0x89, (byte)'}', (byte)'t', (byte)'R'];

    /// <summary>The state dict {big: the whole 5 GiB storage, tail: its last 16 floats}, pickled by hand.</summary>
    private static byte[] Pickle() =>
        [0x80, 2, (byte)'}', (byte)'(', .. Str("big"), .. Tensor(0, Elements), .. Str("tail"), .. Tensor(Elements - 16, 16), (byte)'u', (byte)'.'];

    /// <summary>Writes the archive; returns the file offset of the storage record's first byte.</summary>
    private static long WriteSparseZip(string path, byte[] tail, long markerOffset, byte[] marker)
    {
        var pickle = Pickle();
        using var f = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite);
        var central = new MemoryStream();
        long pickleHeader = 0;
        WriteLocal(f, "archive/data.pkl", pickle.Length, zip64: false);
        f.Write(pickle);
        long dataHeader = f.Position;
        WriteLocal(f, "archive/data/0", RecordBytes, zip64: true);
        long dataStart = f.Position;
        f.SetLength(dataStart + RecordBytes); // sparse: the file system stores no blocks for the hole
        f.Position = dataStart + markerOffset;
        f.Write(marker);
        f.Position = dataStart + RecordBytes - tail.Length;
        f.Write(tail);
        f.Position = dataStart + RecordBytes;
        WriteCentral(central, "archive/data.pkl", pickle.Length, pickleHeader, zip64: false);
        WriteCentral(central, "archive/data/0", RecordBytes, dataHeader, zip64: true);
        long cdOffset = f.Position;
        f.Write(central.ToArray());
        long z64 = f.Position;
        var end = new byte[56 + 20 + 22];
        var s = end.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, 0x06064b50);
        BinaryPrimitives.WriteUInt64LittleEndian(s[4..], 44);
        BinaryPrimitives.WriteUInt16LittleEndian(s[12..], 45);
        BinaryPrimitives.WriteUInt16LittleEndian(s[14..], 45);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], 2);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], 2);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], (ulong)central.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], (ulong)cdOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(s[56..], 0x07064b50);
        BinaryPrimitives.WriteUInt64LittleEndian(s[64..], (ulong)z64);
        BinaryPrimitives.WriteUInt32LittleEndian(s[72..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[76..], 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(s[84..], 0xFFFF);
        BinaryPrimitives.WriteUInt16LittleEndian(s[86..], 0xFFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(s[88..], 0xFFFFFFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(s[92..], 0xFFFFFFFF);
        f.Write(end);
        return dataStart;
    }

    private static void WriteLocal(Stream f, string name, long size, bool zip64)
    {
        var n = Encoding.UTF8.GetBytes(name);
        var h = new byte[30 + n.Length + (zip64 ? 20 : 0)];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), 45);
        uint small = zip64 ? 0xFFFFFFFF : (uint)size;
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(18), small);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(22), small);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(26), (ushort)n.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(28), (ushort)(zip64 ? 20 : 0));
        n.CopyTo(h, 30);
        if (zip64) Zip64Extra(h.AsSpan(30 + n.Length), size);
        f.Write(h);
    }

    private static void WriteCentral(Stream f, string name, long size, long localOffset, bool zip64)
    {
        var n = Encoding.UTF8.GetBytes(name);
        var h = new byte[46 + n.Length + (zip64 ? 20 : 0)];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x02014b50);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), 45);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), 45);
        uint small = zip64 ? 0xFFFFFFFF : (uint)size;
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(20), small);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(24), small);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(28), (ushort)n.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(30), (ushort)(zip64 ? 20 : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(42), (uint)localOffset);
        n.CopyTo(h, 46);
        if (zip64) Zip64Extra(h.AsSpan(46 + n.Length), size);
        f.Write(h);
    }

    /// <summary>The ZIP64 extra field (id 1): the real uncompressed and compressed sizes.</summary>
    private static void Zip64Extra(Span<byte> extra, long size)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(extra, 1);
        BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], 16);
        BinaryPrimitives.WriteUInt64LittleEndian(extra[4..], (ulong)size);
        BinaryPrimitives.WriteUInt64LittleEndian(extra[12..], (ulong)size);
    }

    [Fact]
    public async Task A5GiBRecord_IsReadAt64BitOffsets_AndConvertRefusesItsWholeTensorCleanly()
    {
        var tail = new byte[64];
        for (int i = 0; i < 16; i++) BitConverter.GetBytes(i + 0.5f).CopyTo(tail, 4 * i);
        byte[] marker = "past 4 GiB"u8.ToArray();
        long markerOffset = (9L << 29) + 4; // 4.5 GiB into the record
        var dir = Path.Combine(_root, "model");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "pytorch_model.bin");
        long dataStart = WriteSparseZip(path, tail, markerOffset, marker);

        using (var file = TorchBinFile.Open(path))
        {
            var big = file.Find("big")!;
            Assert.Equal(RecordBytes, big.ByteLength);
            Assert.Equal([Elements], big.Shape);
            var got = new byte[marker.Length];
            file.ReadTensorRange(big, markerOffset, got);
            Assert.Equal(marker, got);
            await file.ReadTensorRangeAsync(big, markerOffset, got);
            Assert.Equal(marker, got);

            var t = file.Find("tail")!;
            Assert.Equal(RecordBytes - 64, t.Begin);
            Assert.True(file.TryGetFileRange(t, out long offset));
            Assert.Equal(dataStart + RecordBytes - 64, offset);
            var bytes = new byte[t.ByteLength];
            file.ReadTensor(t, bytes);
            Assert.Equal(tail, bytes);
            Assert.Equal(RecordBytes + 64, file.DataLength);
        }

        var output = Path.Combine(_root, "converted");
        var e = await Assert.ThrowsAsync<MergeException>(() => TorchBinConverter.ConvertAsync(dir, output, force: false, maxShardBytes: 10L << 30));
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains("'big' has 5368709120 bytes", e.Message);
        Assert.False(Directory.Exists(output));
    }
}
