using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Deltas;

/// <summary>SHA-256 fingerprints of a model's weights, independent of how they are sharded.
/// <para>Structure fingerprint: SHA-256 over, for every tensor in ordinal name order, the UTF-8 bytes of
/// <c>name 0x00 dtype 0x00 shape 0x0A</c> (dtype as in the safetensors header, shape as <c>[d0,d1]</c>).</para>
/// <para>Full fingerprint: the same records with the 32-byte SHA-256 of the tensor's raw bytes appended after the shape
/// (before 0x0A). Tensor digests are computed while the tensors are streamed for other work
/// (<see cref="Begin"/>/<see cref="Append"/>), and the tensors nobody read are hashed by <see cref="Complete"/>.</para></summary>
public sealed class ModelFingerprint
{
    private readonly Dictionary<string, byte[]> _digests = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IncrementalHash> _open = new(StringComparer.Ordinal);

    /// <summary>Starts hashing a tensor that is about to be read in order from its first byte; null when it is already
    /// being or has been hashed (a tensor read twice is hashed once).</summary>
    public IncrementalHash? Begin(string tensorName)
    {
        if (_digests.ContainsKey(tensorName) || _open.ContainsKey(tensorName)) return null;
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        _open[tensorName] = hash;
        return hash;
    }

    /// <summary>Ends a tensor started with <see cref="Begin"/> (all its bytes were appended, in order).</summary>
    public void End(string tensorName)
    {
        if (!_open.Remove(tensorName, out var hash)) return;
        _digests[tensorName] = hash.GetHashAndReset();
        hash.Dispose();
    }

    /// <summary>Hashes the tensors of <paramref name="checkpoint"/> not seen yet and returns the full fingerprint (hex).</summary>
    public string Complete(ModelCheckpoint checkpoint, CancellationToken ct = default)
    {
        var buffer = new byte[4 << 20];
        foreach (var name in checkpoint.TensorNames)
        {
            if (_digests.ContainsKey(name)) continue;
            ct.ThrowIfCancellationRequested();
            checkpoint.TryGetTensor(name, out var info, out var file);
            _open.Remove(name, out var partial);
            partial?.Dispose();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (long offset = 0; offset < info.ByteLength; offset += buffer.Length)
            {
                int n = (int)Math.Min(buffer.Length, info.ByteLength - offset);
                file.ReadTensorRange(info, offset, buffer.AsSpan(0, n));
                hash.AppendData(buffer, 0, n);
            }
            _digests[name] = hash.GetHashAndReset();
        }
        return Combine(checkpoint, _digests);
    }

    /// <summary>The structure fingerprint (names, dtypes, shapes; no tensor bytes are read).</summary>
    public static string Structure(ModelCheckpoint checkpoint) => Combine(checkpoint, null);

    /// <summary>The full fingerprint of a model directory (reads every tensor once).</summary>
    public static string Compute(string directory, CancellationToken ct = default)
    {
        using var checkpoint = ModelCheckpoint.Open(directory);
        return new ModelFingerprint().Complete(checkpoint, ct);
    }

    private static string Combine(ModelCheckpoint checkpoint, Dictionary<string, byte[]>? digests)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in checkpoint.TensorNames.Order(StringComparer.Ordinal))
        {
            checkpoint.TryGetTensor(name, out var info, out _);
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}\0{info.Dtype.HeaderName()}\0[{string.Join(",", info.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]"));
            if (digests is not null) hash.AppendData(digests[name]);
            hash.AppendData("\n"u8);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
