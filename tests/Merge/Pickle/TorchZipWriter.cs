using System.IO.Compression;
using System.Text;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Pickle;

/// <summary>Writes a state dict as torch.save does (zip of <c>archive/data.pkl</c> with the protocol-2 pickle torch emits,
/// then one stored <c>archive/data/N</c> record per tensor), for CLI tests that need a .bin model without python: the
/// reader itself is compared with real torch output in tests/Merge/Pickle.</summary>
public static class TorchZipWriter
{
    private static readonly Dictionary<Dtype, string> StorageNames = new()
    {
        [Dtype.F32] = "FloatStorage", [Dtype.BF16] = "BFloat16Storage", [Dtype.F16] = "HalfStorage", [Dtype.I64] = "LongStorage",
    };

    /// <summary>Re-saves the safetensors model in <paramref name="directory"/> as <c>pytorch_model.bin</c>, or as
    /// <paramref name="shards"/> files with <c>pytorch_model.bin.index.json</c> (the safetensors files and index removed),
    /// same tensors in the same order.</summary>
    public static void ConvertModelToBin(string directory, int shards = 1)
    {
        var tensors = new List<(string Name, Dtype Dtype, long[] Shape, byte[] Bytes)>();
        using (var checkpoint = ModelCheckpoint.Open(directory, WeightsFormat.Safetensors))
            foreach (var shard in checkpoint.Shards)
                foreach (var t in shard.Tensors)
                {
                    var bytes = new byte[t.ByteLength];
                    shard.ReadTensor(t, bytes);
                    tensors.Add((t.Name, t.Dtype, t.Shape, bytes));
                }
        foreach (var f in Directory.GetFiles(directory, "*.safetensors").Append(Path.Combine(directory, ModelCheckpoint.IndexFileName)))
            File.Delete(f);
        if (shards == 1)
        {
            Write(Path.Combine(directory, ModelCheckpoint.BinSingleFileName), tensors);
            return;
        }
        var map = new System.Text.Json.Nodes.JsonObject();
        int per = (tensors.Count + shards - 1) / shards;
        for (int i = 0; i < shards; i++)
        {
            var name = $"pytorch_model-{i + 1:00000}-of-{shards:00000}.bin";
            var part = tensors.Skip(i * per).Take(per).ToList();
            Write(Path.Combine(directory, name), part);
            foreach (var t in part) map[t.Name] = name;
        }
        File.WriteAllText(Path.Combine(directory, ModelCheckpoint.BinIndexFileName),
            new System.Text.Json.Nodes.JsonObject { ["metadata"] = new System.Text.Json.Nodes.JsonObject(), ["weight_map"] = map }.ToJsonString());
    }

    /// <summary>Copies the model directory <paramref name="source"/> to <paramref name="target"/> with its weights re-saved
    /// as .bin (<see cref="ConvertModelToBin"/>); returns <paramref name="target"/>.</summary>
    public static string CopyAsBin(string source, string target, int shards = 1)
    {
        Directory.CreateDirectory(target);
        foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        ConvertModelToBin(target, shards);
        return target;
    }

    public static void Write(string path, IReadOnlyList<(string Name, Dtype Dtype, long[] Shape, byte[] Bytes)> tensors)
    {
        var p = new MemoryStream();
        void Op(string latin1) => p.Write(Encoding.Latin1.GetBytes(latin1));
        void Str(string s)
        {
            var utf8 = Encoding.UTF8.GetBytes(s);
            p.WriteByte((byte)'X');
            p.Write(BitConverter.GetBytes(utf8.Length));
            p.Write(utf8);
        }
        void Long(long v)
        {
            p.WriteByte(0x8a);
            p.WriteByte(8);
            p.Write(BitConverter.GetBytes(v));
        }
        p.Write([0x80, 2]);
        Op("ccollections\nOrderedDict\n)R(");
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, dtype, shape, bytes) = tensors[i];
            Str(name);
            Op("ctorch._utils\n_rebuild_tensor_v2\n((");
            Str("storage");
            Op("ctorch\n" + StorageNames[dtype] + "\n");
            Str(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Str("cpu");
            Long(bytes.Length / (dtype.BitSize() / 8));
            Op("tQ");
            Long(0);
            Op("(");
            foreach (var d in shape) Long(d);
            Op("t(");
            long stride = 1;
            var strides = new long[shape.Length];
            for (int k = shape.Length - 1; k >= 0; k--) { strides[k] = stride; stride *= shape[k]; }
            foreach (var s in strides) Long(s);
            Op("t");
            p.WriteByte(0x89); // NEWFALSE: requires_grad
            Op("ccollections\nOrderedDict\n)RtR");
        }
        Op("u.");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Record(string name, byte[] data)
        {
            using var s = zip.CreateEntry("archive/" + name, CompressionLevel.NoCompression).Open();
            s.Write(data);
        }
        Record("data.pkl", p.ToArray());
        for (int i = 0; i < tensors.Count; i++) Record("data/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), tensors[i].Bytes);
        Record("version", "3\n"u8.ToArray());
    }
}
