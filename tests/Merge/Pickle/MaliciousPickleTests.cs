using System.IO.Compression;
using System.Text;
using DotnetMerge.Pickle;

namespace DotnetMerge.Tests.Pickle;

/// <summary>Hostile and broken pickles inside a well-formed torch zip: every one is a <see cref="TorchCheckpointException"/>
/// (exit 3) naming the file, and none runs anything (the sentinel a successful os.system would create stays absent).</summary>
public sealed class MaliciousPickleTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-pickle-evil", Guid.NewGuid().ToString("N"));

    public MaliciousPickleTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    /// <summary>Pickle bytes from a readable notation: opcodes as chars, plus helpers.</summary>
    private static byte[] P(params object[] parts)
    {
        var ms = new MemoryStream();
        ms.Write([0x80, 2]);
        foreach (var part in parts)
        {
            switch (part)
            {
                case string s: ms.Write(Encoding.Latin1.GetBytes(s)); break;
                case byte b: ms.WriteByte(b); break;
                case byte[] bytes: ms.Write(bytes); break;
                default: throw new ArgumentException(part.ToString());
            }
        }
        return ms.ToArray();
    }

    private static byte[] Str(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        return [(byte)'X', .. BitConverter.GetBytes(utf8.Length), .. utf8];
    }

    internal static string Zip(string path, byte[] pickle, params (string Name, byte[] Data)[] records)
    {
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            foreach (var (name, data) in new[] { ("archive/data.pkl", pickle) }.Concat(records.Select(r => ("archive/" + r.Name, r.Data))))
            {
                using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                s.Write(data);
            }
        }
        return path;
    }

    private string Sentinel => Path.Combine(_root, "pwned");

    public static TheoryData<string, string> Corpus() => new()
    {
        { "os.system", "GLOBAL" },
        { "posix.system", "GLOBAL" },
        { "builtins.eval", "GLOBAL" },
        { "builtins.exec-stack-global", "GLOBAL" },
        { "subprocess.Popen-in-tensor", "GLOBAL" },
        { "nested-reduce", "CALL" },
        { "reduce-of-a-storage-type", "CALL" },
        { "from-type-subclass", "CALL" },
        { "unknown-opcode", "OPCODE" },
        { "inst-opcode", "OPCODE" },
        { "truncated-pickle", "TRUNC" },
        { "no-stop", "TRUNC" },
        { "huge-length", "TRUNC" },
        { "stack-underflow", "SHAPE" },
        { "not-a-dict", "SHAPE" },
        { "view-past-storage", "TENSOR" },
        { "missing-storage-record", "TENSOR" },
        { "expanded-view-claims-a-gigabyte", "TENSOR" },
    };

    private byte[] Case(string name)
    {
        string cmd = "touch " + Sentinel;
        byte[] TensorOps(string key, long numel, long offset, long rows, byte stride = 1) =>
            [.. Encoding.Latin1.GetBytes("ctorch._utils\n_rebuild_tensor_v2\n("), (byte)'(', .. Str("storage"),
             .. Encoding.Latin1.GetBytes("ctorch\nFloatStorage\n"), .. Str(key), .. Str("cpu"), (byte)'J', .. BitConverter.GetBytes((int)numel),
             (byte)'t', (byte)'Q', (byte)'J', .. BitConverter.GetBytes((int)offset), (byte)'J', .. BitConverter.GetBytes((int)rows), 0x85,
             (byte)'K', stride, 0x85, 0x89, (byte)'}', (byte)'t', (byte)'R'];
        return name switch
        {
            "os.system" => P("cos\nsystem\n", Str(cmd), (byte)0x85, "R."),
            "posix.system" => P("cposix\nsystem\n", Str(cmd), (byte)0x85, "R."),
            "builtins.eval" => P("cbuiltins\neval\n", Str("__import__('os').system('" + cmd + "')"), (byte)0x85, "R."),
            "builtins.exec-stack-global" => P((byte)0x8c, (byte)8, "builtins", (byte)0x8c, (byte)4, "exec", (byte)0x93, Str("1"), (byte)0x85, "R."),
            "subprocess.Popen-in-tensor" => P("}", Str("w"), "csubprocess\nPopen\n", Str(cmd), (byte)0x85, "Rs."),
            "nested-reduce" => P("ccollections\nOrderedDict\n)R)R."),
            "reduce-of-a-storage-type" => P("ctorch\nFloatStorage\n)R."),
            "from-type-subclass" => P("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\nctorch\ndevice\n)}tR."),
            "unknown-opcode" => P("}", (byte)0xff, "."),
            "inst-opcode" => P("(ios\nsystem\n."),
            "truncated-pickle" => P("}", Str("weight"))[..^3],
            "no-stop" => P("}"),
            "huge-length" => P((byte)'X', new byte[] { 0xff, 0xff, 0xff, 0x7f }, "abc"),
            "stack-underflow" => P("s."),
            "not-a-dict" => P("]."),
            "view-past-storage" => P("}", Str("w"), TensorOps("0", 4, 2, 3), "s."),
            "missing-storage-record" => P("}", Str("w"), TensorOps("7", 4, 0, 4), "s."),
            "expanded-view-claims-a-gigabyte" => P("}", Str("w"), TensorOps("0", 4, 0, 1 << 28, stride: 0), "s."),
            _ => throw new ArgumentException(name),
        };
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void HostilePickle_IsInputErrorNamingTheFile_AndRunsNothing(string name, string kind)
    {
        var path = Zip(Path.Combine(_root, name + ".bin"), Case(name), ("data/0", new byte[16]));
        var e = Assert.Throws<TorchCheckpointException>(() => TorchBinFile.Open(path));
        Assert.StartsWith("DMRG073", e.Id);
        Assert.StartsWith($"{e.Id}: {path}: ", e.Message);
        Assert.Equal(DotnetMerge.Engine.MergeErrorKind.Input, e.Kind);
        Assert.Equal(kind switch
        {
            "GLOBAL" => TorchCheckpointException.ForbiddenGlobal,
            "TENSOR" => TorchCheckpointException.BadTensor,
            _ => TorchCheckpointException.BadPickle,
        }, e.Id);
        Assert.False(File.Exists(Sentinel));
    }

    [Fact]
    public void HandBuiltStateDict_IsRead()
    {
        // The same notation as the corpus, for a valid one-tensor state dict: proves the corpus fails for its own reason.
        byte[] data = new byte[16];
        for (int i = 0; i < 4; i++) BitConverter.GetBytes(i + 0.5f).CopyTo(data, 4 * i);
        var pickle = P("}", Str("w"), "ctorch._utils\n_rebuild_tensor_v2\n(", "(", Str("storage"), "ctorch\nFloatStorage\n", Str("0"), Str("cpu"),
            "K", (byte)4, "tQ", "K", (byte)1, "K", (byte)3, (byte)0x85, "K", (byte)1, (byte)0x85, (byte)0x89, "}tRs.");
        using var file = TorchBinFile.Open(Zip(Path.Combine(_root, "ok.bin"), pickle, ("data/0", data)));
        var t = Assert.Single(file.Tensors);
        var bytes = new byte[t.ByteLength];
        file.ReadTensor(t, bytes);
        Assert.Equal(data[4..], bytes);
    }

    [Fact]
    public void DeflatedRecords_AreInflated_AndOtherMethodsOrCorruptDataAreRefused()
    {
        byte[] data = new byte[4096];
        for (int i = 0; i < data.Length / 4; i++) BitConverter.GetBytes(i * 0.25f).CopyTo(data, 4 * i);
        var pickle = P("}", Str("w"), "ctorch._utils\n_rebuild_tensor_v2\n(", "(", Str("storage"), "ctorch\nFloatStorage\n", Str("0"), Str("cpu"),
            "M", BitConverter.GetBytes((ushort)1024), "tQ", "K", (byte)8, "M", BitConverter.GetBytes((ushort)1000), (byte)0x85, "K", (byte)1, (byte)0x85, (byte)0x89, "}tRs.");
        var path = Path.Combine(_root, "deflated.bin");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
            foreach (var (name, bytes) in new[] { ("archive/data.pkl", pickle), ("archive/data/0", data) })
            {
                using var s = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
                s.Write(bytes);
            }
        using (var file = TorchBinFile.Open(path))
        {
            var t = Assert.Single(file.Tensors);
            Assert.True(file.FindView("w")!.Storage.Deflated);
            Assert.False(file.TryGetFileRange(t, out _)); // nothing to map: the bytes must be inflated
            var bytes = new byte[t.ByteLength];
            file.ReadTensor(t, bytes);
            Assert.Equal(data[32..4032], bytes);
        }

        // Method 12 (bzip2) in the central directory: refused by name, not misread.
        var raw = File.ReadAllBytes(path);
        int cd = LastIndexOf(raw, [0x50, 0x4b, 0x01, 0x02]);
        var bzip = (byte[])raw.Clone();
        bzip[cd + 10] = 12;
        File.WriteAllBytes(path + ".bz", bzip);
        var e = Assert.Throws<TorchCheckpointException>(() => TorchBinFile.Open(path + ".bz"));
        Assert.Equal(TorchCheckpointException.BadArchive, e.Id);
        Assert.Contains("zip method 12", e.Message);

        // The data record's deflate stream garbled: a clean error naming the file when the tensor is read.
        int local = LastIndexOf(raw, [0x50, 0x4b, 0x03, 0x04]);
        int start = local + 30 + BitConverter.ToUInt16(raw, local + 26) + BitConverter.ToUInt16(raw, local + 28);
        var corrupt = (byte[])raw.Clone();
        for (int i = start; i < start + 12; i++) corrupt[i] = 0xff;
        File.WriteAllBytes(path + ".bad", corrupt);
        using (var file = TorchBinFile.Open(path + ".bad"))
        {
            var t = Assert.Single(file.Tensors);
            var bad = Assert.Throws<TorchCheckpointException>(() => file.ReadTensor(t, new byte[t.ByteLength]));
        Assert.StartsWith("DMRG0731: " + path + ".bad: ", bad.Message);
        }
    }

    private static int LastIndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = haystack.Length - needle.Length; i >= 0; i--)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        throw new InvalidOperationException("signature not found");
    }
}
